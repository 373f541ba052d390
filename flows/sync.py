"""The entity sync flow: inbound from every mapped system, outbound to every mapped system.

Thin on purpose: it names the run, hands pages and batches to the engine as tasks (one task
per page or batch, never per record), and leaves artifacts an operator reads at a glance.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.runtime import deployment, flow_run

from renkei.engine.runner import SyncRunner
from renkei.engine.stats import RunSummary
from renkei.ops.deployments import SYNC_LIMIT
from renkei.ops.events import emit_stop_events
from renkei.ops.logmask import install_log_masking
from renkei.ops.quota import QuotaRow, quota_status
from renkei.project import Project
from renkei.redact import mask_text
from renkei.store import Store


@task(name="ingest_page", cache_policy=NO_CACHE)
def ingest_page(work: Callable[[], Any]) -> Any:
    """Merge one page of system records into the hub and move the read cursor."""
    return work()


@task(name="write_batch", cache_policy=NO_CACHE)
def write_batch(work: Callable[[], Any]) -> Any:
    """Send one batch of changed records to a system and store the per-record results."""
    return work()


def _step(name: str, work: Callable[[], Any]) -> Any:
    t = ingest_page if name.startswith("ingest") else write_batch
    return t.with_options(task_run_name=name)(work)


def run_name() -> str:
    """``lead sync · marketo, salesforce → hub → marketo, salesforce``."""
    params = flow_run.parameters
    entity = params.get("entity", "lead")
    try:
        ms = Project.load(params.get("project")).mappings_for(entity)
        ins = ", ".join(sorted({m.connection for m in ms if m.inbound_fields})) or "-"
        outs = ", ".join(sorted({m.connection for m in ms if m.outbound_fields})) or "-"
        return f"{entity} sync · {ins} → hub → {outs}"
    except Exception:  # noqa: BLE001 — a name must never fail a run
        return f"{entity} sync"


#: What an operator does about each failure category (the failures table's last column).
WHAT_TO_DO = {
    "authentication": "renew the connection's credentials; then `renkei retry --category authentication`",
    "permission": "grant the integration user access to the object/field; then retry the category",
    "validation": "fix the value at the source or the mapping; then retry the category",
    "duplicate": "merge the duplicates in the system; the next sync relinks them",
    "not_found": "the record was deleted in the system; retry re-creates it if the hub still has it",
    "rate_limit": "none: retried automatically on the next runs",
    "vendor_outage": "none: retried automatically once the vendor is back",
    "conflict": "none: merged and retried on the next run",
    "configuration": "fix renkei.yaml or the mapping (see the reason)",
}


def report(summary: RunSummary, quotas: list[QuotaRow] | None = None,
           connections: dict[str, str] | None = None) -> None:
    """Artifacts: counts per mapping (with API calls against the daily budget), and the
    failed records grouped by error category, PII masked."""
    key = f"{summary.entity}-sync"
    by_conn = {q.connection: q for q in quotas or []}
    table = []
    for s in summary.stats:
        q = by_conn.get((connections or {}).get(s.mapping, ""))
        table.append({**s.as_row(),
                      "api_calls_today": q.used if q else "",
                      "daily_quota": (q.quota or "none") if q else "",
                      "quota_left": (q.remaining if q.quota else "unlimited") if q else ""})
    create_table_artifact(
        key=f"{key}-summary", table=table,
        description=f"{summary.entity} sync {summary.run_id}: counts per mapping and direction; "
                    "API calls of this run and of the connection in the last 24 h vs its quota")
    rows = [{"category": f.category, "mapping": s.mapping, "direction": s.direction,
             "code": f.code or "", "record": mask_text(f.item), "vendor_message": mask_text(f.message),
             "what_to_do": WHAT_TO_DO.get(f.category, "see the message")}
            for s in summary.stats for f in s.failures]
    rows.sort(key=lambda r: (r["category"], r["mapping"]))
    if rows:
        create_table_artifact(key=f"{key}-failures", table=rows,
                              description="Failed records by error category (sample, masked); "
                                          "all are in dead letters: `renkei retry`")
    lines = [f"# {summary.entity} sync — {summary.status}", ""]
    for s in summary.stats:
        cats = ", ".join(f"{c} {n}" for c, n in s.failure_categories.most_common()) or "none"
        lines.append(f"- **{s.mapping}** ({s.direction}): read {s.read}, created {s.created}, "
                     f"updated {s.updated}, conflicts {s.conflicts}, failed {s.failed} ({cats}), "
                     f"API calls {s.api_calls}" + (f" — stopped: {mask_text(s.error)}" if s.error else ""))
    create_markdown_artifact(key=f"{key}-report", markdown="\n".join(lines))


def _one_at_a_time(entity: str) -> AbstractContextManager[Any]:
    """Scheduled (deployment) runs hold the entity's global limit for the whole sync; strict,
    so a server without the limit fails the run loudly (`renkei deploy` creates it). Ad-hoc
    runs (`renkei sync`, tests) are not deployments and take no slot."""
    if not deployment.id:
        return nullcontext()
    from prefect.concurrency.sync import concurrency

    return concurrency(SYNC_LIMIT.format(entity=entity), occupy=1, strict=True)


@flow(name="entity sync", flow_run_name=run_name)
def sync_entity(entity: str = "lead", project: str | None = None,
                mappings: list[str] | None = None) -> dict[str, Any]:
    """Sync one hub entity across every mapped system.

    Args:
        entity: Hub entity (lead, account, activity, deal, alert).
        project: Path of the project (``renkei.yaml`` or its directory).
        mappings: Only these mappings (default: all of the entity).
    """
    install_log_masking()
    logger = get_run_logger()
    proj = Project.load(project)
    store = Store.open(proj.database_url)
    progress_id: Any = create_progress_artifact(progress=0.0, key=f"{entity}-sync-progress",
                                           description="Pages and batches done")

    def progress(done: int, mapping: str) -> None:
        # Unknown total up front: approach 100 asymptotically, finish at the end.
        update_progress_artifact(artifact_id=progress_id, progress=min(99.0, 100 * done / (done + 5)))

    try:
        runner = SyncRunner(proj, store, step=_step, progress=progress)
        with _one_at_a_time(entity):
            summary = runner.sync(entity, mappings=mappings, flow_run_id=str(flow_run.id or ""))
        update_progress_artifact(artifact_id=progress_id, progress=100.0)
        connections = {m.name: m.connection for m in proj.mappings_for(entity)}
        report(summary, quota_status(proj, store), connections)
        emit_stop_events(summary, connections)
        for s in summary.stats:
            counts = {k: v for k, v in s.as_row().items() if k not in ("mapping", "direction")}
            counts["error"] = mask_text(str(counts["error"]))
            logger.info("%s %s: %s", s.mapping, s.direction, counts)
        return summary.as_json()
    finally:
        store.close()
        proj.close()
