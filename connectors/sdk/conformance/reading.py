"""Materialised reads: every page and record held in lists, keys held as tuples.

Singer SDK's uniqueness check once compared generators, so it could never fail. Everything
here is a list or a tuple before anything is compared.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.sdk.base import Connector
from connectors.sdk.errors import ConnectorError
from connectors.sdk.types import JSON, Page, StreamSpec

__all__ = ["FullRead", "comparable_cursor", "key_of", "read_all"]

MAX_PAGES = 10_000
"""A read that yields more pages than this is treated as endless (a paginator loop)."""


@dataclass(frozen=True)
class FullRead:
    """Every page of one read of one stream, as lists.

    Attributes:
        stream: The stream's spec.
        pages: The pages in the order the connector yielded them.
        start_state: The state the read started from (None: a full read).
    """

    stream: StreamSpec
    pages: tuple[Page, ...]
    start_state: Mapping[str, Any] | None = None

    @property
    def records(self) -> list[JSON]:
        """Every record of every page, in order."""
        return [r for p in self.pages for r in p.records]

    @property
    def record_pages(self) -> list[int]:
        """Indexes of the pages that hold at least one record."""
        return [i for i, p in enumerate(self.pages) if p.records]

    @property
    def final_state(self) -> Mapping[str, Any] | None:
        """The state of the last page (the start state when there was none)."""
        return self.pages[-1].state if self.pages else self.start_state


def read_all(connector: Connector, stream: str,
             state: Mapping[str, Any] | None = None) -> FullRead:
    """Read ``stream`` to the end and keep every page.

    Raises:
        ConformanceError: the read raised, yielded something that is not a Page, or never ended.
    """
    from connectors.sdk.conformance.errors import ConformanceError

    spec = connector.stream(stream)
    pages: list[Page] = []
    where = f"{type(connector).__name__}.read({stream!r}, {'saved state' if state else 'None'})"
    try:
        for page in connector.read(stream, state):
            if not isinstance(page, Page):
                raise ConformanceError(f"{where} yielded a {type(page).__name__}, not a Page "
                                       f"(page {len(pages)})")
            if not isinstance(page.records, list):
                raise ConformanceError(f"{where}: page {len(pages)} holds records as a "
                                       f"{type(page.records).__name__}; use a list")
            pages.append(Page(records=list(page.records), state=dict(page.state),
                              deleted=list(page.deleted)))
            if len(pages) > MAX_PAGES:
                raise ConformanceError(f"{where} yielded more than {MAX_PAGES} pages: does the "
                                       "paginator stop when the vendor has no more?")
    except ConnectorError as exc:
        raise ConformanceError(f"{where} failed after {len(pages)} page(s): "
                               f"{type(exc).__name__}: {exc}") from exc
    return FullRead(stream=spec, pages=tuple(pages), start_state=state)


def _hashable(value: Any) -> Hashable:
    if isinstance(value, Hashable):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def key_of(spec: StreamSpec, record: Mapping[str, Any]) -> tuple[Hashable, ...]:
    """The record's primary key as a tuple of its values (never a joined string)."""
    return tuple(_hashable(record.get(k)) for k in spec.primary_key)


def comparable_cursor(value: Any) -> tuple[int, Any]:
    """A cursor value in a form that orders correctly: datetimes parsed, numbers as numbers.

    ISO-8601 strings in different offsets (``Z``, ``+0900``) compare by the instant they name.

    Raises:
        TypeError: the value is neither a number nor a string.
    """
    if isinstance(value, bool) or value is None:
        raise TypeError(f"cursor value {value!r} is not a number or a string")
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":" and "T" in text:
            text = text[:-2] + ":" + text[-2:]
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return (2, value)
        return (1, when if when.tzinfo else when.replace(tzinfo=UTC))
    raise TypeError(f"cursor value of type {type(value).__name__} is not a number or a string")


def describe_key(spec: StreamSpec, key: Sequence[Any]) -> str:
    """``id=42`` or ``(account, id)=('a', 1)`` for messages."""
    if len(spec.primary_key) == 1:
        return f"{spec.primary_key[0]}={key[0]!r}"
    return f"({', '.join(spec.primary_key)})={tuple(key)!r}"
