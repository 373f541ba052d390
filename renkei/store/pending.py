"""Markers of creates in flight, for streams whose creates are not idempotent.

Marketo's Add Custom Activities has no key that makes a resend harmless: an activity sent
twice is two activities. So the outbound engine commits a marker per create *before* the
call and deletes it in the transaction that stores the link. A marker found at the start
of a later pass means the run died between the vendor's answer and our commit; the engine
then asks the connector (:meth:`connectors.sdk.Connector.find_created`) which of those
records the system already has, links them, and writes only the others.

Every method takes a batch; none is meant to be called once per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, select

from renkei.store import schema as t

__all__ = ["PendingCreate", "PendingCreates"]

_CHUNK = 900  # bound parameters per IN list (SQLite allows 999 by default in old builds)


def _chunks(items: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


@dataclass(frozen=True)
class PendingCreate:
    """A create that was sent (or about to be) and not yet linked.

    Attributes:
        mapping: The outbound mapping.
        record_id: The hub record.
        ref: The :attr:`WriteOp.ref` the create carried.
        started_at: When the first unfinished attempt began (ISO-8601 UTC).
    """

    mapping: str
    record_id: int
    ref: str
    started_at: str


class PendingCreates:
    """Repository of the ``pending_creates`` table, bound to one open connection."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def mark(self, mapping: str, items: Sequence[tuple[int, str]], started_at: str) -> None:
        """Mark ``(record_id, ref)`` creates as in flight.

        A record that already has a marker keeps it, with its older ``started_at``: the
        earlier attempt may still have landed, and the recovery read must look back that far.
        """
        if not items:
            return
        have = set(self.get(mapping, [rid for rid, _ in items]))
        rows = [{"mapping": mapping, "record_id": rid, "ref": ref, "started_at": started_at}
                for rid, ref in dict(items).items() if rid not in have]
        if rows:
            self.conn.execute(insert(t.pending_creates), rows)

    def get(self, mapping: str, record_ids: Iterable[int]) -> dict[int, PendingCreate]:
        """The markers of these records, by record id."""
        c = t.pending_creates.c
        out: dict[int, PendingCreate] = {}
        for chunk in _chunks(sorted(set(record_ids))):
            rows = self.conn.execute(select(t.pending_creates).where(
                and_(c.mapping == mapping, c.record_id.in_(chunk))))
            for r in rows:
                out[r.record_id] = PendingCreate(r.mapping, r.record_id, r.ref, r.started_at)
        return out

    def record_ids(self, mapping: str) -> list[int]:
        """Every hub record with a marker in this mapping, ascending."""
        c = t.pending_creates.c
        rows = self.conn.execute(select(c.record_id).where(c.mapping == mapping)
                                 .order_by(c.record_id))
        return [r.record_id for r in rows]

    def clear(self, mapping: str, record_ids: Iterable[int]) -> int:
        """Delete the markers of these records; returns how many there were."""
        c = t.pending_creates.c
        removed = 0
        for chunk in _chunks(sorted(set(record_ids))):
            removed += self.conn.execute(delete(t.pending_creates).where(
                and_(c.mapping == mapping, c.record_id.in_(chunk)))).rowcount
        return removed

    def count(self, mapping: str | None = None) -> int:
        """Markers of one mapping, or of all (``renkei status`` and tests)."""
        query = select(func.count()).select_from(t.pending_creates)
        if mapping is not None:
            query = query.where(t.pending_creates.c.mapping == mapping)
        return int(self.conn.execute(query).scalar_one())
