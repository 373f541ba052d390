"""The webhook-inbox flow: apply accepted webhook events to the hub, one task per batch.

``renkei serve`` receives and stores events; this flow (deployed on a short interval, or
called by ``renkei serve`` itself) applies them. Each batch is marked processed in the
transaction that applies it, so a crashed or retried run never applies an event twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from renkei.ops.logmask import install_log_masking
from renkei.project import Project
from renkei.store import Store
from renkei.webhooks.process import process_inbox


@task(name="apply_webhook_events", cache_policy=NO_CACHE)
def apply_webhook_events(work: Callable[[], Any]) -> Any:
    """Apply one batch of inbox events of one source to the hub."""
    return work()


def _step(name: str, work: Callable[[], Any]) -> Any:
    return apply_webhook_events.with_options(task_run_name=name)(work)


@flow(name="webhook inbox", flow_run_name="webhook inbox · apply accepted events")
def process_webhook_inbox(project: str | None = None, batch: int = 500) -> dict[str, int]:
    """Apply every pending webhook event; leave a table of what was applied per mapping."""
    install_log_masking()
    proj = Project.load(project)
    store = Store.open(proj.database_url)
    try:
        report = process_inbox(proj, store, batch=batch, step=_step)
        with store.transaction() as tx:
            counts = tx.inbox.counts()
    finally:
        store.close()
        proj.close()
    rows = [s.as_row() for s in report.stats.values()]
    if rows:
        create_table_artifact(key="webhook-inbox", table=rows,
                              description="Webhook events applied to the hub, per mapping")
    get_run_logger().info("applied %d events (%d records), %d ignored, %d failed; inbox now %s",
                          report.processed, report.records, report.ignored, report.failed,
                          counts)
    return {"processed": report.processed, "records": report.records,
            "ignored": report.ignored, "failed": report.failed,
            "pending": counts.get("pending", 0)}
