"""Repositories: one small class per table, each bound to one open connection.

Every method takes and returns batches; none is meant to be called once per record.

The engine's hot paths (records, links, journal and match keys of every page) send plain
driver SQL with the JSON already encoded by :mod:`renkei.store.codec`: SQLAlchemy Core's
per-row parameter and result processing cost more than the database's own work there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, true, update

from renkei.clock import utcnow
from renkei.store import codec
from renkei.store import schema as t

JSONDict = dict[str, Any]

ALL_FIELDS = "*"
"""``field_meta`` key whose ``[source, modified]`` stands for every field of the record that
has no entry of its own: a record created from one system record at one time stores one
pair, not one per field (no entity field can be called ``*``)."""


def _chunks(items: Sequence[Any], size: int = 900) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def placeholders(conn: Connection, n: int) -> str:
    """``n`` comma-separated driver placeholders (``?`` for sqlite3, ``%s`` for psycopg)."""
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * n)


def _insert(conn: Connection, table: str, columns: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows with driver SQL: ``executemany`` on SQLite (in process, one prepared
    statement); multi-row ``VALUES`` elsewhere, as PostgreSQL would otherwise parse and plan
    one statement per row."""
    if not rows:
        return
    width = len(rows[0])
    head = f"INSERT INTO {table} ({columns}) VALUES "
    if conn.dialect.paramstyle == "qmark":
        conn.exec_driver_sql(head + f"({placeholders(conn, width)})", list(rows))
        return
    one = f"({placeholders(conn, width)})"
    for chunk in _chunks(rows, 1000):
        conn.exec_driver_sql(head + ", ".join([one] * len(chunk)),
                             tuple(v for row in chunk for v in row))


def _json_reader(conn: Connection) -> Any:
    """How a JSON column read by driver SQL becomes a value: SQLite returns the text;
    psycopg has already decoded it (with the store's codec, see ``Store.open``)."""
    return codec.loads if conn.dialect.name == "sqlite" else _as_is


def _as_is(value: Any) -> Any:
    return value


