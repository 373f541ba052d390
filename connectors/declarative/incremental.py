"""Incremental reads in dlt's vocabulary: ``initial_value``, ``end_value``, ``lag``, and
boundary dedup by key.

The read state is kept by the engine, not the connector: ``{"cursor": <newest cursor seen,
ISO-8601 UTC>, "seen": [[id, cursor], ...]}``. The next read asks for records changed since
``cursor - lag`` (an overlap, because vendors commit late and clocks drift) and drops the
records it already delivered with the same id *and* the same modification time; a record
edited again has a new time and passes. ``seen`` only keeps the overlap window.

Example:
    >>> inc = DatetimeIncremental({"param_format": "%Y/%m/%d %H:%M:%S",
    ...                            "param_timezone": "+09:00"}, cursor_field="updated")
    >>> inc.since(None)
    '1970/01/01 09:00:00'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from connectors.declarative.registry import BuildContext, base_class, component
from connectors.sdk.errors import ConfigurationError, ProtocolError
from connectors.sdk.types import JSON

__all__ = ["DatetimeIncremental", "Incremental", "parse_tz"]

_EPOCH = "1970-01-01T00:00:00Z"


def parse_tz(text: str | None) -> timezone:
    """``UTC``, ``Z`` or ``+09:00`` as a fixed offset."""
    if not text or text in ("UTC", "Z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _iso(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


class Incremental:
    """Base class of incremental components; custom ones are ``Class(options, context)``."""

    def __init__(self, options: Mapping[str, Any], context: BuildContext | None = None,
                 *, cursor_field: str = "") -> None:
        self.options = dict(options)
        extras = context.extras if context is not None else {}
        self.cursor_field = cursor_field or str(extras.get("cursor_field", ""))

    def since(self, state: Mapping[str, Any] | None) -> str:
        """The value of ``{incremental.since}`` for a read resuming from ``state``."""
        raise NotImplementedError

    def advance(self, records: Sequence[JSON], state: Mapping[str, Any] | None,
                key: Callable[[JSON], str]) -> tuple[list[JSON], JSON]:
        """The records not delivered before, and the state after this page."""
        raise NotImplementedError


base_class("incremental", Incremental)


class DatetimeIncremental(Incremental):
    """A modification-time cursor (see the module docstring)."""

    def __init__(self, options: Mapping[str, Any], context: BuildContext | None = None,
                 *, cursor_field: str = "") -> None:
        super().__init__(options, context, cursor_field=cursor_field)
        self.record_format = str(self.options.get("record_format", "iso8601"))
        self.record_tz = parse_tz(self.options.get("record_timezone"))
        self.param_format = str(self.options["param_format"])
        self.param_tz = parse_tz(self.options.get("param_timezone"))
        self.lag = timedelta(seconds=float(self.options.get("lag_s", 0)))
        try:
            self.initial = self._parse_iso(str(self.options.get("initial_value", _EPOCH)))
            end = self.options.get("end_value")
            self.end = self._parse_iso(str(end)) if end else None
        except ValueError as exc:
            raise ConfigurationError(f"incremental: {exc}") from None

    def _parse_iso(self, text: str) -> datetime:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=self.record_tz)

    def parse_record(self, value: Any) -> datetime:
        """A record's cursor value as an aware datetime.

        Raises:
            ValueError: not in ``record_format``.
        """
        text = str(value).strip()
        if self.record_format == "iso8601":
            return self._parse_iso(text)
        moment = datetime.strptime(text, self.record_format)
        return moment if moment.tzinfo else moment.replace(tzinfo=self.record_tz)

    def _start(self, state: Mapping[str, Any] | None) -> datetime:
        cursor = (state or {}).get("cursor")
        if not cursor:
            return self.initial
        return max(self._parse_iso(str(cursor)) - self.lag, self.initial)

    def since(self, state: Mapping[str, Any] | None) -> str:
        moment = self._start(state).astimezone(self.param_tz)
        if self.param_format == "iso8601":
            return moment.isoformat()
        return moment.strftime(self.param_format)

    def advance(self, records: Sequence[JSON], state: Mapping[str, Any] | None,
                key: Callable[[JSON], str]) -> tuple[list[JSON], JSON]:
        state = state or {}
        seen = {(str(k), str(c)) for k, c in state.get("seen", [])}
        newest = self._parse_iso(str(state["cursor"])) if state.get("cursor") else None
        fresh: list[tuple[JSON, datetime, str]] = []
        for record in records:
            raw = record.get(self.cursor_field)
            try:
                moment = self.parse_record(raw)
            except (TypeError, ValueError):
                raise ProtocolError(f"a record has no readable {self.cursor_field!r} (expected "
                                    f"{self.record_format})") from None
            if self.end is not None and moment > self.end:
                continue
            ident = key(record)
            if (ident, _iso(moment)) in seen:
                continue
            fresh.append((record, moment, ident))
            if newest is None or moment > newest:
                newest = moment
        if newest is None:
            return [], dict(state)
        floor = newest - self.lag
        keep = {(k, c) for k, c in seen if self._parse_iso(c) >= floor}
        keep |= {(ident, _iso(m)) for _, m, ident in fresh if m >= floor}
        return [r for r, _, _ in fresh], {"cursor": _iso(newest),
                                          "seen": [list(p) for p in sorted(keep)]}


@component("incremental", "datetime")
def _datetime(spec: Mapping[str, Any], context: BuildContext) -> Incremental:
    return DatetimeIncremental(spec, context,
                               cursor_field=str(context.extras.get("cursor_field", "")))
