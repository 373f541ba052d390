"""Resolving conflicts held by the ``manual`` policy (``renkei conflicts resolve``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from renkei.clock import utcnow
from renkei.engine.merge import blank
from renkei.entities import validate_entity
from renkei.mapping import Mapping
from renkei.store import HubRecord, Store, Tx


class ConflictResolutionError(Exception):
    """The conflict cannot be resolved as asked."""


def resolve_conflict(store: Store, conflict_id: int, *, take: str, value: Any = None,
                     mappings: Sequence[Mapping] = ()) -> str:
    """Settle one open conflict.

    Args:
        store: The state store.
        conflict_id: Conflict id from ``renkei conflicts``.
        take: ``hub`` keeps the hub value (the next sync writes it to the system),
            ``system`` takes the system's value (the next sync writes it everywhere else),
            ``value`` sets ``value`` (written to every system on the next sync).
        value: The value for ``take="value"``.
        mappings: The project's mappings: match keys built on the field are recomputed, so
            identity follows the value the person chose (a company key, say).

    Returns:
        A one-line description of what was done.
    """
    if take not in ("hub", "system", "value"):
        raise ConflictResolutionError("take must be hub, system or value")
    with store.transaction() as tx:
        c = tx.conflicts.get(conflict_id)
        if c is None:
            raise ConflictResolutionError(f"no conflict {conflict_id}")
        if c.status != "open":
            raise ConflictResolutionError(f"conflict {conflict_id} is already {c.status}")
        if take == "hub":
            tx.conflicts.close([c.id], "hub")
            return f"conflict {c.id}: kept the hub value of {c.field}; next sync writes it to {c.mapping}"
        new = c.system_value if take == "system" else value
        errors = validate_entity(c.entity, {c.field: new}, partial=True)
        if errors:
            raise ConflictResolutionError("; ".join(errors))
        rec = tx.records.get_many([c.record_id])[c.record_id]
        data = dict(rec.data)
        if blank(new):
            data.pop(c.field, None)
        else:
            data[c.field] = new
        meta = {**rec.field_meta, c.field: ["manual", utcnow()]}
        tx.records.update_many([HubRecord(rec.id, rec.entity, data, meta, rec.version + 1)])
        _rekey(tx, mappings, rec.id, c.entity, c.field, data)
        tx.journal.append_many(c.entity, [(rec.id, [c.field], "manual")], None)
        if take == "system":
            link = tx.links.by_record_ids(c.mapping, [rec.id]).get(rec.id)
            if link is not None:
                link.baseline = {**link.baseline, c.field: new}
                tx.links.update_many([link])
        tx.conflicts.close([c.id], take)
        return f"conflict {c.id}: set {c.field} from {take}; next sync writes it to every system"


def _rekey(tx: Tx, mappings: Sequence[Mapping], record_id: int, entity: str, field: str,
           data: dict[str, Any]) -> None:
    """Recompute the record's match keys that are built on ``field``."""
    keyed = [m for m in mappings if m.entity == entity
             and any(field in k.fields for k in m.match_keys)]
    names = sorted({k.name for m in keyed for k in m.match_keys if field in k.fields})
    if not names:
        return
    pairs = [(n, v) for m in keyed for n, v in m.key_values(data) if n in names]
    tx.match_keys.replace(entity, {record_id: pairs}, names=names)