@dataclass
class HubRecord:
    """A golden record."""

    id: int
    entity: str
    data: JSONDict
    field_meta: dict[str, list[Any]]
    version: int = 1

    def source(self, field: str) -> list[Any] | None:
        """``[source, source modification time]`` of the field's current value: its own
        entry, else the record-wide one (:data:`ALL_FIELDS`) for a field the record holds."""
        own = self.field_meta.get(field)
        if own is not None or field not in self.data:
            return own
        return self.field_meta.get(ALL_FIELDS)


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

    def get_many(self, ids: Iterable[int], *, meta: bool = True) -> dict[int, HubRecord]:
        """Records by id (missing ids are left out).

        Args:
            ids: Record ids.
            meta: False leaves ``field_meta`` empty (not read): for readers that never
                write the records back, such as outbound.
        """
        out: dict[int, HubRecord] = {}
        idlist = sorted(set(ids))
        load = _json_reader(self.conn)
        meta_column = "field_meta" if meta else "NULL"
        for chunk in _chunks(idlist):
            rows = self.conn.exec_driver_sql(
                f"SELECT id, entity, data, {meta_column}, version FROM records WHERE id IN "
                f"({placeholders(self.conn, len(chunk))})", tuple(chunk)).fetchall()
            for rid, entity, data, field_meta, version in rows:
                out[rid] = HubRecord(rid, entity, load(data),
                                     {} if field_meta is None else load(field_meta), version)
        return out

    def insert_many(self, entity: str, items: Sequence[tuple[JSONDict, Mapping[str, list[Any]]]]) -> list[int]:
        if not items:
            return []
        now = utcnow()
        if self.conn.dialect.name == "sqlite":
            # SQLAlchemy sends SQLite one INSERT per row here (RETURNING ids in order). Every
            # SQLite transaction of the store holds the write lock from its BEGIN IMMEDIATE,
            # so the ids SQLite would pick (max + 1 onwards) can be given in one executemany.
            (top,) = self.conn.exec_driver_sql(
                "SELECT COALESCE(MAX(id), 0) FROM records").fetchone()  # type: ignore[misc]
            ids = list(range(top + 1, top + 1 + len(items)))
            dumps = codec.dumps
            self.conn.exec_driver_sql(
                "INSERT INTO records (id, entity, data, field_meta, version, created_at, "
                "updated_at, deleted) VALUES (?, ?, ?, ?, 1, ?, ?, 0)",
                [(rid, entity, dumps(data), dumps(meta), now, now)
                 for rid, (data, meta) in zip(ids, items)])
            return ids
        rows = [{"entity": entity, "data": data, "field_meta": dict(meta), "version": 1,
                 "created_at": now, "updated_at": now, "deleted": False} for data, meta in items]
        result = self.conn.execute(
            insert(t.records).returning(t.records.c.id, sort_by_parameter_order=True), rows)
        return [r.id for r in result]

    def update_many(self, items: Sequence[HubRecord]) -> None:
        if not items:
            return
        now = utcnow()
        dumps = codec.dumps
        self.conn.exec_driver_sql(
            f"UPDATE records SET data = {placeholders(self.conn, 1)}, field_meta = "
            f"{placeholders(self.conn, 1)}, version = {placeholders(self.conn, 1)}, updated_at = "
            f"{placeholders(self.conn, 1)} WHERE id = {placeholders(self.conn, 1)}",
            [(dumps(r.data), dumps(r.field_meta), r.version, now, r.id) for r in items])

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
        p = placeholders(self.conn, 1)
        for name, values in by_name.items():
            for chunk in _chunks(sorted(values)):  # once per page: driver SQL
                rows = self.conn.exec_driver_sql(
                    f"SELECT key_value, record_id FROM match_keys WHERE entity = {p} AND "
                    f"key_name = {p} AND key_value IN ({placeholders(self.conn, len(chunk))}) "
                    "ORDER BY record_id", (entity, name, *chunk)).fetchall()
                for value, rid in rows:
                    out[(name, value)].append(rid)
        return out

    def replace(self, entity: str, keys: Mapping[int, Sequence[tuple[str, str]]], *,
                names: Sequence[str]) -> None:
        """Set each record's keys called ``names`` to exactly the given ones.

        Keys with other names (defined by other mappings of the entity) are left alone.
        """
        ids = sorted(keys)
        names = list(names)
        for chunk in _chunks(ids):
            self.conn.exec_driver_sql(
                f"DELETE FROM match_keys WHERE record_id IN ({placeholders(self.conn, len(chunk))}) "
                f"AND key_name IN ({placeholders(self.conn, len(names))})", (*chunk, *names))
        _insert(self.conn, "match_keys", "entity, key_name, key_value, record_id",
                [(entity, n, v[:512], rid) for rid in ids for n, v in dict.fromkeys(keys[rid])])


