"""One sync run of one entity: inbound from every mapping, then outbound to every mapping.

The runner knows nothing about Prefect; a flow passes ``step`` to run each page and batch as
a task, and reads the :class:`RunSummary` to build its artifacts.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

from connectors.sdk.errors import ConnectorError
from renkei.clock import utcnow
from renkei.engine.inbound import Inbound
from renkei.engine.outbound import Outbound, PlannedWrite, Step, StopMapping, direct
from renkei.engine.stats import MappingStats, RunSummary
from renkei.mapping import Mapping
from renkei.ops.budget import SharedBudget
from renkei.project import Project
from renkei.rules import run_rules
from renkei.rules.lists import sync_list
from renkei.store import DeadLetter, Store
from renkei.store.locks import PartitionLocks

log = logging.getLogger("renkei.sync")


class SyncRunner:
    """Runs syncs of a project against a store.

    Args:
        project: Connections and mappings.
        store: The state store (a dry-run store for ``renkei plan``).
        step: Wraps each page ingest and batch write (Prefect tasks in flows).
        plan: When given, outbound writes are collected here instead of sent.
        progress: Called after each step with (done steps, mapping name).
        locks: Leases per mapping and direction, so workers sharing the store never run the
            same phase at once (default: skip a phase another worker holds; none for plans).

    Each mapping asks the accounts' shared API budget (:attr:`budget`, none for plans) before
    it runs and between pages and batches; one told to pause stops there with its reason in
    ``MappingStats.error`` (``paused: quota 82% of 50,000 used``) and resumes next run.
    """

    def __init__(self, project: Project, store: Store, *, step: Step = direct,
                 plan: dict[str, list[PlannedWrite]] | None = None,
                 progress: Callable[[int, str], None] | None = None,
                 locks: PartitionLocks | None = None):
        self.locks = locks if locks is not None or plan is not None else PartitionLocks(store)
        self.project = project
        self.store = store
        self.step = step
        self.plan = plan
        self.progress = progress
        self._steps = 0
        self.budget = SharedBudget.for_project(project, store) if plan is None else None
        self._run_calls: dict[tuple[str, str], int] = {}  # (run, mapping) → calls so far

    def sync(self, entity: str, *, mappings: Sequence[str] | None = None,
             run_id: str | None = None, flow_run_id: str | None = None) -> RunSummary:
        """Sync one entity: every mapping's inbound, then every mapping's outbound."""
        selected = [m for m in self.project.mappings_for(entity)
                    if mappings is None or m.name in mappings]
        summary = RunSummary(run_id=run_id or uuid.uuid4().hex, entity=entity)
        if self.plan is None:
            with self.store.transaction() as tx:
                tx.runs.start(summary.run_id, "sync", entity, flow_run_id)
        self.project.ledger.drain()  # calls made before the run are not the run's
        summary.status = "failed"
        try:
            for m in selected:
                if m.inbound_fields:
                    self._phase(summary, m, "in", self._inbound)
            self._rules(summary)
            for m in selected:
                if m.outbound_diff_fields:
                    self._phase(summary, m, "out", self._outbound)
            self._lists(summary)
            summary.status = "partial" if any(s.error for s in summary.stats) else "completed"
        finally:
            if self.plan is None:
                with self.store.transaction() as tx:
                    tx.runs.finish(summary.run_id, summary.status, summary.as_json())
        return summary

    def retry(self, letters: Sequence[DeadLetter], *, run_id: str | None = None,
              flow_run_id: str | None = None) -> RunSummary:
        """Retry only these dead letters now: inbound ones re-apply their stored payloads,
        outbound ones re-plan their hub records (``renkei retry``). Cursors do not move."""
        summary = RunSummary(run_id=run_id or uuid.uuid4().hex, entity="retry")
        with self.store.transaction() as tx:
            tx.runs.start(summary.run_id, "retry", None, flow_run_id)
        self.project.ledger.drain()
        by_name = {m.name: m for m in self.project.mappings()}
        groups: dict[tuple[str, str], list[DeadLetter]] = {}
        for d in letters:
            if d.mapping in by_name:
                groups.setdefault((d.direction, d.mapping), []).append(d)
        summary.status = "failed"
        try:
            for (direction, name), group in sorted(groups.items()):  # "in" before "out"
                body = self._retry_in if direction == "in" else self._retry_out
                self._phase(summary, by_name[name], direction, partial(body, group))
            summary.status = "partial" if any(s.error for s in summary.stats) else "completed"
        finally:
            with self.store.transaction() as tx:
                tx.runs.finish(summary.run_id, summary.status, summary.as_json())
        return summary

    def _retry_in(self, letters: list[DeadLetter], m: Mapping, stats: MappingStats,
                  run_id: str) -> None:
        stream = self.project.connector(m.connection).stream(m.stream)
        Inbound(self.store, m, stream, stats, run_id).retry_dead_letters(letters)

    def _retry_out(self, letters: list[DeadLetter], m: Mapping, stats: MappingStats,
                   run_id: str) -> None:
        connector = self.project.connector(m.connection)
        ids = [d.record_id for d in letters if d.record_id is not None]
        Outbound(self.store, m, connector, connector.stream(m.stream), stats, run_id,
                 step=self.step).retry(ids)

    @contextmanager
    def _partition(self, name: str) -> Iterator[bool]:
        if self.locks is None:
            yield True
        else:
            with self.locks.hold(name) as mine:
                yield mine

    def _phase(self, summary: RunSummary, m: Mapping, direction: str,
               body: Callable[[Mapping, MappingStats, str], None]) -> None:
        with self._partition(f"sync:{m.name}:{direction}") as mine:
            if mine:  # else another worker is running this phase: its work, not ours
                self._run_phase(summary, m, direction, body)

    def _run_phase(self, summary: RunSummary, m: Mapping, direction: str,
                   body: Callable[[Mapping, MappingStats, str], None]) -> None:
        stats = summary.get(m.name, direction)
        started = time.perf_counter()
        try:
            if not self._paused(m, stats, summary.run_id):
                body(m, stats, summary.run_id)
        except ConnectorError as exc:
            stats.error = f"{type(exc).__name__}: {exc}"
            log.error("%s %s stopped: %s", m.name, direction, stats.error)
        finally:
            stats.duration_s = time.perf_counter() - started
            self._flush(stats, summary.run_id)

    def _flush(self, stats: MappingStats, run_id: str) -> None:
        """The phase's calls so far into the store's ledger, where every worker counts them."""
        calls = self.project.ledger.drain()
        stats.api_calls += len(calls)
        key = (run_id, stats.mapping)
        self._run_calls[key] = self._run_calls.get(key, 0) + len(calls)
        if self.plan is None and calls:
            with self.store.transaction() as tx:
                tx.ledger.add(calls, run_id)
            if self.budget is not None:
                self.budget.noted(calls)

    def _paused(self, m: Mapping, stats: MappingStats, run_id: str) -> bool:
        """True (reason in ``stats.error``) when the shared API budget pauses ``m`` now."""
        if self.budget is None:
            return False
        self._flush(stats, run_id)
        reason = self.budget.check(m.name, m.connection,
                                   run_calls=self._run_calls.get((run_id, m.name), 0))
        if reason is None:
            return False
        stats.error = reason
        log.warning("%s %s %s", m.name, stats.direction, reason)
        return True

    def _rules(self, summary: RunSummary) -> None:
        """Qualification, routing and alerts over every change since the rules' own cursor,
        in one transaction, journalled as source ``rules`` (so outbound sends them)."""
        rules = self.project.rules()
        if rules is None:
            return
        started = time.perf_counter()
        with self._partition(f"rules:{summary.entity}") as mine:
            if not mine:
                return
            with self.store.transaction() as tx:
                summary.rules = run_rules(rules, tx, utcnow(), run_id=summary.run_id).stats
        summary.rules.duration_s = time.perf_counter() - started

    def _lists(self, summary: RunSummary) -> None:
        """Static list membership of the outcomes file (after outbound: it needs the links
        outbound creates); a refused call is logged and retried by the next run."""
        rules = self.project.rules()
        target = rules.outcomes.marketo_list if rules and rules.outcomes else None
        if target is None or self.plan is not None:
            return
        try:
            sync_list(self.project, self.store, target, run_id=summary.run_id)
        except ConnectorError as exc:
            log.error("list %s membership stopped: %s: %s", target.list_id,
                      type(exc).__name__, exc)
        finally:
            # The list calls are the run's too: counted on the list's mapping and ledgered.
            calls = self.project.ledger.drain()
            if calls:
                summary.get(target.mapping, "out").api_calls += len(calls)
                with self.store.transaction() as tx:
                    tx.ledger.add(calls, summary.run_id)

    def _tick(self, name: str) -> None:
        self._steps += 1
        if self.progress is not None:
            self.progress(self._steps, name)

    def _inbound(self, m: Mapping, stats: MappingStats, run_id: str) -> None:
        connector = self.project.connector(m.connection)
        stream = connector.stream(m.stream)
        inbound = Inbound(self.store, m, stream, stats, run_id)
        inbound.retry_dead_letters()
        with self.store.transaction() as tx:
            state = tx.cursors.get(m.name, "in")
        for page in connector.read(m.stream, state):
            self.step(f"ingest {len(page.records)} from {m.connection}.{m.stream}",
                      partial(inbound.apply_page, page.records, page.state))
            self._tick(m.name)
            if self._paused(m, stats, run_id):
                break  # the cursor is after this page: the next run reads on from here

    def _outbound(self, m: Mapping, stats: MappingStats, run_id: str) -> None:
        connector = self.project.connector(m.connection)
        stream = connector.stream(m.stream)
        plan = None
        if self.plan is not None:
            plan = self.plan.setdefault(m.name, [])

        def step(name: str, fn: Callable[[], Any]) -> Any:
            if self._paused(m, stats, run_id):
                raise StopMapping()  # the journal window stays unconsumed until the next run
            result = self.step(name, fn)
            self._tick(m.name)
            return result

        Outbound(self.store, m, connector, stream, stats, run_id, step=step, plan=plan).run()
