"""Record storage for one sObject type, with seeded records generated on demand.

A million seeded leads as Python dicts would take gigabytes, so seeded records are not
stored: record ``i`` is regenerated from the deterministic seed whenever it is needed, and
only records created or changed through the API (or the inspection routes) are kept.

Natural order is ``(SystemModstamp, Id)``. Seeded record ``i`` has the ``i``-th timestamp of
a fixed window, strictly increasing, and the ``i``-th id; every later write stamps the
current time, never earlier than the window's end or the previous stamp. So the natural
order is "untouched seeded records by index, then live records by stamp", and an incremental
query (``SystemModstamp >= t``) starts with arithmetic, not a scan.
"""

from __future__ import annotations

import bisect
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sandbox.salesforce.ids import POD, counter_of, make_id
from sandbox.salesforce.schema import ObjectDef

__all__ = ["SEED_END", "SEED_START", "ObjectStore", "SeedSource", "email_key", "format_ts",
           "parse_ts"]

Record = dict[str, Any]
Key = int | str
"""A seeded record's index, or a live record's id."""

# Seeded stamps spread over the year before sandbox.seed's anchor, where its people's
# created_at dates fall too.
SEED_END = datetime(2026, 11, 1, tzinfo=UTC)
SEED_START = SEED_END - timedelta(days=365)
_START_MS = int(SEED_START.timestamp() * 1000)
_SPAN_MS = int((SEED_END - SEED_START).total_seconds() * 1000)


def email_key(email: object) -> str:
    """An Email as the duplicate rule compares it: case and surrounding spaces ignored."""
    return str(email or "").strip().casefold()