class Links:
    def __init__(self, conn: Connection):
        self.conn = conn

    def _load(self, mapping: str, column: str, values: Sequence[Any]) -> list[Link]:
        return self._select(f"mapping = {placeholders(self.conn, 1)} AND {column} IN "
                            f"({placeholders(self.conn, len(values))})", (mapping, *values))

    def _select(self, where: str, params: tuple[Any, ...]) -> list[Link]:
        rows = self.conn.exec_driver_sql(
            "SELECT mapping, system_id, record_id, baseline, system_modified, id, system_version "
            f"FROM links WHERE {where}", params).fetchall()
        load = _json_reader(self.conn)
        return [Link(m, sid, rid, load(baseline), modified, lid, version)
                for m, sid, rid, baseline, modified, lid, version in rows]

    def by_system_ids(self, mapping: str, system_ids: Iterable[str]) -> dict[str, Link]:
        out: dict[str, Link] = {}
        for chunk in _chunks(sorted(set(system_ids))):
            for link in self._load(mapping, "system_id", chunk):
                out[link.system_id] = link
        return out

    def by_record_ids(self, mapping: str, record_ids: Iterable[int]) -> dict[int, Link]:
        out: dict[int, Link] = {}
        for chunk in _chunks(sorted(set(record_ids))):
            for link in self._load(mapping, "record_id", chunk):
                out[link.record_id] = link
        return out

    def by_record_or_system_ids(self, mapping: str, record_ids: Sequence[int],
                                system_ids: Sequence[str]) -> tuple[dict[int, Link], dict[str, Link]]:
        """Links of these hub records, and links of these system ids, in one query."""
        by_record: dict[int, Link] = {}
        by_system: dict[str, Link] = {}
        rids, sids = sorted(set(record_ids)), sorted(set(system_ids))
        if len(rids) + len(sids) > 900:
            return self.by_record_ids(mapping, rids), self.by_system_ids(mapping, sids)
        if rids or sids:
            # ``mapping = ?`` inside each branch: SQLite then searches both unique indexes
            # (MULTI-INDEX OR); outside, it scanned every link of the mapping per batch.
            p = placeholders(self.conn, 1)
            terms = [(column, values) for column, values in (("record_id", rids),
                                                             ("system_id", sids)) if values]
            where = " OR ".join(f"(mapping = {p} AND {column} IN "
                                f"({placeholders(self.conn, len(values))}))" for column, values in terms)
            wanted_r, wanted_s = set(rids), set(sids)
            params = tuple(v for _, values in terms for v in (mapping, *values))
            for link in self._select(where, params):
                if link.record_id in wanted_r:
                    by_record[link.record_id] = link
                if link.system_id in wanted_s:
                    by_system[link.system_id] = link
        return by_record, by_system

    def linked_record_ids(self, mapping: str, record_ids: Iterable[int]) -> set[int]:
        """Those of ``record_ids`` that a link of ``mapping`` points to (no baselines read)."""
        out: set[int] = set()
        p = placeholders(self.conn, 1)
        for chunk in _chunks(sorted(set(record_ids))):
            out.update(rid for (rid,) in self.conn.exec_driver_sql(
                f"SELECT record_id FROM links WHERE mapping = {p} AND record_id IN "
                f"({placeholders(self.conn, len(chunk))})", (mapping, *chunk)).fetchall())
        return out

    def insert_many(self, links: Sequence[Link]) -> None:
        if not links:
            return
        now = utcnow()
        dumps = codec.dumps
        _insert(self.conn, "links", "mapping, system_id, record_id, baseline, system_modified, "
                "system_version, updated_at",
                [(k.mapping, k.system_id, k.record_id, dumps(k.baseline), k.system_modified,
                  k.system_version, now) for k in links])

    def update_many(self, links: Sequence[Link]) -> None:
        if not links:
            return
        now = utcnow()
        dumps = codec.dumps
        p = placeholders(self.conn, 1)
        self.conn.exec_driver_sql(
            f"UPDATE links SET baseline = {p}, system_modified = {p}, system_version = {p}, "
            f"updated_at = {p} WHERE mapping = {p} AND system_id = {p}",
            [(dumps(k.baseline), k.system_modified, k.system_version, now, k.mapping,
              k.system_id) for k in links])

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
        dumps = codec.dumps
        _insert(self.conn, "journal", "entity, record_id, fields, source, run_id, at",
                [(entity, rid, dumps(list(fields)), source, run_id, now)
                 for rid, fields, source in entries])

    def read(self, entity: str, *, after: int, limit: int) -> list[JournalEntry]:
        p = placeholders(self.conn, 1)
        rows = self.conn.exec_driver_sql(
            f"SELECT seq, record_id, fields, source FROM journal WHERE entity = {p} AND seq > {p} "
            f"ORDER BY seq LIMIT {p}", (entity, after, limit)).fetchall()
        load = _json_reader(self.conn)
        return [JournalEntry(seq, rid, list(load(fields)), source)
                for seq, rid, fields, source in rows]

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
        p = placeholders(self.conn, 1)
        for chunk in _chunks(keys):  # once per page: driver SQL (see the module docstring)
            done += self.conn.exec_driver_sql(
                f"UPDATE dead_letters SET resolved_at = {p} WHERE mapping = {p} AND direction = "
                f"{p} AND resolved_at IS NULL AND item_key IN ({placeholders(self.conn, len(chunk))})",
                (now, mapping, direction, *chunk)).rowcount
        return done
