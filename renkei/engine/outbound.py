"""Outbound: hub changes → one system (DESIGN.md "Outbound").

Reads the journal after the mapping's outbound cursor in windows, collapses entries per
record, applies the mapping's filter, projects, compares with the link's baseline, and writes
only the fields that differ, in batches of the vendor's maximum. Baselines move from the
per-record results, failed records go to dead letters (retried on later runs unless the
reason is permanent), and the cursor moves only once a whole window is done: a crash re-runs
the window, and the baselines make the re-run write nothing that already landed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from connectors.sdk.base import Connector
from connectors.sdk.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
)
from connectors.sdk.types import ErrorCategory, StreamSpec, WriteMode, WriteOp, WriteResult
from renkei.clock import utcnow
from renkei.engine.inbound import Inbound, old_objects_frozen
from renkei.engine.lookups import resolve_lookups
from renkei.engine.merge import field_equality, outbound_changes
from renkei.engine.stats import FailureNote, MappingStats
from renkei.mapping import Mapping as CompiledMapping
from renkei.mapping import normalize_key
from renkei.store import Failure, HubRecord, Link, Store

WINDOW = 5000
Step = Callable[[str, Callable[[], Any]], Any]


def direct(_name: str, fn: Callable[[], Any]) -> Any:
    return fn()


@dataclass
class PlannedWrite:
    """One record a system would receive, for ``renkei plan`` and the batch writer."""

    record_id: int
    mode: WriteMode
    system_id: str | None
    hub_values: dict[str, Any]
    system_values: dict[str, Any]
    before: dict[str, Any] = field(default_factory=dict)
    version: str | None = None  # the system's version token the write is checked against


class StopMapping(Exception):
    """The whole mapping must stop for this run (vendor down, quota spent, bad credentials)."""


class Outbound:
    """Pushes hub changes to one mapping's system.

    Args:
        store: The state store.
        mapping: The compiled mapping.
        connector: The connector of the mapping's connection.
        stream: The stream spec (batch size, write modes).
        stats: Where to count.
        run_id: For dead letters.
        step: Wraps each batch write (a Prefect task in flows; a direct call otherwise).
        plan: When given, writes are collected here and nothing is sent or stored.
    """

    def __init__(self, store: Store, mapping: CompiledMapping, connector: Connector,
                 stream: StreamSpec, stats: MappingStats, run_id: str | None, *,
                 step: Step = direct, plan: list[PlannedWrite] | None = None):
        self.store = store
        self.m = mapping
        self.connector = connector
        self.stream = stream
        self.stats = stats
        self.run_id = run_id
        self.step = step
        self.plan = plan
        self.equal = field_equality(mapping.match_keys, normalize_key)
        self._refetching = False
        self._gave_up: set[int] = set()  # conflicted twice this run: left to the next run

    def run(self) -> None:
        m = self.m
        with self.store.transaction() as tx:
            cursor = int((tx.cursors.get(m.name, "out") or {}).get("seq", 0))
            retry_ids = [d.record_id for d in tx.dead_letters.open(m.name, "out")
                         if d.record_id is not None and not d.permanent]
            # Creates a dead run may have sent: looked up (and linked) before any new write.
            pending = [] if self.stream.create_idempotent else tx.pending.record_ids(m.name)
        self.stats.retried += len(retry_ids)
        retry_ids = [*retry_ids, *pending]
        first = True
        while True:
            with self.store.transaction() as tx:
                entries = tx.journal.read(m.entity, after=cursor, limit=WINDOW)
            if not entries and not (first and retry_ids):
                break
            ids = list(dict.fromkeys([*(retry_ids if first else []),
                                      *(e.record_id for e in entries)]))
            first = False
            carry: dict[WriteMode, list[PlannedWrite]] = {}
            try:
                for i in range(0, len(ids), self.stream.write_batch_size * 4):
                    with old_objects_frozen():  # see inbound: full GC scans per chunk
                        self._process(ids[i:i + self.stream.write_batch_size * 4], carry)
                self._write_batches(carry, whole=True)  # the window's last partial batches
            except StopMapping:
                return  # the window stays unconsumed; the next run retries it
            if not entries:
                break
            cursor = entries[-1].seq
            if self.plan is None:
                with self.store.transaction() as tx:
                    tx.cursors.set(m.name, "out", {"seq": cursor})

    def retry(self, record_ids: Sequence[int]) -> None:
        """Plan and write these hub records again now (``renkei retry``); the cursor stays."""
        self.stats.retried += len(record_ids)
        carry: dict[WriteMode, list[PlannedWrite]] = {}
        try:
            for i in range(0, len(record_ids), self.stream.write_batch_size * 4):
                with old_objects_frozen():
                    self._process(record_ids[i:i + self.stream.write_batch_size * 4], carry)
            self._write_batches(carry, whole=True)
        except StopMapping:
            return

    def _process(self, record_ids: Sequence[int],
                 carry: dict[WriteMode, list[PlannedWrite]] | None = None) -> None:
        """Plan and write these records. With ``carry`` (a window's chunks), a mode's last
        partial batch waits there for the next chunk, so batches are cut over the window."""
        m = self.m
        with self.store.transaction() as tx:
            records = tx.records.get_many(record_ids, meta=False)  # outbound never needs it
            links = tx.links.by_record_ids(m.name, record_ids)
            held_pairs = tx.conflicts.open_fields(m.name, record_ids)
        held: dict[int, set[str]] = {}
        for r, f in held_pairs:
            held.setdefault(r, set()).add(f)
        # Fields naming another record (an activity's lead) become its id in the system;
        # records whose target is not there yet wait in the dead letters.
        records, failures = resolve_lookups(self.store, m, records)
        writes: list[PlannedWrite] = []
        for rid in record_ids:
            rec = records.get(rid)
            if rec is None or rec.entity != m.entity or rid in self._gave_up:
                continue
            planned = self._plan_record(rec, links.get(rid), held.get(rid, set()), failures)
            if planned is not None:
                writes.append(planned)
        if self.plan is not None:
            self.plan.extend(writes)
            return
        if failures:
            self._record_failures(failures)
        if not self.stream.create_idempotent:
            writes = self._recover_created(writes)
        by_mode: dict[WriteMode, list[PlannedWrite]] = carry if carry is not None else {}
        for w in writes:
            by_mode.setdefault(w.mode, []).append(w)
        self._write_batches(by_mode, whole=carry is None)

    def _write_batches(self, by_mode: dict[WriteMode, list[PlannedWrite]], *,
                       whole: bool) -> None:
        """Write each mode's full batches (and, when ``whole``, its last partial one); what
        is written leaves ``by_mode``."""
        m = self.m
        size = self.stream.write_batch_size
        for group in by_mode.values():
            end = len(group) if whole else len(group) - len(group) % size
            for i in range(0, end, size):
                batch = group[i:i + size]
                self.step(f"write {len(batch)} to {m.connection}.{m.stream}",
                          partial(self._write_batch, batch))
            del group[:end]

    def _plan_record(self, rec: HubRecord, link: Link | None, held: set[str],
                     failures: list[Failure]) -> PlannedWrite | None:
        m = self.m
        if not m.passes_outbound_filter(rec.data):
            self.stats.skipped_by_filter += 1
            return None
        hub = m.outbound_view(rec.data)  # with the mapping's set: values computed
        changes = outbound_changes(fields=m.outbound_diff_fields, policy=m.policy, hub=hub,
                                   baseline=link.baseline if link else None, held=held,
                                   equal=self.equal)
        if not changes:
            self.stats.unchanged += 1
            return None
        hub_values = ({f: hub.get(f) for f in m.outbound_diff_fields} if link is None
                      else changes)
        proj = m.to_system(hub_values)
        if proj.errors:
            failures.append(Failure(item_key=str(rec.id), record_id=rec.id, category="validation",
                                    message="; ".join(f"{e.field}: {e.message}" for e in proj.errors)))
            return None
        if link is None:
            # A create projects every outbound field, so blank ones get their outbound
            # default (Salesforce's required Company: "(不明)"); blanks without one are left
            # out, and the vendor's validation reports what it still misses, per record.
            values = {k: v for k, v in proj.values.items() if v is not None}
            return PlannedWrite(rec.id, WriteMode.CREATE, None, hub_values, values)
        before = {f: link.baseline.get(f) for f in changes}
        return PlannedWrite(rec.id, WriteMode.UPDATE, link.system_id, changes, proj.values, before,
                            version=link.system_version)

    def _write_batch(self, batch: list[PlannedWrite]) -> None:
        m = self.m
        ops = [WriteOp(mode=w.mode, values=w.system_values, id=w.system_id,
                       ref=f"{m.entity}:{w.record_id}", version=w.version) for w in batch]
        if not self.stream.create_idempotent:
            self._mark_pending(ops, batch)
        started = time.perf_counter()
        try:
            results = self.connector.write(m.stream, ops)
        except ConnectorError as exc:
            self.stats.error = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, (AuthenticationError, ConfigurationError)):
                raise StopMapping() from None
            self._record_failures([
                Failure(item_key=str(w.record_id), record_id=w.record_id, category=exc.category,
                        message=f"batch failed: {exc}", code=exc.vendor_code, retriable=True)
                for w in batch])
            raise StopMapping() from None
        finally:
            self.stats.write_calls += 1
            self.stats.duration_s += time.perf_counter() - started
        if len(results) != len(batch):
            raise ConnectorError(f"{m.connection} returned {len(results)} results for "
                                 f"{len(batch)} records")
        stale = self._commit_results(batch, results)
        if stale:
            self._merge_and_retry(stale)

    def _mark_pending(self, ops: list[WriteOp], batch: list[PlannedWrite]) -> None:
        """Commit a marker per create before the call (streams without idempotent creates):
        if the process dies after the vendor took them, the next run finds the markers."""
        creates = [(w.record_id, op.ref or "") for op, w in zip(ops, batch)
                   if w.mode is WriteMode.CREATE]
        if creates:
            with self.store.transaction() as tx:
                tx.pending.mark(self.m.name, creates, utcnow())

    def _recover_created(self, writes: list[PlannedWrite]) -> list[PlannedWrite]:
        """Creates marked by an earlier attempt that never stored its outcome: one recovery
        read asks the system which of them it has; those are linked, and only the others are
        written again. Returns the writes still to send."""
        m = self.m
        with self.store.transaction() as tx:
            markers = tx.pending.get(m.name, [w.record_id for w in writes
                                              if w.mode is WriteMode.CREATE])
        marked = [w for w in writes if w.record_id in markers]
        if not marked:
            return writes
        ops = [WriteOp(mode=w.mode, values=w.system_values, ref=f"{m.entity}:{w.record_id}")
               for w in marked]
        since = min(markers[w.record_id].started_at for w in marked)
        try:
            found = self.connector.find_created(m.stream, ops, since=since)
        except NotImplementedError:
            return writes  # no way to tell: at least once rather than never
        except ConnectorError as exc:
            self.stats.error = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, (AuthenticationError, ConfigurationError)):
                self._record_failures([
                    Failure(item_key=str(w.record_id), record_id=w.record_id,
                            category=exc.category, code=exc.vendor_code, retriable=True,
                            message=f"could not check whether an earlier run created it: {exc}")
                    for w in marked])
            raise StopMapping() from None
        landed = [(w, found[op.ref]) for w, op in zip(marked, ops) if op.ref in found]
        if landed:
            self._commit_results([w for w, _ in landed],
                                 [WriteResult.success(sid, created=True) for _, sid in landed])
        done = {w.record_id for w, _ in landed}
        return [w for w in writes if w.record_id not in done]

    def _merge_and_retry(self, stale: list[PlannedWrite]) -> None:
        """Records the system refused as edited since our baseline (a version conflict).

        Their current state is fetched and merged like an inbound page, so the mapping's
        conflict policies decide field by field between the system's edit and the hub; the
        merged result is then written once more with the fresh version. A second conflict
        (edited again meanwhile) waits in the dead letters for the next run.
        """
        m = self.m
        if self._refetching:
            self._conflicts_to_dead_letters(stale, "edited again while renkei was merging")
            return
        self.stats.conflicts += len(stale)
        try:
            fresh = self.connector.fetch(m.stream, [w.system_id for w in stale if w.system_id])
        except NotImplementedError:
            self._conflicts_to_dead_letters(stale, "will be merged on the next read")
            return
        # The merge counts as reads of this run, not as this direction's results.
        scratch = MappingStats(m.name, "in")
        Inbound(self.store, m, self.stream, scratch, self.run_id).apply_page(fresh, None)
        self._refetching = True
        try:
            self._process([w.record_id for w in stale])
        finally:
            self._refetching = False

    def _conflicts_to_dead_letters(self, stale: list[PlannedWrite], why: str) -> None:
        self._gave_up.update(w.record_id for w in stale)
        self._record_failures([
            Failure(item_key=str(w.record_id), record_id=w.record_id, category="conflict",
                    message=f"{self.m.connection} record {w.system_id} was edited after "
                            f"renkei read it; {why}", retriable=True)
            for w in stale])

    def _commit_results(self, batch: list[PlannedWrite],
                        results: list[WriteResult]) -> list[PlannedWrite]:
        """Store baselines and failures; return the writes refused as version conflicts."""
        m = self.m
        failures: list[Failure] = []
        stale: list[PlannedWrite] = []
        ok: list[str] = []
        with self.store.transaction() as tx:
            created = [r.id for w, r in zip(batch, results)
                       if r.ok and w.mode is WriteMode.CREATE and r.id]
            # one query: the batch's links, and links the created system ids already have
            links, already = tx.links.by_record_or_system_ids(
                m.name, [w.record_id for w in batch], created)
            inserts: list[Link] = []
            updates: list[Link] = []
            for w, r in zip(batch, results):
                if (not r.ok and r.error is not None and r.error.retriable
                        and r.error.category is ErrorCategory.CONFLICT
                        and w.mode is WriteMode.UPDATE and self.stream.version_field):
                    stale.append(w)
                    continue
                if not r.ok or r.id is None:
                    err = r.error
                    failures.append(Failure(
                        item_key=str(w.record_id), record_id=w.record_id,
                        category=err.category.value if err else "unknown",
                        message=err.message if err else "no id returned",
                        code=err.code if err else None, retriable=bool(err and err.retriable)))
                    continue
                link = links.get(w.record_id)
                if link is None and r.id in already and already[r.id].record_id != w.record_id:
                    failures.append(Failure(
                        item_key=str(w.record_id), record_id=w.record_id, category="duplicate",
                        message=f"{m.connection} merged this record into its record {r.id}, "
                                f"which is linked to hub record {already[r.id].record_id}"))
                    continue
                ok.append(str(w.record_id))
                if link is not None:
                    link.baseline = {**link.baseline, **w.hub_values}
                    if self.stream.version_field:
                        link.system_version = r.version
                    updates.append(link)
                    self.stats.updated += 1
                else:
                    inserts.append(Link(m.name, r.id, w.record_id, dict(w.hub_values), None,
                                        system_version=r.version))
                    if r.created:
                        self.stats.created += 1
                    else:
                        self.stats.updated += 1
            tx.links.insert_many(inserts)
            tx.links.update_many(updates)
            if not self.stream.create_idempotent:  # answered: nothing of it is in doubt now
                tx.pending.clear(m.name, [w.record_id for w in batch
                                          if w.mode is WriteMode.CREATE])
            if ok:
                tx.dead_letters.resolve(m.name, "out", ok)
            if failures:
                tx.dead_letters.record(m.name, "out", failures, self.run_id)
        for f in failures:
            self.stats.add_failure(FailureNote(f.item_key, f.category, f.message, f.code))
        return stale

    def _record_failures(self, failures: list[Failure]) -> None:
        with self.store.transaction() as tx:
            tx.dead_letters.record(self.m.name, "out", failures, self.run_id)
        for f in failures:
            self.stats.add_failure(FailureNote(f.item_key, f.category, f.message, f.code))


__all__ = ["Outbound", "PlannedWrite", "StopMapping", "direct"]
