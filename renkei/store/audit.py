"""Repositories for what people look at: conflicts, the API-call ledger and run summaries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from connectors.sdk.ledger import ApiCall
from renkei.clock import utcnow
from renkei.store import schema as t
from renkei.store.repos import placeholders


@dataclass
class Conflict:
    id: int
    entity: str
    record_id: int
    field: str
    mapping: str
    hub_value: Any
    system_value: Any
    baseline_value: Any
    status: str
    resolution: str | None
    created_at: str


@dataclass
class NewConflict:
    entity: str
    record_id: int
    field: str
    mapping: str
    hub_value: Any
    system_value: Any
    baseline_value: Any


class Conflicts:
    def __init__(self, conn: Connection):
        self.conn = conn

    def _rows(self, where: Any) -> list[Conflict]:
        rows = self.conn.execute(select(t.conflicts).where(where).order_by(t.conflicts.c.id))
        return [Conflict(r.id, r.entity, r.record_id, r.field, r.mapping, r.hub_value,
                         r.system_value, r.baseline_value, r.status, r.resolution, r.created_at)
                for r in rows]

    def list(self, *, status: str | None = "open") -> list[Conflict]:
        where = t.conflicts.c.status == status if status else t.conflicts.c.id.isnot(None)
        return self._rows(where)

    def get(self, conflict_id: int) -> Conflict | None:
        found = self._rows(t.conflicts.c.id == conflict_id)
        return found[0] if found else None

    def open_fields(self, mapping: str, record_ids: Iterable[int]) -> set[tuple[int, str]]:
        """(record id, field) pairs held by an open conflict of this mapping."""
        ids = sorted(set(record_ids))
        out: set[tuple[int, str]] = set()
        for i in range(0, len(ids), 900):  # once per page: driver SQL, no statement compiling
            chunk = ids[i:i + 900]
            out.update((rid, f) for rid, f in self.conn.exec_driver_sql(
                f"SELECT record_id, field FROM conflicts WHERE mapping = "
                f"{placeholders(self.conn, 1)} AND status = 'open' AND record_id IN "
                f"({placeholders(self.conn, len(chunk))})",
                (mapping, *chunk)).fetchall())
        return out

    def hold(self, items: Sequence[NewConflict]) -> int:
        """Open (or refresh) a conflict per item; returns how many were newly opened."""
        if not items:
            return 0
        now = utcnow()
        existing: dict[tuple[int, str, str], int] = {}
        wanted = {(c.record_id, c.field, c.mapping) for c in items}
        ids = sorted({c.record_id for c in items})
        for i in range(0, len(ids), 900):  # one query per 900 records, not one per conflict
            for row in self.conn.execute(
                    select(t.conflicts.c.id, t.conflicts.c.record_id, t.conflicts.c.field,
                           t.conflicts.c.mapping)
                    .where(t.conflicts.c.record_id.in_(ids[i:i + 900]))):
                key = (row.record_id, row.field, row.mapping)
                if key in wanted:
                    existing[key] = row.id
        new = [c for c in items if (c.record_id, c.field, c.mapping) not in existing]
        if new:
            self.conn.execute(insert(t.conflicts), [
                {"entity": c.entity, "record_id": c.record_id, "field": c.field,
                 "mapping": c.mapping, "hub_value": c.hub_value, "system_value": c.system_value,
                 "baseline_value": c.baseline_value, "status": "open", "resolution": None,
                 "created_at": now, "updated_at": now} for c in new])
        old = [c for c in items if (c.record_id, c.field, c.mapping) in existing]
        if old:
            self.conn.execute(
                update(t.conflicts).where(t.conflicts.c.id == bindparam("cid")).values(
                    hub_value=bindparam("h"), system_value=bindparam("s"), status="open",
                    resolution=None, updated_at=now),
                [{"cid": existing[(c.record_id, c.field, c.mapping)], "h": c.hub_value,
                  "s": c.system_value} for c in old])
        return len(new)

    def close(self, conflict_ids: Iterable[int], resolution: str) -> None:
        ids = sorted(set(conflict_ids))
        if ids:
            self.conn.execute(update(t.conflicts).where(t.conflicts.c.id.in_(ids)).values(
                status="resolved", resolution=resolution, updated_at=utcnow()))

    def close_fields(self, mapping: str, pairs: Iterable[tuple[int, str]], resolution: str) -> None:
        """Close open conflicts of these (record, field) pairs, e.g. once both sides agree."""
        now = utcnow()
        rows = [{"rid": rid, "f": f} for rid, f in pairs]
        if rows:
            self.conn.execute(
                update(t.conflicts).where(and_(
                    t.conflicts.c.mapping == mapping, t.conflicts.c.record_id == bindparam("rid"),
                    t.conflicts.c.field == bindparam("f"), t.conflicts.c.status == "open"))
                .values(status="resolved", resolution=resolution, updated_at=now), rows)


class Ledger:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, calls: Sequence[ApiCall], run_id: str | None) -> None:
        if not calls:
            return
        now = utcnow()
        self.conn.execute(insert(t.api_calls), [
            {"run_id": run_id, "connection": c.connection, "method": c.method, "path": c.path[:512],
             "status": c.status, "kind": c.kind, "duration_ms": c.duration_s * 1000.0, "at": now}
            for c in calls])

    def usage(self, *, since: str) -> dict[str, dict[str, int]]:
        """Calls per connection and kind since a time (``utcnow()`` format)."""
        rows = self.conn.execute(
            select(t.api_calls.c.connection, t.api_calls.c.kind, func.count())
            .where(t.api_calls.c.at >= since)
            .group_by(t.api_calls.c.connection, t.api_calls.c.kind))
        out: dict[str, dict[str, int]] = {}
        for conn_name, kind, n in rows:
            out.setdefault(conn_name, {})[kind] = int(n)
        return out

    def for_run(self, run_id: str) -> dict[str, dict[str, int]]:
        rows = self.conn.execute(
            select(t.api_calls.c.connection, t.api_calls.c.kind, func.count())
            .where(t.api_calls.c.run_id == run_id)
            .group_by(t.api_calls.c.connection, t.api_calls.c.kind))
        out: dict[str, dict[str, int]] = {}
        for conn_name, kind, n in rows:
            out.setdefault(conn_name, {})[kind] = int(n)
        return out


@dataclass
class RunRow:
    id: str
    kind: str
    entity: str | None
    status: str
    started_at: str
    finished_at: str | None
    summary: Any
    flow_run_id: str | None


class Runs:
    def __init__(self, conn: Connection):
        self.conn = conn

    def start(self, run_id: str, kind: str, entity: str | None, flow_run_id: str | None) -> None:
        self.conn.execute(insert(t.runs).values(
            id=run_id, kind=kind, entity=entity, status="running", started_at=utcnow(),
            finished_at=None, summary=None, flow_run_id=flow_run_id))

    def finish(self, run_id: str, status: str, summary: Any) -> None:
        self.conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(
            status=status, finished_at=utcnow(), summary=summary))

    def recent(self, limit: int = 10) -> list[RunRow]:
        rows = self.conn.execute(select(t.runs).order_by(t.runs.c.started_at.desc()).limit(limit))
        return [RunRow(r.id, r.kind, r.entity, r.status, r.started_at, r.finished_at, r.summary,
                       r.flow_run_id) for r in rows]
