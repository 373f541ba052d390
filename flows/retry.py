"""The failed-record retry flow: replay selected dead letters, report what recovered.

Run it from the UI (deployment ``retry-failed-records``, parameters run / category / mapping)
after fixing a cause, or let its schedule sweep retriable failures. The table artifact
``retry-failed-records`` says, per failure category, how many recovered and how many still
fail (and as what).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from renkei.ops.logmask import install_log_masking
from renkei.ops.retry import retry_failed
from renkei.project import Project
from renkei.store import Store


@task(name="retry_batch", cache_policy=NO_CACHE)
def retry_batch(work: Callable[[], Any]) -> Any:
    """Write one batch of retried records to a system."""
    return work()


def _step(name: str, work: Callable[[], Any]) -> Any:
    return retry_batch.with_options(task_run_name=f"retry: {name}")(work)


def _name() -> str:
    p = flow_run.parameters
    what = [f"{k} {p[k]}" for k in ("category", "mapping", "run") if p.get(k)]
    return "retry failed records · " + (", ".join(what) or "all open")


@flow(name="retry failed records", flow_run_name=_name)
def retry_failed_records(project: str | None = None, run: str | None = None,
                         category: str | None = None,
                         mapping: str | None = None) -> dict[str, Any]:
    """Retry the open dead letters selected by run, category and mapping (all if none).

    Args:
        project: Path of the project (``renkei.yaml`` or its directory).
        run: Only records that failed in this run (renkei run id or Prefect flow-run id).
        category: Only this failure category (authentication, permission, validation,
            duplicate, not_found, rate_limit, vendor_outage, conflict).
        mapping: Only this mapping.
    """
    install_log_masking()
    logger = get_run_logger()
    proj = Project.load(project)
    store = Store.open(proj.database_url)
    try:
        report = retry_failed(proj, store, run=run, category=category, mapping=mapping,
                              step=_step, flow_run_id=str(flow_run.id or ""))
    finally:
        store.close()
        proj.close()
    rows = report.by_category()
    if rows:
        create_table_artifact(
            key="retry-failed-records", table=rows,
            description="Dead letters retried, per original failure category: recovered / "
                        "still failing (and the category they fail with now)")
    detail = report.detail()
    if detail:
        create_table_artifact(key="retry-still-failing", table=detail,
                              description="Records still failing after the retry (masked)")
    if report.skipped_mappings:
        logger.warning("not retried (mapping not in this project): %s",
                       ", ".join(report.skipped_mappings))
    logger.info("retried %d dead letters: %d recovered, %d still failing",
                len(report.outcomes), report.recovered, report.still_failing)
    return report.as_json()
