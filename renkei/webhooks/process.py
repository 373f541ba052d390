"""Apply the webhook inbox to the hub, batch by batch, exactly once.

Each source in ``renkei.yaml`` names the mapping its events feed and where the records sit
in an event::

    webhooks:
      kintone:
        verify: token
        secret: ${KINTONE_WEBHOOK_TOKEN}
        mapping: kintone-leads          # the events are records of this mapping's stream
        records: record                 # jmespath from the event to a record or a list
        events: [ADD_RECORD, UPDATE_RECORD]   # other types are stored and marked ignored

Without ``records:``, the mapping's connector reads the event if it knows its vendor's events
(:meth:`~connectors.sdk.base.Connector.webhook_records`: Zoom's participant and registration
events become records of ``webinar_events``); an event type it takes no record from is
marked ignored. A connector that does not read webhooks gets the whole event as the record.

A batch of events is applied like a page of an incremental read (identity, three-way
merge, journal) and the events are marked processed in the same transaction: a crash
re-applies nothing twice and loses nothing. An event whose records fail validation still
counts as processed; its records wait in the dead letters like any other.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from connectors.sdk import Connector
from renkei.engine.inbound import Inbound
from renkei.engine.stats import MappingStats
from renkei.project import Project
from renkei.store import Store, StoredEvent, Tx
from renkei.webhooks.sources import WebhookConfigError

log = logging.getLogger("renkei.webhooks")

Step = Callable[[str, Callable[[], Any]], Any]


def _direct(_name: str, fn: Callable[[], Any]) -> Any:
    return fn()


@dataclass(frozen=True)
class SourceRoute:
    """Where a source's events go."""

    source: str
    mapping: str
    records: jmespath.parser.ParsedResult | None
    events: frozenset[str] | None


@dataclass
class InboxReport:
    """What one pass over the inbox did."""

    processed: int = 0
    ignored: int = 0
    failed: int = 0
    records: int = 0
    stats: dict[str, MappingStats] = field(default_factory=dict)


def routes(project: Project) -> dict[str, SourceRoute]:
    """Each configured source's route, checked against the project's mappings.

    Raises:
        WebhookConfigError: a source names no mapping, an unknown one, or a bad jmespath.
    """
    names = {m.name for m in project.mappings()}
    out: dict[str, SourceRoute] = {}
    for source, settings in project.webhooks.items():
        mapping = settings.get("mapping")
        if mapping not in names:
            raise WebhookConfigError(
                f"webhooks.{source}.mapping: {mapping!r} is not a mapping of the project "
                f"(known: {', '.join(sorted(names)) or 'none'})")
        expr = settings.get("records")
        try:
            parsed = jmespath.compile(str(expr)) if expr else None
        except JMESPathError as exc:
            raise WebhookConfigError(f"webhooks.{source}.records: {exc}") from None
        events = settings.get("events")
        out[source] = SourceRoute(source, str(mapping), parsed,
                                  frozenset(map(str, events)) if events else None)
    return out


def process_inbox(project: Project, store: Store, *, batch: int = 500,
                  run_id: str | None = None, step: Step = _direct) -> InboxReport:
    """Apply every pending inbox event; ``step`` wraps each batch (a Prefect task in flows)."""
    table = routes(project)
    report = InboxReport()
    while True:
        with store.transaction() as tx:
            pending = tx.inbox.pending(batch)
        if not pending:
            return report
        groups: dict[str, list[StoredEvent]] = {}
        for ev in pending:
            groups.setdefault(ev.source, []).append(ev)
        for source, events in groups.items():
            step(f"apply {len(events)} {source} webhook events",
                 partial(_apply, project, store, table.get(source), source, events, report,
                         run_id))


def _apply(project: Project, store: Store, route: SourceRoute | None, source: str,
           events: Sequence[StoredEvent], report: InboxReport, run_id: str | None) -> None:
    if route is None:  # the source was removed from the project since the event came
        with store.transaction() as tx:
            tx.inbox.mark([e.id for e in events], "ignored", f"no webhook source {source!r}")
        report.ignored += len(events)
        return
    wanted: list[int] = []
    ignored: dict[str, list[int]] = {}  # reason → events
    broken: dict[str, list[int]] = {}
    records: list[dict[str, Any]] = []
    m = next(x for x in project.mappings() if x.name == route.mapping)
    connector = project.connector(m.connection)
    stream = connector.stream(m.stream)
    for ev in events:
        if route.events is not None and ev.event_type not in route.events:
            ignored.setdefault("event type not routed", []).append(ev.id)
            continue
        try:
            found = _records(route, connector, m.stream, json.loads(ev.body))
        except ValueError as exc:
            broken.setdefault(str(exc), []).append(ev.id)
            continue
        if not found:  # the connector knows the event type carries no record of the stream
            ignored.setdefault(f"a {ev.event_type or 'untyped'} event holds no {m.stream} "
                               "record", []).append(ev.id)
            continue
        wanted.append(ev.id)
        records.extend(found)
    stats = report.stats.setdefault(m.name, MappingStats(m.name, "webhook"))
    inbound = Inbound(store, m, stream, stats, run_id)

    def mark(tx: Tx) -> None:
        tx.inbox.mark(wanted, "processed")
        for reason, ids in ignored.items():
            tx.inbox.mark(ids, "ignored", reason)
        for reason, ids in broken.items():
            tx.inbox.mark(ids, "failed", reason)

    try:
        inbound.apply_page(records, None, also=mark)
    except Exception as exc:
        with store.transaction() as tx:
            tx.inbox.retry_later([e.id for e in events], f"{type(exc).__name__}: {exc}")
        log.error("%d %s webhook events not applied: %s", len(events), source,
                  type(exc).__name__)
        raise
    report.processed += len(wanted)
    report.ignored += sum(map(len, ignored.values()))
    report.failed += sum(map(len, broken.values()))
    report.records += len(records)


def _records(route: SourceRoute, connector: Connector, stream: str,
             event: Any) -> list[dict[str, Any]]:
    """The event's records: at the ``records:`` path, else as the connector reads its
    vendor's events (:meth:`Connector.webhook_records`), else the whole event."""
    if route.records is not None:
        found = route.records.search(event)
    else:
        try:
            return connector.webhook_records(stream, event)
        except NotImplementedError:
            found = event
    if isinstance(found, dict):
        return [found]
    if isinstance(found, list) and found and all(isinstance(r, dict) for r in found):
        return list(found)
    raise ValueError("event holds no record at the configured path")


__all__ = ["InboxReport", "SourceRoute", "process_inbox", "routes"]
