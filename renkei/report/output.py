"""The report as files and as artifact rows: CSV per table, one SVG chart, markdown.

CSV files are UTF-8 with a byte-order mark, so Excel (Japanese Windows opens BOM-less CSV as
Shift_JIS) shows 日本語 campaign names correctly. Artifact rows and the markdown summary
mask e-mail addresses and phone numbers (an owner id may be an e-mail); the CSV files keep
owner ids as the SFA holds them, since telling reps apart is their purpose.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from renkei.redact import mask_text
from renkei.report.compute import Report, Row, Table

HEADERS = ("leads", "mql", "sql", "won", "won_amount_jpy",
           "lead_to_mql_pct", "mql_to_sql_pct", "sql_to_won_pct")
CHART_TABLES = ("first-touch", "last-touch", "linear")
CHART_FILE = "closed-loop-won-amount.svg"


def _cells(table: Table, row: Row) -> list[str]:
    return [table.count(row.leads), table.count(row.mql), table.count(row.sql),
            table.count(row.won), str(row.won_amount), *row.rates]


def _safe(label: str) -> str:
    # A campaign named "=HYPERLINK(...)" must stay text in Excel, not become a formula.
    return "'" + label if label[:1] in ("=", "+", "-", "@", "\t", "\r") else label


def table_rows(table: Table, *, masked: bool) -> list[dict[str, str]]:
    """The table as a list of dicts, total last (masked: for artifacts)."""
    out = []
    for row in (*table.rows, table.total):
        label = mask_text(row.label) if masked else row.label
        out.append(dict(zip((table.dimension, *HEADERS), [label, *_cells(table, row)],
                            strict=True)))
    return out


def write_csv(table: Table, directory: Path) -> Path:
    """Write ``closed-loop-<key>.csv`` (UTF-8 with BOM, CRLF as Excel expects)."""
    path = directory / f"closed-loop-{table.key}.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow([table.dimension, *HEADERS])
        for row in (*table.rows, table.total):
            w.writerow([_safe(row.label), *_cells(table, row)])
    return path


def _yen(amount: int) -> str:
    return f"¥{amount:,}"


def chart_svg(report: Report) -> str:
    """A horizontal bar chart of won amount per channel under each attribution model."""
    tables = [t for t in report.tables if t.key in CHART_TABLES]
    bar_h, gap, label_w, bar_w, width = 18, 6, 180, 360, 680
    top = max((r.won_amount for t in tables for r in t.rows), default=0) or 1
    parts: list[str] = []
    y = 40
    for t in tables:
        parts.append(f'<g class="panel" data-model={quoteattr(t.key)}>')
        parts.append(f'<text x="10" y="{y}" font-weight="bold">{escape(t.title)}</text>')
        y += 12
        for r in t.rows:
            w = round(bar_w * r.won_amount / top)
            parts.append(
                f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(r.label)}</text>'
                f'<rect class="bar" x="{label_w}" y="{y}" width="{w}" height="{bar_h}" '
                f'fill="#3b6ea8" data-label={quoteattr(r.label)} data-value="{r.won_amount}"/>'
                f'<text x="{label_w + w + 6}" y="{y + 13}">{_yen(r.won_amount)}</text>')
            y += bar_h + gap
        parts.append("</g>")
        y += 28
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
            f'viewBox="0 0 {width} {y}" font-family="sans-serif" font-size="12">'
            f'<title>Won amount by channel, per attribution model</title>'
            f'<text x="10" y="20" font-size="14" font-weight="bold">Won amount by channel '
            f'(total {_yen(report.summary.won_amount)})</text>')
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + head + "".join(parts) + "</svg>\n"


def markdown(report: Report) -> str:
    """The summary an operator reads first (masked)."""
    s = report.summary
    scope = f"leads captured since {s.since.isoformat()}" if s.since else "all leads"
    lines = [
        "# Closed-loop report", "",
        f"Generated {report.generated_at.strftime('%Y-%m-%d %H:%M %Z')} over {scope}.", "",
        "| leads | MQL | SQL | won leads | won deals | lost deals | won amount |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        (f"| {s.leads} | {s.mql} | {s.sql} | {s.won_leads} | {s.won_deals} | {s.lost_deals} "
         f"| {_yen(s.won_amount)} |"), "",
    ]
    for t in report.tables:
        best = next((r for r in t.rows if r.won_amount > 0), None)
        lead = (f"top: **{mask_text(best.label)}** {_yen(best.won_amount)}" if best
                else "no won amount")
        lines.append(f"- {t.title}: {len(t.rows)} row(s); {lead}")
    lines += [f"- note: {mask_text(n)}" for n in s.notes]
    lines += ["", (f"Read {s.touches} touches with {s.queries} paged queries. Linear counts "
                   "are fractional (hundredths); every column sums to its total.")]
    return "\n".join(lines)


def write_outputs(report: Report, directory: Path) -> list[Path]:
    """Write every table's CSV and the chart into ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [write_csv(t, directory) for t in report.tables]
    chart = directory / CHART_FILE
    chart.write_text(chart_svg(report), encoding="utf-8")
    paths.append(chart)
    return paths


def artifact_payload(report: Report) -> dict[str, Any]:
    """Masked rows per table key, and the markdown, for Prefect artifacts."""
    return {"tables": {t.key: table_rows(t, masked=True) for t in report.tables},
            "markdown": markdown(report)}
