"""`renkei demo`'s scenario, asserted record by record in both sandboxes (issue #3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from renkei.demo import DemoOutcome, run_demo
from renkei.store import Store

pytestmark = [pytest.mark.prefect, pytest.mark.e2e]


def test_demo_scenario_record_by_record(prefect_server: None, tmp_path: Path) -> None:
    seen: list[DemoOutcome] = []

    def check(o: DemoOutcome) -> None:
        seen.append(o)
        mk, sf, p = o.marketo, o.salesforce, o.pairs
        lead = lambda i: mk.get_record("leads", p[i][1])
        sflead = lambda i: sf.get_record("Lead", p[i][2])
        assert sflead(0)["Title"] == "マーケティング部長"          # Marketo-only edit reached SF
        assert lead(1)["phone"] == "+81355550101"                 # SF-only edit reached Marketo
        assert lead(2)["company"] == "株式会社サクラ精機ホールディングス"   # held: each side keeps
        assert sflead(2)["Company"] == "サクラ精機グループ株式会社"
        assert lead(3)["title"] == sflead(3)["Title"] == "部長"    # newest edit (SF) won both
        assert not lead(4)["title"] and not sflead(4)["Title"]     # a blanked value stays blank
        assert sflead(5)["Email"] != lead(5)["email"]              # SF refused the duplicate
        assert sflead(7)["Lead_Score__c"] == 95                    # Marketo owns the score
        [new] = [r for r in sf.list_records("Lead", offset=0, limit=5000)[0]
                 if str(r.get("Email")).lower() == "newcomer@renkei-demo.co.jp"]
        assert (new["LastName"], new["Company"], new["LeadSource"]) == ("新井", "株式会社レンケイ商事", "ウェビナー")
        store = Store.open(o.store_url)
        with store.transaction() as tx:
            leads = tx.records.page("lead", limit=100_000)
            activity_emails = {str(r.data.get("email")) for r in
                               tx.records.page("activity", limit=100_000) if r.data.get("email")}
            # People only the webinar or the video host knew were captured as new leads.
            captured = [r for r in leads if (r.source("email") or [None])[0] == "rules"]
            assert captured and {r.data["email"] for r in captured} <= activity_emails
            assert {r.data["lead_source"] for r in captured} <= {"webinar", "on_demand_seminar"}
            assert len(leads) == 2000 + 500 - 200 + 1 + len(captured)
            # Every captured lead reached both systems (Company defaulted for Salesforce).
            sf_emails = {str(r.get("Email")).lower()
                         for r in sf.list_records("Lead", offset=0, limit=10_000)[0]}
            assert {r.data["email"] for r in captured} <= sf_emails
            [conflict] = tx.conflicts.list()
            letters = {(d.mapping, d.direction, d.category) for d in tx.dead_letters.all_open()}
        store.close()
        assert conflict.field == "company"
        # The third: an activity of a lead sales converted; Salesforce refuses tasks on it
        # and renkei does not follow conversions to the Contact yet.
        assert letters == {("marketo-leads", "in", "validation"),
                           ("salesforce-leads", "out", "duplicate"),
                           ("salesforce-tasks", "out", "validation")}
        assert o.last_sync_writes == 0
        # ≥ 80 % viewers: each is MQL by the video rule, already with sales, or held back by
        # the cross score — and every one the video rule qualified has an alerted owner.
        v = o.viewers
        assert v.by_video and v.below
        assert v.by_video | v.with_sales | v.below == v.watched
        assert not (v.by_video & v.with_sales or v.by_video & v.below or v.with_sales & v.below)
        assert v.by_video <= v.alerted

    rc = run_demo(workdir=tmp_path / "demo", exit_when_done=True, ui=False, port=0, on_done=check)
    assert rc == 0 and len(seen) == 1
