"""Inbound: system records → hub records, one page per transaction (DESIGN.md "Inbound").

Per page: project through the mapping, validate against the entity schema (invalid records go
to dead letters with the reason), resolve identity (link, then match keys, else create), merge
field by field, write hub records, links, journal, conflicts and the read cursor in one
transaction. A crash anywhere rolls the page back and the cursor with it, so a rerun re-reads
the page and reaches the same state: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from connectors.sdk.types import JSON, StreamSpec
from renkei.clock import utcnow
from renkei.engine.merge import blank, field_equality, merge_inbound
from renkei.engine.stats import FailureNote, MappingStats
from renkei.entities import validate_entity
from renkei.mapping import Mapping as CompiledMapping
from renkei.mapping import Projection, normalize_key
from renkei.store import ALL_FIELDS, DeadLetter, Failure, HubRecord, Link, NewConflict, Store, Tx


@contextmanager
def old_objects_frozen() -> Iterator[None]:
    """Leave the objects that existed before the page out of the cyclic collector's scans
    while the page runs.

    A page allocates ~100k small containers, which triggers full collections that each walk
    every object of the process (imported modules, the project, the store): two thirds of the
    collector's time, ~10% of a page's CPU. Frozen objects are only skipped, never freed
    early or late relative to each other: ``gc.unfreeze`` at the end of the page puts them
    back in the oldest generation, so garbage from before the page is found at the next full
    collection after it. A caller that froze objects itself (a worker's start-up) is left
    alone, since unfreezing would undo its freeze too.
    """
    if gc.get_freeze_count() or not gc.isenabled():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class _Item:
    system_id: str
    raw: JSON
    values: dict[str, Any]
    modified: str | None
    link: Link | None = None
    record: HubRecord | None = None
    new_index: int | None = None  # index into the page's new records
    duplicate_of: str | None = None  # match key shared with an already linked record
    baseline: dict[str, Any] | None = None  # the new link's baseline, for new hub records
    version: str | None = None  # the system's version token (kintone $revision), if any
    full_errors: list[str] | None = None  # the full (new record) check, when already run
    keys: list[tuple[str, str]] | None = None  # match keys of ``values``, once computed


def describe_errors(errors: Iterable[Any]) -> str:
    return "; ".join(f"{e.field}: {e.message}" for e in errors)


class Inbound:
    """Applies pages of one mapping's stream to the hub.

    Args:
        store: The state store.
        mapping: The compiled mapping.
        stream: The connector's stream spec (primary key).
        stats: Where to count.
        run_id: Written to the journal and dead letters.
    """

    def __init__(self, store: Store, mapping: CompiledMapping, stream: StreamSpec,
                 stats: MappingStats, run_id: str | None):
        self.store = store
        self.m = mapping
        self.stream = stream
        self.stats = stats
        self.run_id = run_id
        self.equal = field_equality(mapping.match_keys, normalize_key)
        self._key_fields = frozenset(f for k in mapping.match_keys for f in k.fields)

    def apply_page(self, records: Sequence[JSON], state: Mapping[str, Any] | None, *,
                   also: Callable[[Tx], None] | None = None) -> None:
        """Apply one page and move the read cursor to ``state``, atomically.

        ``also`` runs in the same transaction (the webhook inbox marks its events processed
        there, so an event is applied exactly once even if the process dies).
        """
        with old_objects_frozen(), self.store.transaction() as tx:
            if state is not None:
                # First, so the transaction holds SQLite's write lock from its first statement:
                # a read first pins a snapshot that a concurrent commit (a lease renewal) makes
                # stale, and SQLite then refuses the page's first write at once ("locked").
                tx.cursors.set(self.m.name, "in", state)
            self._apply(tx, records)
            if also is not None:
                also(tx)

    def retry_dead_letters(self, letters: Sequence[DeadLetter] | None = None) -> None:
        """Re-apply records that failed inbound on earlier runs (payloads are kept).

        Args:
            letters: Only these dead letters (``renkei retry``); default all open ones.
        """
        if letters is None:
            with self.store.transaction() as tx:
                letters = tx.dead_letters.open(self.m.name, "in")
        payloads = [d.payload for d in letters if isinstance(d.payload, dict)]
        if not payloads:
            return
        before = self.stats.failed
        self.stats.retried += len(payloads)
        for i in range(0, len(payloads), 500):
            with self.store.transaction() as tx:
                self._apply(tx, payloads[i:i + 500], retry=True)
        self.stats.recovered += len(payloads) - (self.stats.failed - before)

    # -- the page ---------------------------------------------------------------------------

    def _apply(self, tx: Tx, records: Sequence[JSON], *, retry: bool = False) -> None:
        m = self.m
        if not retry:
            self.stats.read += len(records)
        failures: list[Failure] = []
        projected: list[tuple[str, JSON, Projection]] = []
        for raw in records:
            try:
                sid = self.stream.record_id(raw)
            except KeyError as exc:
                # A stable key (not hash(): that changes per process) so a rerun updates the
                # same dead letter instead of adding one per run.
                digest = hashlib.sha256(repr(sorted(raw.items())).encode()).hexdigest()[:16]
                failures.append(Failure(item_key=f"missing-key:{digest}",
                                        category="validation", payload=raw,
                                        message=f"record has no primary key field {exc}"))
                continue
            projected.append((sid, raw, m.to_hub(raw)))
        # Links first (one query per page), so each record takes only the check it needs.
        wanted = {sid for sid, _, proj in projected if not proj.errors}
        links = tx.links.by_system_ids(m.name, wanted) if wanted else {}
        items: dict[str, _Item] = {}
        for sid, raw, proj in projected:
            errors = [f"{e.field}: {e.message}" for e in proj.errors]
            full_errors = None
            if not errors and sid in links:
                errors = validate_entity(m.entity, proj.values, partial=True)
            elif not errors:
                # Probably new to the hub, which takes the full check; a record that passes it
                # passes the partial one too, so the common case walks the schema once.
                full_errors = validate_entity(m.entity, proj.values, partial=False)
                if full_errors:
                    errors = validate_entity(m.entity, proj.values, partial=True)
            if errors:
                failures.append(Failure(item_key=sid, category="validation", payload=raw,
                                        message="; ".join(errors)))
                items.pop(sid, None)
                continue
            modified = m.system_modified_at(raw)
            prev = items.get(sid)
            if prev is None or (modified or "") >= (prev.modified or ""):
                items[sid] = _Item(sid, raw, proj.values, modified, link=links.get(sid),
                                   version=self._version(raw), full_errors=full_errors)

        if items:
            self._resolve_identity(tx, items)
            self._merge_and_write(tx, items, failures)
        failed_keys = {f.item_key for f in failures}
        ok_ids = [sid for sid in items if sid not in failed_keys]
        if failures:
            tx.dead_letters.record(m.name, "in", failures, self.run_id)
            for f in failures:
                self.stats.add_failure(FailureNote(f.item_key, f.category, f.message, f.code))
        if ok_ids:
            tx.dead_letters.resolve(m.name, "in", ok_ids)

    def _new_record_keys(self, it: _Item, data: dict[str, Any]) -> list[tuple[str, str]]:
        """A new hub record's match keys: those of its projection, already computed, unless a
        key field held an empty list there (normalised as ``[]``), which ``data`` leaves out."""
        if it.keys is None or any(it.values.get(f) == [] for f in self._key_fields):
            return self.m.key_values(data)
        return it.keys

    def _version(self, raw: JSON) -> str | None:
        field = self.stream.version_field
        value = raw.get(field) if field else None
        return None if value is None else str(value)

    def _resolve_identity(self, tx: Tx, items: dict[str, _Item]) -> None:
        """Hub record per item: by link (loaded with the page), else by match key."""
        m = self.m
        unlinked = [it for it in items.values() if it.link is None]
        for it in unlinked:
            it.keys = m.key_values(it.values)
        found = tx.match_keys.find(m.entity, (p for it in unlinked for p in it.keys or ()))
        candidate_ids = {rid for ids in found.values() for rid in ids}
        taken = tx.links.linked_record_ids(m.name, candidate_ids) if candidate_ids else set()
        claimed: dict[int, str] = {}
        for it in unlinked:
            for pair in it.keys or ():
                ids = found.get(pair, [])
                free = [r for r in ids if r not in taken and r not in claimed]
                if free:
                    it.record = HubRecord(free[0], m.entity, {}, {})  # loaded below
                    claimed[free[0]] = it.system_id
                    break
                if ids:
                    # The hub record is already linked to another record of this stream: two
                    # vendor records are one person. Folding them would lose one; creating a
                    # second hub record would copy the duplicate everywhere. Hold it instead.
                    it.duplicate_of = pair[0]
                    break
        wanted = {it.link.record_id for it in items.values() if it.link is not None}
        wanted |= {it.record.id for it in items.values() if it.record is not None}
        loaded = tx.records.get_many(wanted)
        for it in items.values():
            rid = it.link.record_id if it.link is not None else (it.record.id if it.record else None)
            if rid is not None:
                it.record = loaded.get(rid)

    def _merge_and_write(self, tx: Tx, items: dict[str, _Item], failures: list[Failure]) -> None:
        m = self.m
        now = utcnow()
        updates: list[HubRecord] = []
        new_records: list[tuple[dict[str, Any], dict[str, list[Any]]]] = []
        new_items: list[_Item] = []
        pending_keys: dict[tuple[str, str], _Item] = {}
        link_inserts: list[Link] = []
        link_updates: list[Link] = []
        journal: list[tuple[int, Sequence[str], str]] = []
        key_updates: dict[int, list[tuple[str, str]]] = {}
        held: list[NewConflict] = []
        record_ids = [it.record.id for it in items.values() if it.record is not None]
        open_conflicts = tx.conflicts.open_fields(m.name, record_ids) if record_ids else set()
        agreed_pairs: list[tuple[int, str]] = []

        for it in items.values():
            if it.duplicate_of is not None:
                failures.append(Failure(
                    item_key=it.system_id, category="duplicate", payload=it.raw,
                    message=f"same {it.duplicate_of} as another {m.connection} record already "
                            "linked to the hub record; merge the two in the source system"))
                continue
            if it.record is None:
                # New to the hub, unless an earlier record of this page already created it.
                if it.keys is None:
                    it.keys = m.key_values(it.values)
                twin = next((pending_keys[p] for p in it.keys if p in pending_keys), None)
                if twin is not None:
                    failures.append(Failure(
                        item_key=it.system_id, category="duplicate", payload=it.raw,
                        message=f"same match key as {m.connection} record {twin.system_id} "
                                "of the same page; merge the two in the source system"))
                    continue
                errors = (it.full_errors if it.full_errors is not None
                          else validate_entity(m.entity, it.values, partial=False))
                if errors:
                    failures.append(Failure(item_key=it.system_id, category="validation",
                                            payload=it.raw, message="; ".join(errors)))
                    continue
                outcome = merge_inbound(
                    fields=m.inbound_fields, policy=m.policy, connection=m.connection,
                    system=it.values, system_modified=it.modified, baseline=None, hub=None,
                    hub_meta={})
                # one pair for the whole record (1.6 kB of JSON a lead as a pair per field)
                meta = {ALL_FIELDS: [m.name, it.modified]}
                new_records.append((outcome.hub_changes, meta))
                it.new_index = len(new_items)
                new_items.append(it)
                it.baseline = outcome.baseline
                it.keys = self._new_record_keys(it, outcome.hub_changes)
                for p in it.keys:
                    pending_keys[p] = it
                continue

            rec = it.record
            outcome = merge_inbound(
                fields=m.inbound_fields, policy=m.policy, connection=m.connection,
                system=it.values, system_modified=it.modified,
                baseline=it.link.baseline if it.link else None, hub=rec.data,
                hub_meta=rec.field_meta, equal=self.equal)
            self.stats.conflicts += len(outcome.conflicts)
            for c in outcome.held:
                held.append(NewConflict(m.entity, rec.id, c.field, m.name, c.hub_value,
                                        c.system_value, c.baseline_value))
            agreed_pairs.extend((rec.id, f) for f in outcome.agreed if (rec.id, f) in open_conflicts)
            if outcome.hub_changes:
                # rec was loaded for this page alone: changed in place rather than copied
                data, meta = rec.data, rec.field_meta
                for f, v in outcome.hub_changes.items():
                    if blank(v):
                        data.pop(f, None)
                    else:
                        data[f] = v
                    meta[f] = [m.name, it.modified or now]
                updates.append(HubRecord(rec.id, rec.entity, data, meta, rec.version + 1))
                journal.append((rec.id, sorted(outcome.hub_changes), m.name))
                if not self._key_fields.isdisjoint(outcome.hub_changes):
                    key_updates[rec.id] = m.key_values(data)  # else its keys are as they were
                self.stats.updated += 1
            else:
                self.stats.unchanged += 1
            baseline = {**(it.link.baseline if it.link else {}), **outcome.baseline}
            if it.link is None:
                link_inserts.append(Link(m.name, it.system_id, rec.id, baseline, it.modified,
                                         system_version=it.version))
            elif (baseline != it.link.baseline or it.modified != it.link.system_modified
                  or it.version != it.link.system_version):
                link_updates.append(Link(m.name, it.system_id, rec.id, baseline, it.modified,
                                         system_version=it.version))

        if new_records:
            ids = tx.records.insert_many(m.entity, new_records)
            for it, rid in zip(new_items, ids):
                link_inserts.append(Link(m.name, it.system_id, rid, it.baseline or {}, it.modified,
                                         system_version=it.version))
                data = new_records[it.new_index or 0][0]
                journal.append((rid, sorted(data), m.name))
                key_updates[rid] = it.keys or []
            self.stats.created += len(ids)
        tx.records.update_many(updates)
        tx.links.insert_many(link_inserts)
        tx.links.update_many(link_updates)
        tx.journal.append_many(m.entity, journal, self.run_id)
        if key_updates:
            tx.match_keys.replace(m.entity, key_updates, names=[k.name for k in m.match_keys])
        if held:
            self.stats.held += tx.conflicts.hold(held)
        if agreed_pairs:
            tx.conflicts.close_fields(m.name, agreed_pairs, "agreed")

