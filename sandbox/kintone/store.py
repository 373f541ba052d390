"""In-memory record storage of the kintone domain, with unique indexes and rollback.

Records are immutable :class:`StoredRecord` objects; a write replaces one. Every change made
inside :meth:`Domain.transaction` is journaled, so a failing bulk call (or a failing
request of a bulkRequest) puts everything back: kintone's all-or-nothing writes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sandbox.kintone.schema import APPS, USERS, AppDef
from sandbox.kintone.values import render_value

__all__ = ["AppStore", "Domain", "StoredRecord", "render_record"]


@dataclass(frozen=True)
class StoredRecord:
    """One record as stored.

    Attributes:
        id: Record id (also its record number: these apps have no app code).
        revision: Starts at 1, +1 on every update.
        values: User field code → stored value (see :mod:`sandbox.kintone.values`).
        created_at: CREATED_TIME, ``YYYY-MM-DDTHH:MM:00Z``.
        updated_at: UPDATED_TIME.
        creator: User code of CREATOR.
        modifier: User code of MODIFIER.
    """

    id: int
    revision: int
    values: dict[str, Any]
    created_at: str
    updated_at: str
    creator: str
    modifier: str


def _entity(code: str) -> dict[str, str]:
    return {"code": code, "name": USERS.get(code, code)}


def render_record(app: AppDef, rec: StoredRecord, fields: list[str] | None = None
                  ) -> dict[str, Any]:
    """The record in kintone's JSON (``{code: {"type", "value"}}``), optionally only ``fields``."""
    out: dict[str, Any] = {}
    wanted = set(fields) if fields else None
    for code, f in app.fields.items():
        if wanted is not None and code not in wanted:
            continue
        if f.type in ("__ID__", "RECORD_NUMBER"):
            value: Any = str(rec.id)
        elif f.type == "__REVISION__":
            value = str(rec.revision)
        elif f.type == "CREATED_TIME":
            value = rec.created_at
        elif f.type == "UPDATED_TIME":
            value = rec.updated_at
        elif f.type == "CREATOR":
            value = _entity(rec.creator)
        elif f.type == "MODIFIER":
            value = _entity(rec.modifier)
        else:
            value = render_value(f, rec.values.get(code))
        out[code] = {"type": f.type, "value": value}
    return out


class AppStore:
    """The records of one app, by id, with an index per unique field."""

    def __init__(self, app: AppDef) -> None:
        self.app = app
        self.records: dict[int, StoredRecord] = {}
        self.next_id = 1
        self.unique_codes = [c for c, f in app.fields.items() if f.unique]
        self._unique: dict[str, dict[str, int]] = {c: {} for c in self.unique_codes}
        self._journal: list[tuple[str, Any, Any]] | None = None

    def __len__(self) -> int:
        return len(self.records)

    def get(self, record_id: int) -> StoredRecord | None:
        """The record with this id, if any."""
        return self.records.get(record_id)

    def find_unique(self, code: str, value: str) -> StoredRecord | None:
        """The record whose unique field ``code`` equals ``value``."""
        record_id = self._unique.get(code, {}).get(value)
        return None if record_id is None else self.records.get(record_id)

    def allocate_id(self) -> int:
        """A new record id (ids are never reused, as in kintone)."""
        if self._journal is not None:
            self._journal.append(("next_id", self.next_id, None))
        record_id = self.next_id
        self.next_id += 1
        return record_id

    def put(self, rec: StoredRecord) -> None:
        """Insert or replace a record, keeping the unique indexes in step."""
        prev = self.records.get(rec.id)
        if self._journal is not None:
            self._journal.append(("put", rec.id, prev))
        self._set(rec.id, prev, rec)

    def remove(self, record_id: int) -> StoredRecord | None:
        """Delete a record; returns what was there."""
        prev = self.records.get(record_id)
        if prev is not None:
            if self._journal is not None:
                self._journal.append(("put", record_id, prev))
            self._set(record_id, prev, None)
        return prev

    def _set(self, record_id: int, prev: StoredRecord | None, new: StoredRecord | None) -> None:
        for code in self.unique_codes:
            index = self._unique[code]
            old = prev.values.get(code) if prev is not None else None
            if old and index.get(old) == record_id:
                del index[old]
            if new is not None and new.values.get(code):
                index[new.values[code]] = record_id
        if new is None:
            self.records.pop(record_id, None)
        else:
            self.records[record_id] = new

    def begin(self) -> None:
        """Start journaling changes."""
        self._journal = []

    def commit(self) -> None:
        """Forget the journal: the changes stay."""
        self._journal = None

    def rollback(self) -> None:
        """Undo every change since :meth:`begin`."""
        journal, self._journal = self._journal or [], None
        for kind, key, prev in reversed(journal):
            if kind == "next_id":
                self.next_id = key
            else:
                self._set(key, self.records.get(key), prev)


@dataclass
class Domain:
    """All apps of the emulated domain, one lock for every read and write.

    Attributes:
        stores: App id → its records.
        next_row_id: The next subtable row id (domain-wide, like kintone's).
    """

    stores: dict[int, AppStore] = field(default_factory=lambda: {
        app_id: AppStore(app) for app_id, app in APPS.items()})
    next_row_id: int = 1
    lock: threading.RLock = field(default_factory=threading.RLock)
    _depth: int = 0

    def store(self, app_id: int) -> AppStore | None:
        """The store of an app, ``None`` when no such app exists."""
        return self.stores.get(app_id)

    def new_row_id(self) -> int:
        """A new subtable row id."""
        row_id = self.next_row_id
        self.next_row_id += 1
        return row_id

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: an exception inside undoes every change to every app.

        Nested transactions join the outermost one (a bulkRequest holds its requests').
        """
        with self.lock:
            outer = self._depth == 0
            if outer:
                for store in self.stores.values():
                    store.begin()
            self._depth += 1
            try:
                yield
            except BaseException:
                if outer:
                    for store in self.stores.values():
                        store.rollback()
                raise
            finally:
                self._depth -= 1
            if outer:
                for store in self.stores.values():
                    store.commit()
