"""Running a parsed SOQL query against the stores, and the query cursors behind paging.

Query semantics live in :mod:`.binding`. Paging [C: REST API Developer Guide, "Query"]:

* results come in batches (default and maximum 2000, minimum 200, set by the
  ``Sforce-Query-Options: batchSize=n`` header); the rest are fetched through a root-relative
  ``nextRecordsUrl`` ``/services/data/vXX.X/query/<locator>-<position>``; a locator expires
  after 15 minutes unused (INVALID_QUERY_LOCATOR) [S].
"""

from __future__ import annotations

import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sandbox.salesforce.binding import Binder, Bound, ParentField, sort_key
from sandbox.salesforce.ids import make_id
from sandbox.salesforce.schema import FieldDef, object_def
from sandbox.salesforce.soql import SoqlError, parse
from sandbox.salesforce.store import Key, ObjectStore

__all__ = ["Cursor", "QueryEngine"]

Record = dict[str, Any]
CURSOR_IDLE_S = 15 * 60


class _Keys:
    """Matching keys: seeded indices (compact) followed by live ids."""

    def __init__(self, seeded: Sequence[int], live: list[Key]):
        self.seeded, self.live = seeded, live

    def __len__(self) -> int:
        return len(self.seeded) + len(self.live)

    def window(self, start: int, stop: int) -> list[Key]:
        n = len(self.seeded)
        out: list[Key] = list(self.seeded[start:min(stop, n)]) if start < n else []
        if stop > n:
            out.extend(self.live[max(start - n, 0):stop - n])
        return out


@dataclass
class Cursor:
    """A server-side query result that ``nextRecordsUrl`` pages through."""

    locator: str
    store: ObjectStore
    fields: list[FieldDef]
    keys: _Keys
    endpoint: str
    touched: float = field(default_factory=time.monotonic)
    parents: list[ParentField] = field(default_factory=list)


