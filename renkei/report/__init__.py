"""The closed-loop report (DOMAIN.md steps 1 and 9): which channels, campaigns, score bands
and reps turn leads into MQLs, SQLs and won deals, and how much they won.

::

    report = build_report(store, ReportConfig(since=date(2026, 4, 1)))
    write_outputs(report, Path("reports"))   # CSV per table + SVG chart

Definitions of every number: :mod:`renkei.report.compute`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from renkei.report.compute import Report, Row, Summary, Table, compute
from renkei.report.config import (
    DEFAULT_BANDS,
    ReportConfig,
    ReportConfigError,
    ScoreBand,
    parse_bands,
    parse_date,
)
from renkei.report.load import Dataset, load_dataset
from renkei.report.output import artifact_payload, chart_svg, markdown, write_csv, write_outputs
from renkei.store import Store


def build_report(store: Store, config: ReportConfig | None = None, *,
                 now: datetime | None = None) -> Report:
    """Read the store (a page at a time) and compute the report."""
    cfg = config or ReportConfig()
    moment = now or datetime.now(UTC)
    return compute(load_dataset(store), cfg, now=moment.astimezone(cfg.tz))


__all__ = [
    "DEFAULT_BANDS",
    "Dataset",
    "Report",
    "ReportConfig",
    "ReportConfigError",
    "Row",
    "ScoreBand",
    "Summary",
    "Table",
    "artifact_payload",
    "build_report",
    "chart_svg",
    "compute",
    "load_dataset",
    "markdown",
    "parse_bands",
    "parse_date",
    "write_csv",
    "write_outputs",
]
