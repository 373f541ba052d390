"""Checks of what a read returns: schemas, keys, cursors, and incremental state."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import jsonschema

from connectors.sdk.base import Connector
from connectors.sdk.conformance.errors import ConformanceError
from connectors.sdk.conformance.reading import (
    FullRead,
    comparable_cursor,
    describe_key,
    key_of,
    read_all,
)

__all__ = [
    "check_cursor_monotonic",
    "check_has_records",
    "check_primary_keys",
    "check_records_match_schema",
    "check_resumable",
    "check_second_read_empty",
]

MAX_RESUME_POINTS = 5
"""Resuming is tried from at most this many pages (spread over the read) to bound calls."""


def _where(read: FullRead, page: int, index: int | None = None) -> str:
    at = f"stream {read.stream.name!r}, page {page}"
    return at if index is None else f"{at}, record {index}"


def check_has_records(read: FullRead) -> None:
    """The stream returned at least one record, so the other checks check something.

    Raises:
        ConformanceError: the full read was empty.
    """
    if not read.records:
        raise ConformanceError(f"stream {read.stream.name!r}: a full read returned no records "
                               f"({len(read.pages)} page(s)); seed the sandbox or recorded "
                               "responses so every stream has records to check")


def check_records_match_schema(read: FullRead) -> None:
    """The stream's schema is valid Draft 2020-12 and every record validates against it.

    Messages name the page, the record and the failing field, never the value (it may be
    personal data).

    Raises:
        ConformanceError: at the first invalid schema or record.
    """
    spec = read.stream
    try:
        jsonschema.Draft202012Validator.check_schema(spec.schema)
    except jsonschema.SchemaError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ConformanceError(f"stream {spec.name!r}: its schema is not valid JSON Schema "
                               f"(Draft 2020-12) at {path}: {exc.message}") from None
    validator = jsonschema.Draft202012Validator(spec.schema)
    for p, page in enumerate(read.pages):
        for i, record in enumerate(page.records):
            if not isinstance(record, dict):
                raise ConformanceError(f"{_where(read, p, i)} is a {type(record).__name__}, "
                                       "not a dict")
            errors = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
            if errors:
                first = errors[0]
                field = ".".join(str(x) for x in first.absolute_path) or "(record)"
                rule = f"{first.validator}: {first.validator_value!r}"
                raise ConformanceError(
                    f"{_where(read, p, i)} does not match the stream schema: field {field} "
                    f"fails {rule} ({len(errors)} error(s) in this record)")


def check_primary_keys(read: FullRead) -> None:
    """Every record has every primary-key field, non-null, and no key repeats in a read.

    Keys are compared as tuples of values, materialised in a dict: ``('a', 'b|c')`` and
    ``('a|b', 'c')`` are different records even though their joined strings match.

    Raises:
        ConformanceError: naming the page and record of the missing, null or repeated key.
    """
    spec = read.stream
    if not spec.primary_key:
        raise ConformanceError(f"stream {spec.name!r} declares no primary key")
    props = spec.fields
    missing_in_schema = [k for k in spec.primary_key if props and k not in props]
    if missing_in_schema:
        raise ConformanceError(f"stream {spec.name!r}: primary key field(s) "
                               f"{', '.join(missing_in_schema)} are not in the stream schema")
    seen: dict[tuple[Hashable, ...], tuple[int, int]] = {}
    for p, page in enumerate(read.pages):
        for i, record in enumerate(page.records):
            for field in spec.primary_key:
                if field not in record:
                    raise ConformanceError(f"{_where(read, p, i)} has no primary-key field "
                                           f"{field!r}")
                if record[field] is None or record[field] == "":
                    raise ConformanceError(f"{_where(read, p, i)} has primary-key field "
                                           f"{field!r} null or empty")
            key = key_of(spec, record)
            if key in seen:
                first_page, first_index = seen[key]
                raise ConformanceError(
                    f"{_where(read, p, i)} repeats primary key {describe_key(spec, key)} "
                    f"first seen on page {first_page}, record {first_index} (one full read of "
                    "an unchanging system must return each record once)")
            seen[key] = (p, i)


def check_cursor_monotonic(read: FullRead) -> None:
    """Every record has the cursor field, and no page goes back before an earlier page.

    Within a page records may come in any order; across pages, the smallest cursor of a page
    must not be older than the largest of the pages before it, or a resume from the earlier
    page's state would skip records. Datetimes compare as instants (``Z`` equals ``+00:00``).

    Raises:
        ConformanceError: a cursor is missing, null, not comparable, or goes backwards.
    """
    spec = read.stream
    cursor = spec.cursor_field
    if cursor is None:
        return
    if spec.fields and cursor not in spec.fields:
        raise ConformanceError(f"stream {spec.name!r}: cursor field {cursor!r} is not in the "
                               "stream schema")
    high: tuple[int, Any] | None = None
    high_at = (0, 0)
    for p, page in enumerate(read.pages):
        page_high: tuple[int, Any] | None = None
        page_high_at = (p, 0)
        for i, record in enumerate(page.records):
            if record.get(cursor) is None:
                raise ConformanceError(f"{_where(read, p, i)} has no value in cursor field "
                                       f"{cursor!r}")
            try:
                value = comparable_cursor(record[cursor])
                behind = high is not None and value < high
            except TypeError as exc:
                raise ConformanceError(f"{_where(read, p, i)}: cursor field {cursor!r}: "
                                       f"{exc}") from None
            if behind:
                raise ConformanceError(
                    f"{_where(read, p, i)}: cursor {cursor!r} = {record[cursor]!r} goes back "
                    f"before page {high_at[0]}, record {high_at[1]}; pages must come oldest "
                    "first")
            if page_high is None or value > page_high:
                page_high, page_high_at = value, (p, i)
        if page_high is not None and (high is None or page_high > high):
            high, high_at = page_high, page_high_at


def check_second_read_empty(connector: Connector, read: FullRead) -> None:
    """Reading again from the state of the last page returns no record.

    The system did not change in between, so anything returned is a duplicate delivery. A
    connector with a look-back window drops records at or before its saved high-water mark
    itself (by key and cursor), so the engine never sees a record twice.

    Raises:
        ConformanceError: the second read returned records.
    """
    spec = read.stream
    state = read.final_state
    if not state:
        raise ConformanceError(f"stream {spec.name!r}: the last page's state is empty, so a "
                               "next run would read everything again")
    again = read_all(connector, spec.name, state)
    records = again.records
    if records:
        keys = ", ".join(describe_key(spec, key_of(spec, r)) for r in records[:3])
        raise ConformanceError(
            f"stream {spec.name!r}: a second read from the saved state returned "
            f"{len(records)} record(s) again ({keys}{', ...' if len(records) > 3 else ''}); "
            "it must return only records changed since that state")


def _resume_points(read: FullRead) -> list[int]:
    candidates = [i for i in read.record_pages if i < len(read.pages) - 1]
    if len(candidates) <= MAX_RESUME_POINTS:
        return candidates
    step = len(candidates) / MAX_RESUME_POINTS
    return sorted({candidates[int(n * step)] for n in range(MAX_RESUME_POINTS)})


def check_resumable(connector: Connector, read: FullRead) -> None:
    """Reading from any page's state returns every record of the later pages and nothing older.

    A record from the earlier pages may come back only if its cursor is at or after the
    resume point (it changed again there); without a cursor field, none may.

    Raises:
        ConformanceError: a resumed read lost records or restarted before its state.
    """
    spec = read.stream
    for k in _resume_points(read):
        earlier = {key_of(spec, r) for page in read.pages[:k + 1] for r in page.records}
        later = {key_of(spec, r) for page in read.pages[k + 1:] for r in page.records}
        resumed = read_all(connector, spec.name, read.pages[k].state)
        got = {key_of(spec, r): r for r in resumed.records}
        lost = [key for key in later if key not in got]
        if lost:
            raise ConformanceError(
                f"stream {spec.name!r}: resuming from the state of page {k} lost "
                f"{len(lost)} record(s) of later pages (e.g. {describe_key(spec, lost[0])}); "
                "a page's state must point right after that page")
        boundary = _boundary(read, k)
        for key, record in got.items():
            if key not in earlier or key in later:
                continue
            if boundary is not None and spec.cursor_field is not None:
                try:
                    if comparable_cursor(record.get(spec.cursor_field)) >= boundary:
                        continue
                except TypeError:
                    pass
            raise ConformanceError(
                f"stream {spec.name!r}: resuming from the state of page {k} returned "
                f"{describe_key(spec, key)} again, a record of page {k} or before that has "
                "not changed since; the state must resume after its page, not restart")


def _boundary(read: FullRead, k: int) -> tuple[int, Any] | None:
    cursor = read.stream.cursor_field
    if cursor is None:
        return None
    values = []
    for page in read.pages[:k + 1]:
        for record in page.records:
            try:
                values.append(comparable_cursor(record.get(cursor)))
            except TypeError:
                continue
    return max(values) if values else None