class QueryEngine:
    """Runs queries for an org and keeps their cursors.

    Args:
        stores: Object name (lower case) to store.
        today: Current date, for date literals.
    """

    MAX_CURSORS = 200

    def __init__(self, stores: dict[str, ObjectStore], today: Callable[[], date]):
        self.stores = stores
        self.today = today
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._locators = 0

    def run(self, text: str, *, include_deleted: bool, version: str, endpoint: str,
            batch_size: int) -> dict[str, Any]:
        """The first response body of a query.

        Raises:
            SoqlError: for anything Salesforce would refuse.
        """
        q = parse(text)
        odef = object_def(q.sobject)
        if odef is None or odef.name.lower() not in self.stores:
            pos = text.find(q.sobject) + 1
            raise SoqlError(
                "INVALID_TYPE",
                f"\n{text}\n{' ' * (pos - 1)}^\nERROR at Row:1:Column:{pos}\nsObject type "
                f"'{q.sobject}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name. Please reference "
                "your WSDL or the describe call for the appropriate names.")
        bound = Binder(text, q, odef, self.today()).bind()
        store = self.stores[odef.name.lower()]
        keys = self._match(store, bound, include_deleted)
        start = q.offset or 0
        stop = len(keys) if q.limit is None else min(len(keys), start + q.limit)
        if start or stop < len(keys):
            keys = _Keys([], keys.window(start, stop))
        if q.count:
            return {"totalSize": len(keys), "done": True, "records": []}
        if q.count_field is not None:
            return {"totalSize": 1, "done": True, "records": [
                {"attributes": {"type": "AggregateResult"}, "expr0": len(keys)}]}
        self._locators += 1
        cursor = Cursor(make_id("01g", self._locators), store, bound.fields, keys, endpoint,
                        parents=bound.parents)
        self.cursors[cursor.locator] = cursor
        while len(self.cursors) > self.MAX_CURSORS:
            self.cursors.popitem(last=False)
        return self.page(cursor, 0, version, batch_size)

    def more(self, locator: str, position: int, *, version: str,
             batch_size: int) -> dict[str, Any]:
        """A later page of a cursor.

        Raises:
            SoqlError: INVALID_QUERY_LOCATOR for an unknown or expired locator.
        """
        cursor = self.cursors.get(locator)
        now = time.monotonic()
        if cursor is None or now - cursor.touched > CURSOR_IDLE_S or position > len(cursor.keys):
            raise SoqlError("INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor.touched = now
        self.cursors.move_to_end(locator)
        return self.page(cursor, position, version, batch_size)

    def page(self, cursor: Cursor, start: int, version: str, batch_size: int) -> dict[str, Any]:
        total = len(cursor.keys)
        stop = min(total, start + batch_size)
        records = []
        for key in cursor.keys.window(start, stop):
            record = cursor.store.by_key(key)
            out = self.render(cursor.store, record, cursor.fields, version)
            if cursor.parents:
                self._add_parents(out, record, cursor.parents, version)
            records.append(out)
        body: dict[str, Any] = {"totalSize": total, "done": stop >= total}
        if stop < total:
            body["nextRecordsUrl"] = (
                f"/services/data/v{version}/{cursor.endpoint}/{cursor.locator}-{stop}")
        body["records"] = records
        return body

    @staticmethod
    def render(store: ObjectStore, record: Record, fields: Iterable[FieldDef],
               version: str) -> dict[str, Any]:
        name = store.odef.name
        out: dict[str, Any] = {"attributes": {
            "type": name, "url": f"/services/data/v{version}/sobjects/{name}/{record['Id']}"}}
        for fd in fields:
            out[fd.name] = record.get(fd.name)
        return out

    def _add_parents(self, out: dict[str, Any], record: Record,
                     parents: list[ParentField], version: str) -> None:
        """Nest the selected parent fields into a rendered record, as Salesforce does:
        ``"Contact": {"attributes": ..., "Email": ...}``, or null for an empty lookup."""
        by_lookup: dict[str, list[ParentField]] = {}
        for pf in parents:
            by_lookup.setdefault(pf.lookup.name, []).append(pf)
        for lookup, selected in by_lookup.items():
            target = self.stores.get(selected[0].target.name.lower())
            parent_id = record.get(lookup)
            parent = target.get(str(parent_id)) if target is not None and parent_id else None
            if target is None or parent is None:
                out[selected[0].relationship] = None
            else:
                out[selected[0].relationship] = self.render(
                    target, parent, [pf.field for pf in selected], version)

    def _match(self, store: ObjectStore, bound: Bound, include_deleted: bool) -> _Keys:
        natural = all(not desc and fd.name in ("SystemModstamp", "Id") for fd, desc, _ in
                      bound.order) and (not bound.order or bound.order[0][0].name ==
                                        "SystemModstamp")
        stamp, strict = bound.lower_stamp if bound.lower_stamp else (None, False)
        if bound.only_stamp and natural:
            # Incremental reads: no record needs generating to know which ones match.
            seeded, live = store.count_range(stamp, strict, include_deleted)
            return _Keys(seeded, list(live))
        pred = bound.predicate
        matched: list[tuple[Key, Record]] = []
        for key, record in store.scan(from_stamp=stamp, strict=strict,
                                      include_deleted=include_deleted):
            if pred is None or pred(record):
                matched.append((key, {fd.name: record.get(fd.name) for fd, _, _ in bound.order}
                                if bound.order and not natural else {}))
        if bound.order and not natural:
            for fd, desc, nulls_last in reversed(bound.order):
                kf = sort_key(fd, desc, nulls_last)
                matched.sort(key=_by_record(kf), reverse=desc)
        seeded_part: array[int] = array("q")
        rest: list[Key] = []
        for key, _ in matched:
            if isinstance(key, int) and not rest:
                seeded_part.append(key)
            else:
                rest.append(key)
        return _Keys(seeded_part, rest)


def _by_record(key: Callable[[Record], Any]) -> Callable[[tuple[Key, Record]], Any]:
    return lambda pair: key(pair[1])
