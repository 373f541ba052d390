"""The closed-loop report's numbers on a hand-built hub (SQLite and PostgreSQL), issue #6.

Every expected number below is worked out by hand from tests/report/dataset.py.
Touches (touch types with a channel; A3 is an e-mail open, not a touch):
  L1: A1 seminar 01-05T01:00, A2 webinar 01-25, A4 web 03-01
  L2: A5 web 01-10, A6 webinar 02-01, A7 document_request 04-01 (Tokyo)
  L3: A9 document_request 02-10        L5: A8 exhibition 01-20        L4, L6: none
Won: D1 ¥1,000,001 (L1 + L2, closed 03-31), D2 ¥500,000 (L5, closed 03-15); D3 lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from renkei.report import Report, ReportConfig, Table, build_report
from renkei.report import load as report_load
from renkei.store import Store
from tests.report.dataset import OWNER_A, OWNER_B, populate

NOW = datetime(2026, 4, 10, tzinfo=UTC)


@pytest.fixture
def hub(db_url: str) -> Iterator[Store]:
    store = Store.open(db_url)
    populate(store)
    yield store
    store.close()


def shown(table: Table) -> list[tuple[str, str, str, str, str, int]]:
    return [(r.label, table.count(r.leads), table.count(r.mql), table.count(r.sql),
             table.count(r.won), r.won_amount) for r in (*table.rows, table.total)]


def tables(report: Report) -> dict[str, Table]:
    return {t.key: t for t in report.tables}


def test_first_touch_last_touch_and_linear_match_the_hand_computed_numbers(hub: Store) -> None:
    report = build_report(hub, ReportConfig(), now=NOW)
    by = tables(report)

    # First touch = lead_source. D1 splits between L1 (seminar) and L2 (web): ¥500,000.5 each;
    # the leftover yen goes to the larger remainder, tie → the row shown first (web: 2 leads).
    assert shown(by["first-touch"]) == [
        ("web", "2", "1", "1", "1", 500001),           # L2, L4
        ("seminar", "1", "1", "1", "1", 500000),       # L1
        ("exhibition", "2", "2", "1", "1", 500000),    # L3 (MQL), L5 (won D2)
        ("referral", "1", "0", "0", "0", 0),           # L6
        ("(total)", "6", "4", "3", "3", 1500001),
    ]
    # Last touch = last_touch_channel: D1's contacts are both webinar.
    assert shown(by["last-touch"]) == [
        ("webinar", "2", "2", "2", "2", 1000001),
        ("inquiry", "1", "1", "1", "1", 500000),
        ("document_request", "1", "1", "0", "0", 0),
        ("(none)", "2", "0", "0", "0", 0),             # L4, L6
        ("(total)", "6", "4", "3", "3", 1500001),
    ]
    # Linear. lead (touches ≤ created_at): L1 A1 seminar; L2 A5 web; L5 A8 exhibition;
    #   L3 (A9 is later), L4, L6 fall back to first touch: exhibition, web, referral.
    # MQL (≤ mql_at): L1 A1,A2 → seminar ½ webinar ½; L2 A5,A6 → web ½ webinar ½;
    #   L3 A9 → document_request 1; L5 (no time recorded: all touches) A8 → exhibition 1.
    # SQL (≤ sql_at): L1 seminar ½ webinar ½; L2 web ½ webinar ½; L5 exhibition 1.
    # won (≤ first won close date): L1 A1,A2,A4 → ⅓ each; L2 A5,A6 (A7 after) → ½ each;
    #   L5 exhibition 1. → webinar ⅓+½ = 0.8333, web 0.8333, seminar 0.3333: hundredths
    #   83.33 + 83.33 + 33.33 + 100 floor to 299, the spare one to web (first shown).
    # amount: D1 over the pooled touches A1 A2 A4 A5 A6 → seminar 1/5, webinar 2/5, web 2/5
    #   of ¥1,000,001 = 200,000.2 / 400,000.4 / 400,000.4; the spare yen to web. D2 → A8.
    assert shown(by["linear"]) == [
        ("exhibition", "2.00", "1.00", "1.00", "1.00", 500000),
        ("web", "2.00", "0.50", "0.50", "0.84", 400001),
        ("webinar", "0.00", "1.00", "1.00", "0.83", 400000),
        ("seminar", "1.00", "0.50", "0.50", "0.33", 200000),
        ("referral", "1.00", "0.00", "0.00", "0.00", 0),
        ("document_request", "0.00", "1.00", "0.00", "0.00", 0),
        ("(total)", "6.00", "4.00", "3.00", "3.00", 1500001),
    ]
    # Conversion rates of web under linear: 0.5/2 = 25 %, 0.5/0.5 = 100 %, (5/6)/(1/2) = 166.7 %.
    web = by["linear"].rows[1]
    assert web.rates == ("25.0", "100.0", "166.7")
    assert by["linear"].rows[2].rates == ("", "100.0", "83.3")  # no leads: no lead→MQL rate


def test_campaign_score_band_and_owner_tables(hub: Store) -> None:
    by = tables(build_report(hub, ReportConfig(), now=NOW))
    # D1: ¥500,000.5 to each of L1's and L2's campaign; tie → ウ (U+30A6) sorts before 春.
    assert shown(by["campaign"]) == [
        ("ウェビナー2月", "1", "1", "1", "1", 500001),
        ("春セミナー2026", "1", "1", "1", "1", 500000),
        ("展示会2026", "2", "2", "1", "1", 500000),
        ("(none)", "2", "0", "0", "0", 0),
        ("(total)", "6", "4", "3", "3", 1500001),
    ]
    # Current scores: L1 75, L5 65 → 60-89 (500,000.5 + 500,000); L2 95 → 90+ (500,000.5).
    assert shown(by["score-band"]) == [
        ("0-29", "1", "0", "0", "0", 0),
        ("30-59", "1", "1", "0", "0", 0),
        ("60-89", "2", "2", "2", "2", 1000001),
        ("90+", "1", "1", "1", "1", 500000),
        ("(none)", "1", "0", "0", "0", 0),
        ("(total)", "6", "4", "3", "3", 1500001),
    ]
    assert shown(by["owner"]) == [
        (OWNER_A, "2", "2", "2", "2", 1000001),
        (OWNER_B, "2", "2", "1", "1", 500000),
        ("(none)", "2", "0", "0", "0", 0),
        ("(total)", "6", "4", "3", "3", 1500001),
    ]


def test_summary_counts_won_and_lost_deals_and_skips_deleted_leads(hub: Store) -> None:
    s = build_report(hub, ReportConfig(), now=NOW).summary
    assert (s.leads, s.mql, s.sql, s.won_leads) == (6, 4, 3, 3)   # the deleted 7th is out
    assert (s.won_deals, s.lost_deals, s.won_amount) == (2, 1, 1500001)
    assert s.touches == 8  # 9 activities, one e-mail open


def test_since_keeps_leads_captured_from_that_date_and_their_deals(hub: Store) -> None:
    # L1 (01-05) and L2 (01-10) are out, so D1 is out; D2 (L5) and lost D3 (L3) stay.
    report = build_report(hub, ReportConfig(since=date(2026, 1, 12)), now=NOW)
    s = report.summary
    assert (s.leads, s.won_deals, s.lost_deals, s.won_amount) == (4, 1, 1, 500000)
    assert shown(tables(report)["first-touch"]) == [
        ("exhibition", "2", "2", "1", "1", 500000),
        ("referral", "1", "0", "0", "0", 0),
        ("web", "1", "0", "0", "0", 0),
        ("(total)", "4", "2", "1", "1", 500000),
    ]


def test_reads_the_store_in_pages_not_per_record(hub: Store,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    whole = build_report(hub, ReportConfig(), now=NOW)
    monkeypatch.setattr(report_load, "PAGE", 2)
    paged = build_report(hub, ReportConfig(), now=NOW)
    assert paged.tables == whole.tables
    # pages of 2: 7 lead rows (one deleted, filtered in SQL) → 6 live: 2+2+2+0 = 4 queries;
    # 9 activities → 5; 3 deals → 2.
    assert paged.summary.queries == 11
    assert whole.summary.queries == 3
