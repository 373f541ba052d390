"""The closed-loop report flow: funnel and won amount by channel (three attribution models),
campaign, score band and owner, as Prefect artifacts, CSV files and an SVG chart.

Deployed daily (prefect.yaml ``closed-loop-report``). Personal data never reaches the
artifacts: they carry channel, campaign, band and owner labels only, masked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from renkei.project import Project
from renkei.report import (
    DEFAULT_BANDS,
    Report,
    ReportConfig,
    artifact_payload,
    build_report,
    parse_bands,
    parse_date,
    write_outputs,
)
from renkei.store import Store


def run_name() -> str:
    """``closed-loop report · since 2026-04-01`` (or ``· all leads``)."""
    since = flow_run.parameters.get("since")
    return f"closed-loop report · {'since ' + str(since) if since else 'all leads'}"


@task(name="compute_report", cache_policy=NO_CACHE)
def compute_report(database_url: str | None, config: ReportConfig) -> Report:
    """Read the hub a page at a time and compute every table."""
    store = Store.open(database_url, create=False)
    try:
        return build_report(store, config, now=datetime.now(UTC))
    finally:
        store.close()


@task(name="write_report_files", cache_policy=NO_CACHE)
def write_report_files(report: Report, out: str) -> list[str]:
    """CSV per table and the SVG chart."""
    return [str(p) for p in write_outputs(report, Path(out))]


@flow(name="closed-loop report", flow_run_name=run_name)
def closed_loop_report(project: str | None = None, out: str | None = None,
                       since: str | None = None, bands: str | None = None) -> dict[str, Any]:
    """Compute the closed-loop report and leave it as artifacts and files.

    Args:
        project: Path of the project (``renkei.yaml`` or its directory).
        out: Directory for the CSV and SVG files (default: ``<project>/.renkei/reports``).
        since: Only leads captured on or after this date (YYYY-MM-DD).
        bands: Score bands, e.g. ``0-29,30-59,60-89,90+`` (the default).
    """
    proj = Project.load(project)
    try:
        config = ReportConfig(since=parse_date(since) if since else None,
                              bands=parse_bands(bands) if bands else DEFAULT_BANDS)
        report = compute_report(proj.database_url, config)
        directory = out or str(proj.root / ".renkei" / "reports")
        files = write_report_files(report, directory)
    finally:
        proj.close()
    payload = artifact_payload(report)
    for t in report.tables:
        create_table_artifact(key=f"closed-loop-{t.key}", table=payload["tables"][t.key],
                              description=t.title)
    create_markdown_artifact(key="closed-loop-summary", markdown=payload["markdown"])
    s = report.summary
    get_run_logger().info("closed-loop report: %d leads, %d MQL, %d SQL, %d won deals ¥%d; "
                          "files in %s", s.leads, s.mql, s.sql, s.won_deals, s.won_amount,
                          directory)
    return {"leads": s.leads, "mql": s.mql, "sql": s.sql, "won_leads": s.won_leads,
            "won_deals": s.won_deals, "won_amount": s.won_amount, "files": files}