def format_ts(when: datetime) -> str:
    """Salesforce's JSON datetime: ``2024-01-01T00:00:00.000+0000``."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def parse_ts(text: str) -> datetime:
    """Inverse of :func:`format_ts` (also accepts ``Z`` and ``+00:00``)."""
    return datetime.fromisoformat(text)  # 3.11 reads "+0000" and "Z" too


def _ms_ts(ms: int) -> str:
    return format_ts(datetime.fromtimestamp(ms / 1000, tz=UTC))


class SeedSource(Protocol):
    """Deterministic seeded records of one object: ``count`` of them, by index."""

    @property
    def count(self) -> int:
        """How many seeded records there are."""
        ...

    def rows(self, start: int, stop: int) -> list[Record]:
        """Field values of records ``start..stop-1``; the store adds ``Id``, the system
        timestamps and ``IsDeleted``. A ``CreatedDate`` later than the record's stamp is
        pulled back to it."""
        ...


class ObjectStore:
    """Records of one object: seeded (regenerated) plus live (stored).

    Args:
        odef: The object's definition.
        seed: Seeded records, or None for an empty object.
        clock: Current time (injectable so tests can move it).
    """

    CHUNK = 500

    def __init__(self, odef: ObjectDef, seed: SeedSource | None,
                 clock: Callable[[], datetime]):
        self.odef = odef
        self.seed = seed
        self.seeded = seed.count if seed else 0
        self._clock = clock
        self._moved: set[int] = set()
        self._live: dict[str, Record] = {}
        # Live records by their Email, normalised as the duplicate rule compares it: the rule
        # asks on every create and update, and a scan of every live record made a load of N
        # leads cost N² / 2 comparisons.
        self._emails: dict[str, set[str]] = {}
        self._order: list[tuple[str, str]] = []
        self._next_counter = self.seeded + 1
        self._last_stamp = _ms_ts(_START_MS + _SPAN_MS)
        self._cache: OrderedDict[int, list[Record]] = OrderedDict()

    # -- identity and time -------------------------------------------------------------
    def seeded_stamp(self, index: int) -> str:
        return _ms_ts(_START_MS + index * _SPAN_MS // max(self.seeded, 1))

    def seeded_id(self, index: int) -> str:
        return make_id(self.odef.key_prefix, index + 1)

    def new_id(self) -> str:
        record_id = make_id(self.odef.key_prefix, self._next_counter)
        self._next_counter += 1
        return record_id

    def stamp(self) -> str:
        """A fresh SystemModstamp: now, but strictly after every stamp issued before."""
        now = format_ts(self._clock())
        if now <= self._last_stamp:
            now = format_ts(parse_ts(self._last_stamp) + timedelta(milliseconds=1))
        self._last_stamp = now
        return now

    def seeded_index_from(self, stamp: str, *, strict: bool = False) -> int:
        """The first seeded index whose stamp is >= ``stamp`` (> when ``strict``)."""
        ms = int(parse_ts(stamp).timestamp() * 1000) + (1 if strict else 0)
        if ms <= _START_MS:
            return 0
        # Smallest i with floor(i * span / n) >= ms - start, i.e. i >= (ms-start) * n / span.
        i = -(-(ms - _START_MS) * self.seeded // _SPAN_MS)
        return min(i, self.seeded)

    # -- reading -----------------------------------------------------------------------
    def _seeded_record(self, index: int) -> Record:
        assert self.seed is not None
        base = index - index % self.CHUNK
        chunk = self._cache.get(base)
        if chunk is None:
            chunk = self._complete(base, self.seed.rows(base, min(base + self.CHUNK, self.seeded)))
            self._cache[base] = chunk
            if len(self._cache) > 64:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(base)
        return dict(chunk[index - base])

    def _complete(self, base: int, rows: list[Record]) -> list[Record]:
        out = []
        blank = {fd.name: None for fd in self.odef.fields}
        for offset, row in enumerate(rows):
            index = base + offset
            stamp = self.seeded_stamp(index)
            created = row.get("CreatedDate") or stamp
            record = {**blank, **row}
            record.update(Id=self.seeded_id(index), IsDeleted=False,
                          CreatedDate=min(created, stamp), LastModifiedDate=stamp,
                          SystemModstamp=stamp)
            out.append(record)
        return out

    def key_of(self, record_id: str) -> Key | None:
        """The key of the record with this 18-character id (deleted ones included)."""
        if record_id in self._live:
            return record_id
        if record_id[:3] != self.odef.key_prefix or record_id[3:6] != POD + "0":
            return None
        index = counter_of(record_id) - 1
        if 0 <= index < self.seeded and index not in self._moved:
            return index
        return None

    def by_key(self, key: Key) -> Record:
        """The record behind a key (a fresh copy for seeded records: do not mutate)."""
        return self._live[key] if isinstance(key, str) else self._seeded_record(key)

    def get(self, record_id: str) -> Record | None:
        """The record with this id, deleted or not, or None."""
        key = self.key_of(record_id)
        return None if key is None else self.by_key(key)

    def scan_keys(self, *, from_stamp: str | None = None, strict: bool = False,
                  include_deleted: bool = False) -> Iterator[Key]:
        """Keys in natural order, optionally starting at a SystemModstamp."""
        start = self.seeded_index_from(from_stamp, strict=strict) if from_stamp else 0
        moved = self._moved
        for index in range(start, self.seeded):
            if index not in moved:
                yield index
        live_start = 0
        if from_stamp:
            probe = (from_stamp, "\uffff") if strict else (from_stamp, "")
            live_start = bisect.bisect_left(self._order, probe)
        for _, record_id in self._order[live_start:]:
            if include_deleted or not self._live[record_id]["IsDeleted"]:
                yield record_id

    def scan(self, **kw: Any) -> Iterator[tuple[Key, Record]]:
        """``(key, record)`` in natural order; seeded records are generated in chunks."""
        for key in self.scan_keys(**kw):
            yield key, self.by_key(key)

    def count_range(self, from_stamp: str | None, strict: bool,
                    include_deleted: bool) -> tuple[array[int], list[str]]:
        """Keys from a stamp on, split into seeded indices and live ids (no generation)."""
        seeded: array[int] = array("q")
        live: list[str] = []
        for key in self.scan_keys(from_stamp=from_stamp, strict=strict,
                                  include_deleted=include_deleted):
            if isinstance(key, int):
                seeded.append(key)
            else:
                live.append(key)
        return seeded, live

    def live_count(self) -> int:
        return sum(1 for r in self._live.values() if not r["IsDeleted"])

    def __len__(self) -> int:
        return self.seeded - len(self._moved) + self.live_count()

    # -- writing -----------------------------------------------------------------------
    def _index(self, record: Record) -> None:
        bisect.insort(self._order, (record["SystemModstamp"], record["Id"]))
        if record.get("Email"):
            self._emails.setdefault(email_key(record["Email"]), set()).add(record["Id"])

    def _unindex(self, record: Record) -> None:
        pos = bisect.bisect_left(self._order, (record["SystemModstamp"], record["Id"]))
        if pos < len(self._order) and self._order[pos][1] == record["Id"]:
            del self._order[pos]
        if record.get("Email"):
            holders = self._emails.get(email_key(record["Email"]))
            if holders is not None:
                holders.discard(record["Id"])

    def put_new(self, record: Record) -> None:
        """Store a record created just now (its Id and stamps already set)."""
        self._live[record["Id"]] = record
        self._index(record)

    def replace(self, record_id: str, record: Record) -> None:
        """Store a changed record; a seeded record becomes live from now on."""
        key = self.key_of(record_id)
        if key is None:
            raise KeyError(record_id)
        if isinstance(key, int):
            self._moved.add(key)
        else:
            self._unindex(self._live[key])
        self._live[record_id] = record
        self._index(record)

    def forget(self, record_id: str) -> None:
        """Drop a live record (to roll back an allOrNone request)."""
        record = self._live.pop(record_id, None)
        if record is not None:
            self._unindex(record)

    def restore(self, key: Key, record: Record) -> None:
        """Put back what :meth:`replace` replaced (to roll back an allOrNone request)."""
        self.forget(record["Id"])
        if isinstance(key, int):
            self._moved.discard(key)
        else:
            self._live[key] = record
            self._index(record)

    def live_with_email(self, email: object) -> list[Record]:
        """Live records (deleted ones included) whose Email equals ``email`` as
        :func:`email_key` compares them."""
        key = email_key(email)
        found = (self._live.get(i) for i in self._emails.get(key, ()))
        # checked again: an entry outlives a record changed in place before its replace()
        return [r for r in found if r is not None and email_key(r.get("Email")) == key]

    def live_records(self) -> Iterator[Record]:
        """Records created or changed since seeding (deleted ones included)."""
        return iter(self._live.values())
