"""The daily reconciliation flow: compare every inbound mapping's system with the hub.

One task per mapping (each a full, paged read of that system); a table artifact with the
counts and a markdown artifact with a masked sample of what drifted. The run fails when
anything drifted, so a failed-run automation can tell someone.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from renkei.ops.logmask import install_log_masking
from renkei.project import Project
from renkei.reconcile import ReconcileReport, reconcile, render_markdown
from renkei.store import Store


class DriftFoundError(Exception):
    """Reconciliation found records that disagree with no pending change to explain them."""


@task(name="reconcile_mapping", cache_policy=NO_CACHE)
def reconcile_mapping(project: Project, store: Store, mapping: str) -> ReconcileReport:
    """Full read of one mapping's system, compared page by page with the hub."""
    return reconcile(project, store, mapping)


@flow(name="reconciliation", flow_run_name="reconciliation · {mapping}")
def reconciliation(mapping: str = "all", project: str | None = None,
                   fail_on_drift: bool = True) -> list[dict[str, Any]]:
    """Reconcile one mapping (or ``all`` inbound mappings) and leave the report as artifacts.

    Args:
        mapping: A mapping name, or ``all``.
        project: Project directory (default: the working directory).
        fail_on_drift: Fail the run when anything drifted.
    """
    install_log_masking()
    log = get_run_logger()
    proj = Project.load(project)
    names = ([m.name for m in proj.mappings() if m.inbound_fields] if mapping == "all"
             else [mapping])
    store = Store.open(proj.database_url)
    try:
        reports = [reconcile_mapping.with_options(task_run_name=f"reconcile {n}")(proj, store, n)
                   for n in names]
    finally:
        store.close()
        proj.close()
    rows = [r.as_row() for r in reports]
    create_table_artifact(key="reconciliation", table=rows,
                          description="System vs hub, per mapping")
    create_markdown_artifact(key="reconciliation-drift", markdown=render_markdown(reports),
                             description="Drifted records (identifiers masked)")
    for r in reports:
        log.info("%s: %d system, %d links, %d missing, %d not ingested, %d drifted",
                 r.mapping, r.system_records, r.links, r.missing_in_system, r.not_ingested,
                 r.drifted)
    drifted = [r.mapping for r in reports if r.has_drift]
    if drifted and fail_on_drift:
        raise DriftFoundError(f"drift in {', '.join(drifted)}: see the reconciliation-drift "
                              "artifact")
    return rows
