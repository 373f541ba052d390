"""Incremental reads through the CRM search API, by each object's last-modified date.

The search API returns at most 10,000 results per query, and its ``after`` is an offset:
paging a window of more than 10,000 changes fails with a 400, and a record edited while a
window is being paged leaves it and shifts every later record one place back, so one of
them is never seen. So no query here is ever paged. A read covers the window
``(high-water mark, now - index_lag]`` and walks it in keyset slices: each query asks for
the first ``page_size`` records modified after the slice's lower edge, ascending, and the
edge then moves to the last *complete* instant of that answer. The window is thereby split
wherever it would overflow, into as many slices as it needs, and no query's results ever
reach 10,000.

Ties: records of the instant at the end of a full answer may continue past it, so they are
left for the next slice, which starts at that instant (no record is taken twice). When a
whole answer shares one instant (an import, a bulk edit), that instant is walked by record
id instead (``lastmodifieddate = t AND hs_object_id > last id``, sorted by id) before the
window moves on. The high-water mark is therefore ``(instant, id)``: ``id`` is ``None``
once the instant is complete.

Several object types in one stream (engagements: calls, meetings, notes, emails) are
merged: a record is emitted only once every type has been read up to it, so pages never go
back in time. The state keeps one mark per type, so a page's state resumes right after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.hubspot.api import HubSpotApi
from connectors.sdk import Page, ProtocolError
from connectors.sdk.types import JSON

__all__ = ["ObjectRead", "read_objects"]

_ALL = 1 << 62
"""An id above every record id: ``(t, _ALL)`` means every record at instant ``t``."""

Key = tuple[int, int]


@dataclass(frozen=True)
class ObjectRead:
    """One object type a stream reads.

    Attributes:
        name: Object type (``contacts``).
        cursor: Its last-modified property (``lastmodifieddate`` for contacts,
            ``hs_lastmodifieddate`` for the others).
        properties: Properties to read.
        label: Put in each record as ``engagement_type`` when set.
    """

    name: str
    cursor: str
    properties: tuple[str, ...]
    label: str | None = None


def to_ms(value: Any) -> int:
    """Epoch milliseconds of a HubSpot datetime value (ISO-8601 or ms digits)."""
    text = str(value)
    if text.isdigit():
        return int(text)
    return round(datetime.fromisoformat(text).timestamp() * 1000)


class _Slices:
    """The keyset walk over one object type's window."""

    def __init__(self, api: HubSpotApi, spec: ObjectRead, mark: Key, end_ms: int, limit: int):
        self.api, self.spec, self.end_ms, self.limit = api, spec, end_ms, limit
        self.mark = mark          # everything at or before it was emitted
        self.bound = mark         # everything at or before it is emitted or buffered
        self.buffer: list[tuple[Key, JSON]] = []
        self.done = mark[0] >= end_ms

    def _query(self, filters: list[JSON], sort: str) -> list[tuple[Key, JSON]]:
        raw = self.api.search(self.spec.name, filters, sort, self.spec.properties, self.limit)
        out = []
        for record in raw:
            props = record.get("properties") or {}
            try:
                key = (to_ms(props[self.spec.cursor]), int(record["id"]))
            except (KeyError, TypeError, ValueError):
                raise ProtocolError(f"HubSpot search of {self.spec.name}: a result without "
                                    f"an id or {self.spec.cursor}") from None
            flat: JSON = {"id": str(record["id"]), **props}
            if self.spec.label:
                flat["engagement_type"] = self.spec.label
            out.append((key, flat))
        out.sort(key=lambda item: item[0])
        return out

    def fill(self) -> None:
        """Fetch the next slice into the buffer and move :attr:`bound`."""
        ts, last_id = self.bound
        cursor = self.spec.cursor
        if last_id < _ALL:  # inside one instant: walk it by id
            found = self._query([{"propertyName": cursor, "operator": "EQ", "value": str(ts)},
                                 {"propertyName": "hs_object_id", "operator": "GT",
                                  "value": str(last_id)}], "hs_object_id")
            self.buffer += found
            full = len(found) >= self.limit
            self.bound = (ts, found[-1][0][1]) if full else (ts, _ALL)
            return
        found = self._query([{"propertyName": cursor, "operator": "GT", "value": str(ts)},
                             {"propertyName": cursor, "operator": "LTE",
                              "value": str(self.end_ms)}], cursor)
        if len(found) < self.limit:
            self.buffer += found
            self.bound, self.done = (self.end_ms, _ALL), True
            return
        last_instant = found[-1][0][0]
        complete = [item for item in found if item[0][0] < last_instant]
        if complete:
            self.buffer += complete
            self.bound = (complete[-1][0][0], _ALL)
        else:
            self.bound = (last_instant, 0)

    def take(self, upto: Key) -> list[tuple[Key, JSON]]:
        """Remove and return the buffered records at or before ``upto``; move the mark."""
        taken = [item for item in self.buffer if item[0] <= upto]
        self.buffer = [item for item in self.buffer if item[0] > upto]
        self.mark = min(self.bound, upto)
        return taken


def _mark(state: Mapping[str, Any] | None, name: str) -> Key:
    value = (state or {}).get(name)
    if not isinstance(value, list) or len(value) != 2:
        return (0, _ALL)
    ts, last_id = value
    return (int(ts), _ALL if last_id is None else int(last_id))


def _state(slices: Sequence[_Slices]) -> JSON:
    return {s.spec.name: [s.mark[0], None if s.mark[1] >= _ALL else s.mark[1]] for s in slices}


def read_objects(api: HubSpotApi, specs: Sequence[ObjectRead], state: Mapping[str, Any] | None,
                 *, end_ms: int, page_size: int,
                 enrich: Callable[[list[JSON]], list[JSON]] | None = None) -> Iterator[Page]:
    """Records of ``specs`` modified after ``state`` and up to ``end_ms``, oldest first.

    Args:
        api: The portal.
        specs: Object types merged into one stream.
        state: A page state from an earlier read, or None for everything.
        end_ms: The window's upper edge (now minus the search index lag).
        page_size: Records per search query (at most 200).
        enrich: Adds data to a page's records in a few batch calls (associations).
    """
    slices = [_Slices(api, s, _mark(state, s.name), end_ms, page_size) for s in specs]
    last_state = _state(slices) if state else None
    seen: set[tuple[str, Key]] = set()
    while True:
        for s in slices:
            while not s.buffer and not s.done:
                s.fill()
        upto = min(s.bound for s in slices)
        batch: list[tuple[Key, str, JSON]] = []
        for s in slices:
            for key, record in s.take(upto):
                if (s.spec.name, key) not in seen:  # guards against a vendor repeating one
                    seen.add((s.spec.name, key))
                    batch.append((key, s.spec.name, record))
        finished = all(s.done and not s.buffer for s in slices)
        if batch:
            batch.sort(key=lambda item: (item[0][0], item[1], item[0][1]))
            records = [record for _, _, record in batch]
            last_state = _state(slices)
            yield Page(records=enrich(records) if enrich else records, state=last_state)
        if finished:
            break
    final = _state(slices)
    if final != last_state:
        yield Page(records=[], state=final)
