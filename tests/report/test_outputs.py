"""The report's files and artifact rows: CSV for Excel in Japan, SVG chart, masking, CLI."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from renkei.cli import main
from renkei.report import (
    ReportConfig,
    ReportConfigError,
    artifact_payload,
    build_report,
    parse_bands,
    parse_date,
    write_outputs,
)
from renkei.report.alloc import largest_remainder
from renkei.report.compute import Report
from renkei.store import Store
from tests.report.dataset import OWNER_A, populate

NOW = datetime(2026, 4, 10, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def report(tmp_path: Path) -> Iterator[Report]:
    store = Store.open(f"sqlite:///{tmp_path / 'hub.db'}")
    populate(store)
    yield build_report(store, ReportConfig(), now=NOW)
    store.close()


def test_csv_has_bom_headers_and_rows_that_sum_to_the_total_row(report: Report,
                                                                tmp_path: Path) -> None:
    paths = write_outputs(report, tmp_path / "out")
    names = sorted(p.name for p in paths)
    assert names == ["closed-loop-campaign.csv", "closed-loop-first-touch.csv",
                     "closed-loop-last-touch.csv", "closed-loop-linear.csv",
                     "closed-loop-owner.csv", "closed-loop-score-band.csv",
                     "closed-loop-won-amount.svg"]
    for path in paths:
        if path.suffix != ".csv":
            continue
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), path.name
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0][1:] == ["leads", "mql", "sql", "won", "won_amount_jpy",
                               "lead_to_mql_pct", "mql_to_sql_pct", "sql_to_won_pct"]
        body, total = rows[1:-1], rows[-1]
        assert total[0] == "(total)"
        for col in range(1, 6):
            assert sum(Decimal(r[col]) for r in body) == Decimal(total[col]), (path.name, col)
        assert total[5] == "1500001"
    with (tmp_path / "out" / "closed-loop-campaign.csv").open(encoding="utf-8-sig") as fh:
        assert [r[0] for r in csv.reader(fh)][1:4] == ["ウェビナー2月", "春セミナー2026",
                                                      "展示会2026"]


def test_svg_is_well_formed_with_one_bar_per_row_of_each_model(report: Report,
                                                              tmp_path: Path) -> None:
    write_outputs(report, tmp_path)
    root = ET.parse(tmp_path / "closed-loop-won-amount.svg").getroot()
    assert root.tag == f"{SVG}svg"
    panels = {g.get("data-model"): g for g in root.iter(f"{SVG}g")}
    by = {t.key: t for t in report.tables}
    assert sorted(panels) == ["first-touch", "last-touch", "linear"]
    for key, panel in panels.items():
        bars = [(r.get("data-label"), int(r.get("data-value") or -1))
                for r in panel.iter(f"{SVG}rect")]
        assert bars == [(r.label, r.won_amount) for r in by[key].rows]
    widths = {r.get("data-label"): int(r.get("width") or -1)
              for r in panels["last-touch"].iter(f"{SVG}rect")}
    assert widths["webinar"] == 360 and widths["inquiry"] == 180 and widths["(none)"] == 0


def test_artifacts_mask_owner_emails_and_carry_no_contact_data(report: Report) -> None:
    payload = artifact_payload(report)
    text = json.dumps(payload, ensure_ascii=False)
    assert OWNER_A not in text and "t***@sales.example.co.jp" in text
    assert "cust.example.jp" not in text
    assert payload["tables"]["linear"][-1]["won_amount_jpy"] == "1500001"
    assert "¥1,500,001" in payload["markdown"]


def test_csv_keeps_formula_like_labels_as_text(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'hub.db'}")
    with store.transaction() as tx:
        tx.records.insert_many("lead", [({"email": "x@y.jp", "campaign": "=HYPERLINK(1)"}, {})])
    write_outputs(build_report(store, now=NOW), tmp_path / "out")
    store.close()
    with (tmp_path / "out" / "closed-loop-campaign.csv").open(encoding="utf-8-sig") as fh:
        assert list(csv.reader(fh))[1][0] == "'=HYPERLINK(1)"


def test_largest_remainder_sums_to_the_total_and_breaks_ties_by_order() -> None:
    from fractions import Fraction
    third = Fraction(100, 3)
    assert largest_remainder({"a": third, "b": third, "c": third}) == {"a": 34, "b": 33, "c": 33}
    assert largest_remainder({"a": third, "b": third, "c": third},
                             order={"a": 2, "b": 0, "c": 1}) == {"a": 33, "b": 34, "c": 33}
    with pytest.raises(ValueError, match="not a whole number"):
        largest_remainder({"a": Fraction(1, 2)})


def test_bad_bands_and_dates_are_refused_with_what_and_where() -> None:
    assert [b.label for b in parse_bands("0-29, 30-59,60+")] == ["0-29", "30-59", "60+"]
    with pytest.raises(ReportConfigError, match=r"band 2 '20-40': overlaps 0-29"):
        parse_bands("0-29,20-40")
    with pytest.raises(ReportConfigError, match=r"band 1 'high': write LOW-HIGH"):
        parse_bands("high")
    with pytest.raises(ReportConfigError, match=r"--since '2026/04/01'"):
        parse_date("2026/04/01")


def test_cli_report_writes_files_for_the_project(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    (tmp_path / "renkei.yaml").write_text(json.dumps({"database": db}), encoding="utf-8")
    store = Store.open(db)
    populate(store)
    store.close()
    out = tmp_path / "reports"
    assert main(["--project", str(tmp_path), "report", "--out", str(out),
                 "--since", "2026-01-12"]) == 0
    cap = capsys.readouterr()
    assert "4 leads" in cap.err and "¥500,000" in cap.err
    assert (out / "closed-loop-linear.csv").exists()
    assert main(["--project", str(tmp_path), "report", "--since", "yesterday"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
