"""Repositories: one small class per table, each bound to one open connection.

Every method takes and returns batches; none is meant to be called once per record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, true, update

from renkei.clock import utcnow
from renkei.store import schema as t

JSONDict = dict[str, Any]


def _chunks(items: Sequence[Any], size: int = 900) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass
class HubRecord:
    """A golden record."""

    id: int
    entity: str
    data: JSONDict
    field_meta: dict[str, list[Any]]
    version: int = 1


@dataclass
class Link:
    """A system record ↔ hub record pair of one mapping, with its baseline."""

    mapping: str
    system_id: str
    record_id: int
    baseline: JSONDict
    system_modified: str | None = None
    id: int | None = None
    system_version: str | None = None


class Records:
    def __init__(self, conn: Connection):
        self.conn = conn

    def get_many(self, ids: Iterable[int]) -> dict[int, HubRecord]:
        out: dict[int, HubRecord] = {}
        idlist = sorted(set(ids))
        for chunk in _chunks(idlist):
            rows = self.conn.execute(
                select(t.records.c.id, t.records.c.entity, t.records.c.data,
                       t.records.c.field_meta, t.records.c.version)
                .where(t.records.c.id.in_(chunk)))
            for r in rows:
                out[r.id] = HubRecord(r.id, r.entity, dict(r.data), dict(r.field_meta), r.version)
        return out

    def insert_many(self, entity: str, items: Sequence[tuple[JSONDict, Mapping[str, list[Any]]]]) -> list[int]:
        if not items:
            return []
        now = utcnow()
        rows = [{"entity": entity, "data": data, "field_meta": dict(meta), "version": 1,
                 "created_at": now, "updated_at": now, "deleted": False} for data, meta in items]
        result = self.conn.execute(
            insert(t.records).returning(t.records.c.id, sort_by_parameter_order=True), rows)
        return [r.id for r in result]

    def update_many(self, items: Sequence[HubRecord]) -> None:
        if not items:
            return
        now = utcnow()
        self.conn.execute(
            update(t.records).where(t.records.c.id == bindparam("rid")).values(
                data=bindparam("d"), field_meta=bindparam("m"), version=bindparam("v"),
                updated_at=now),
            [{"rid": r.id, "d": r.data, "m": r.field_meta, "v": r.version} for r in items])

    def count(self, entity: str) -> int:
        return int(self.conn.execute(
            select(func.count()).select_from(t.records).where(t.records.c.entity == entity)
        ).scalar_one())

    def page(self, entity: str, *, after_id: int = 0, limit: int = 1000) -> list[HubRecord]:
        rows = self.conn.execute(
            select(t.records).where(and_(t.records.c.entity == entity, t.records.c.id > after_id))
            .order_by(t.records.c.id).limit(limit))
        return [HubRecord(r.id, r.entity, dict(r.data), dict(r.field_meta), r.version) for r in rows]


class MatchKeys:
    def __init__(self, conn: Connection):
        self.conn = conn

    def find(self, entity: str, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[int]]:
        """Record ids per (key name, normalised value), lowest id first."""
        by_name: dict[str, set[str]] = defaultdict(set)
        for name, value in pairs:
            by_name[name].add(value)
        out: dict[tuple[str, str], list[int]] = defaultdict(list)
        for name, values in by_name.items():
            for chunk in _chunks(sorted(values)):
                rows = self.conn.execute(
                    select(t.match_keys.c.key_value, t.match_keys.c.record_id)
                    .where(and_(t.match_keys.c.entity == entity, t.match_keys.c.key_name == name,
                                t.match_keys.c.key_value.in_(chunk)))
                    .order_by(t.match_keys.c.record_id))
                for r in rows:
                    out[(name, r.key_value)].append(r.record_id)
        return out

    def replace(self, entity: str, keys: Mapping[int, Sequence[tuple[str, str]]], *,
                names: Sequence[str]) -> None:
        """Set each record's keys called ``names`` to exactly the given ones.

        Keys with other names (defined by other mappings of the entity) are left alone.
        """
        ids = sorted(keys)
        for chunk in _chunks(ids):
            self.conn.execute(delete(t.match_keys).where(and_(
                t.match_keys.c.record_id.in_(chunk), t.match_keys.c.key_name.in_(list(names)))))
        rows = [{"entity": entity, "key_name": n, "key_value": v[:512], "record_id": rid}
                for rid in ids for n, v in dict.fromkeys(keys[rid])]
        if rows:
            self.conn.execute(insert(t.match_keys), rows)


class Links:
    def __init__(self, conn: Connection):
        self.conn = conn

    def _load(self, where: Any) -> list[Link]:
        rows = self.conn.execute(select(t.links).where(where))
        return [Link(r.mapping, r.system_id, r.record_id, dict(r.baseline), r.system_modified,
                     r.id, r.system_version)
                for r in rows]

    def by_system_ids(self, mapping: str, system_ids: Iterable[str]) -> dict[str, Link]:
        out: dict[str, Link] = {}
        for chunk in _chunks(sorted(set(system_ids))):
            for link in self._load(and_(t.links.c.mapping == mapping, t.links.c.system_id.in_(chunk))):
                out[link.system_id] = link
        return out

    def by_record_ids(self, mapping: str, record_ids: Iterable[int]) -> dict[int, Link]:
        out: dict[int, Link] = {}
        for chunk in _chunks(sorted(set(record_ids))):
            for link in self._load(and_(t.links.c.mapping == mapping, t.links.c.record_id.in_(chunk))):
                out[link.record_id] = link
        return out

    def insert_many(self, links: Sequence[Link]) -> None:
        if not links:
            return
        now = utcnow()
        self.conn.execute(insert(t.links), [
            {"mapping": k.mapping, "system_id": k.system_id, "record_id": k.record_id,
             "baseline": k.baseline, "system_modified": k.system_modified,
             "system_version": k.system_version, "updated_at": now}
            for k in links])

    def update_many(self, links: Sequence[Link]) -> None:
        if not links:
            return
        now = utcnow()
        self.conn.execute(
            update(t.links).where(and_(t.links.c.mapping == bindparam("m"),
                                       t.links.c.system_id == bindparam("s")))
            .values(baseline=bindparam("b"), system_modified=bindparam("sm"),
                    system_version=bindparam("sv"), updated_at=now),
            [{"m": k.mapping, "s": k.system_id, "b": k.baseline, "sm": k.system_modified,
              "sv": k.system_version} for k in links])

    def count(self, mapping: str) -> int:
        return int(self.conn.execute(
            select(func.count()).select_from(t.links).where(t.links.c.mapping == mapping)
        ).scalar_one())


@dataclass
class JournalEntry:
    seq: int
    record_id: int
    fields: list[str]
    source: str


class Journal:
    def __init__(self, conn: Connection):
        self.conn = conn

    def append_many(self, entity: str, entries: Sequence[tuple[int, Sequence[str], str]],
                    run_id: str | None) -> None:
        if not entries:
            return
        now = utcnow()
        self.conn.execute(insert(t.journal), [
            {"entity": entity, "record_id": rid, "fields": list(fields), "source": source,
             "run_id": run_id, "at": now} for rid, fields, source in entries])

    def read(self, entity: str, *, after: int, limit: int) -> list[JournalEntry]:
        rows = self.conn.execute(
            select(t.journal.c.seq, t.journal.c.record_id, t.journal.c.fields, t.journal.c.source)
            .where(and_(t.journal.c.entity == entity, t.journal.c.seq > after))
            .order_by(t.journal.c.seq).limit(limit))
        return [JournalEntry(r.seq, r.record_id, list(r.fields), r.source) for r in rows]

    def head(self, entity: str) -> int:
        return int(self.conn.execute(
            select(func.coalesce(func.max(t.journal.c.seq), 0)).where(t.journal.c.entity == entity)
        ).scalar_one())


class Cursors:
    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self, mapping: str, direction: str) -> JSONDict | None:
        row = self.conn.execute(select(t.cursors.c.state).where(and_(
            t.cursors.c.mapping == mapping, t.cursors.c.direction == direction))).first()
        return dict(row.state) if row else None

    def set(self, mapping: str, direction: str, state: Mapping[str, Any]) -> None:
        now = utcnow()
        done = self.conn.execute(update(t.cursors).where(and_(
            t.cursors.c.mapping == mapping, t.cursors.c.direction == direction))
            .values(state=dict(state), updated_at=now))
        if done.rowcount == 0:
            self.conn.execute(insert(t.cursors).values(
                mapping=mapping, direction=direction, state=dict(state), updated_at=now))


@dataclass
class DeadLetter:
    id: int
    mapping: str
    direction: str
    item_key: str
    record_id: int | None
    payload: Any
    category: str
    code: str | None
    message: str
    retriable: bool
    permanent: bool
    attempts: int
    last_failed_at: str
    run_id: str | None = None


@dataclass
class Failure:
    """One record that failed, to be written to the dead-letter table."""

    item_key: str
    category: str
    message: str
    code: str | None = None
    retriable: bool = False
    record_id: int | None = None
    payload: Any = None


@dataclass
class DeadLetters:
    conn: Connection
    max_attempts: int = field(default=8)

    def _rows(self, where: Any) -> list[DeadLetter]:
        rows = self.conn.execute(select(t.dead_letters).where(where).order_by(t.dead_letters.c.id))
        return [DeadLetter(r.id, r.mapping, r.direction, r.item_key, r.record_id, r.payload,
                           r.category, r.code, r.message, r.retriable, r.permanent, r.attempts,
                           r.last_failed_at, r.run_id) for r in rows]

    def open(self, mapping: str, direction: str) -> list[DeadLetter]:
        return self._rows(and_(t.dead_letters.c.mapping == mapping,
                               t.dead_letters.c.direction == direction,
                               t.dead_letters.c.resolved_at.is_(None)))

    def all_open(self) -> list[DeadLetter]:
        return self._rows(t.dead_letters.c.resolved_at.is_(None))

    def select(self, *, run_id: str | None = None, category: str | None = None,
               mapping: str | None = None, ids: Sequence[int] | None = None,
               open_only: bool = True) -> list[DeadLetter]:
        """Dead letters matching every given criterion (``renkei retry``'s selection)."""
        c = t.dead_letters.c
        conds: list[Any] = [c.resolved_at.is_(None)] if open_only else []
        conds += [col == v for col, v in ((c.run_id, run_id), (c.category, category),
                                          (c.mapping, mapping)) if v is not None]
        if ids is None:
            return self._rows(and_(true(), *conds))
        out: list[DeadLetter] = []
        for chunk in _chunks(sorted(set(ids))):
            out += self._rows(and_(c.id.in_(chunk), *conds))
        return out

    def record(self, mapping: str, direction: str, failures: Sequence[Failure],
               run_id: str | None) -> None:
        """Insert new dead letters or bump the attempt count of existing ones.

        A retriable failure that has failed ``max_attempts`` times becomes permanent.
        """
        if not failures:
            return
        now = utcnow()
        keys = [f.item_key for f in failures]
        existing: dict[str, tuple[int, int]] = {}
        for chunk in _chunks(keys):
            for r in self.conn.execute(
                    select(t.dead_letters.c.item_key, t.dead_letters.c.id, t.dead_letters.c.attempts)
                    .where(and_(t.dead_letters.c.mapping == mapping,
                                t.dead_letters.c.direction == direction,
                                t.dead_letters.c.item_key.in_(chunk)))):
                existing[r.item_key] = (r.id, r.attempts)
        new_rows, upd_rows = [], []
        for f in failures:
            row = {"category": f.category, "code": f.code, "message": f.message[:4000],
                   "retriable": f.retriable, "payload": f.payload, "record_id": f.record_id,
                   "last_failed_at": now, "run_id": run_id}
            if f.item_key in existing:
                did, attempts = existing[f.item_key]
                attempts += 1
                upd_rows.append({**row, "did": did, "attempts": attempts,
                                 "permanent": (not f.retriable) or attempts >= self.max_attempts})
            else:
                new_rows.append({**row, "mapping": mapping, "direction": direction,
                                 "item_key": f.item_key, "attempts": 1, "first_failed_at": now,
                                 "permanent": not f.retriable, "resolved_at": None})
        if new_rows:
            self.conn.execute(insert(t.dead_letters), new_rows)
        if upd_rows:
            self.conn.execute(
                update(t.dead_letters).where(t.dead_letters.c.id == bindparam("did")).values(
                    category=bindparam("category"), code=bindparam("code"),
                    message=bindparam("message"), retriable=bindparam("retriable"),
                    payload=bindparam("payload"), record_id=bindparam("record_id"),
                    last_failed_at=bindparam("last_failed_at"), run_id=bindparam("run_id"),
                    attempts=bindparam("attempts"), permanent=bindparam("permanent"),
                    resolved_at=None),
                upd_rows)

    def resolve(self, mapping: str, direction: str, item_keys: Iterable[str]) -> int:
        """Mark the dead letters of these items resolved; returns how many were open."""
        keys = sorted(set(item_keys))
        done = 0
        now = utcnow()
        for chunk in _chunks(keys):
            done += self.conn.execute(
                update(t.dead_letters).where(and_(
                    t.dead_letters.c.mapping == mapping, t.dead_letters.c.direction == direction,
                    t.dead_letters.c.item_key.in_(chunk), t.dead_letters.c.resolved_at.is_(None)))
                .values(resolved_at=now)).rowcount
        return done
