"""The webhook inbox: events the receiver accepted, waiting for the inbox flow.

An event is stored before the receiver answers 200, so an accepted event survives a crash
of the receiver; it is marked processed in the same transaction that applies it to the hub,
so a crash of the processor never applies it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from renkei.clock import utcnow
from renkei.store import schema as t


@dataclass(frozen=True)
class InboxEvent:
    """One accepted webhook event.

    Attributes:
        source: The configured webhook source (``zoom``, ``kintone``).
        event_id: The vendor's event id, or a digest of the body when it sends none.
        event_type: The vendor's event type, when the body names one.
        signature: The request's signature header, to tell a replayed request.
        body: The request body, verbatim.
    """

    source: str
    event_id: str
    event_type: str | None
    signature: str | None
    body: str


@dataclass(frozen=True)
class StoredEvent:
    id: int
    source: str
    event_id: str
    event_type: str | None
    body: str
    attempts: int


class Inbox:
    """Repository of the ``webhook_inbox`` table."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def add_many(self, events: Sequence[InboxEvent]) -> list[bool]:
        """Store events; for each, True if it was new, False if already in the inbox."""
        return [new for new, _ in self.add_many_with_signatures(events)]

    def add_many_with_signatures(self, events: Sequence[InboxEvent]
                                 ) -> list[tuple[bool, str | None]]:
        """Store events; for each, whether it was new and, if not, the signature it was
        first stored with (a replayed request carries the same one)."""
        if not events:
            return []
        now = utcnow()
        table = t.webhook_inbox
        rows = [{"source": e.source, "event_id": e.event_id, "event_type": e.event_type,
                 "signature": e.signature, "received_at": now, "body": e.body,
                 "status": "pending", "attempts": 0} for e in events]
        dialect = self.conn.dialect.name
        stmt = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table))
        stmt = stmt.on_conflict_do_nothing(index_elements=["source", "event_id"])
        known = self._known({(e.source, e.event_id) for e in events})
        self.conn.execute(stmt, rows)
        out: list[tuple[bool, str | None]] = []
        for e in events:
            key = (e.source, e.event_id)
            if key in known:
                out.append((False, known[key]))
            else:
                out.append((True, None))
                known[key] = e.signature  # a twin later in the same group is a duplicate
        return out

    def _known(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        """Stored events among ``keys`` → the signature each arrived with (one query per
        source)."""
        table = t.webhook_inbox
        found: dict[tuple[str, str], str | None] = {}
        by_source: dict[str, list[str]] = {}
        for source, event_id in keys:
            by_source.setdefault(source, []).append(event_id)
        for source, ids in by_source.items():
            rows = self.conn.execute(
                select(table.c.source, table.c.event_id, table.c.signature).where(
                    and_(table.c.source == source, table.c.event_id.in_(ids))))
            found.update(((r.source, r.event_id), r.signature) for r in rows)
        return found

    def pending(self, limit: int = 500, *, max_attempts: int = 5) -> list[StoredEvent]:
        """The oldest events not yet processed (failed ones until ``max_attempts``)."""
        table = t.webhook_inbox
        rows = self.conn.execute(
            select(table.c.id, table.c.source, table.c.event_id, table.c.event_type,
                   table.c.body, table.c.attempts)
            .where(and_(table.c.status == "pending", table.c.attempts < max_attempts))
            .order_by(table.c.id).limit(limit))
        return [StoredEvent(r.id, r.source, r.event_id, r.event_type, r.body, r.attempts)
                for r in rows]

    def mark(self, ids: Sequence[int], status: str, error: str | None = None) -> None:
        """Set the status of events (``processed``, ``ignored``, ``failed``)."""
        if not ids:
            return
        table = t.webhook_inbox
        self.conn.execute(
            update(table).where(table.c.id == bindparam("i"))
            .values(status=status, processed_at=utcnow(), error=error,
                    attempts=table.c.attempts + 1),
            [{"i": i} for i in ids])

    def retry_later(self, ids: Sequence[int], error: str) -> None:
        """Count a failed attempt; the event stays pending until it runs out of attempts."""
        if not ids:
            return
        table = t.webhook_inbox
        self.conn.execute(
            update(table).where(table.c.id == bindparam("i"))
            .values(error=error, attempts=table.c.attempts + 1), [{"i": i} for i in ids])

    def counts(self) -> dict[str, int]:
        """Events per status."""
        table = t.webhook_inbox
        rows = self.conn.execute(select(table.c.status, func.count()).group_by(table.c.status))
        return {str(r[0]): int(r[1]) for r in rows}


__all__ = ["Inbox", "InboxEvent", "StoredEvent"]
