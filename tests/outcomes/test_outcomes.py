"""Deal outcomes back to marketing, on SQLite and PostgreSQL, with the Marketo emulator over
real HTTP: won → customer, lost → recycled (reason and sales choices, nurture list), one
deterministic result per person, idempotent and reversible list membership, stale-deal
alerts raised once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.outcomes.world import LIST_ID, World, ago, make_world


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[World]:
    with make_world(tmp_path, db_url) as w:
        w.sync("lead")  # the people arrive from Marketo first
        yield w


def _deal(w: World, name: str, emails: list[str], stage: str, **extra: object) -> str:
    return w.deals.create({"Name": name, "Stage": stage, "Contacts": emails, "Owner": "tanaka",
                           "StageChangedAt": ago(1), "IsWon": False, "IsClosed": False,
                           **extra})


def _lose(w: World, rid: str, reason: str, **extra: object) -> None:
    w.deals.edit(rid, {"Stage": "Closed Lost", "IsClosed": True, "IsWon": False,
                       "LossReason": reason, "StageChangedAt": ago(0), **extra})


def _win(w: World, rid: str) -> None:
    w.deals.edit(rid, {"Stage": "Closed Won", "IsClosed": True, "IsWon": True,
                       "LossReason": None, "StageChangedAt": ago(0)})


def test_won_deal_makes_every_contact_a_customer_in_the_hub_and_marketo(world: World) -> None:
    a, b = world.emails(2)
    rid = _deal(world, "受注商談", [a.upper(), b], "提案")
    world.sync("deal")
    assert world.lead(a)["lifecycle_stage"] == "opportunity"
    _win(world, rid)
    world.sync("deal")
    world.sync("lead")
    for email in (a, b):
        assert world.lead(email)["lifecycle_stage"] == "customer"
        assert world.marketo.store.get(world.marketo_id(email))["renkeiLifecycleStage"] == \
            "customer"


def test_lost_deal_recycles_with_reason_and_sales_choices_sent_to_marketo(world: World) -> None:
    (a,) = world.emails(1)
    rid = _deal(world, "失注商談", [a], "提案")
    _lose(world, rid, "予算凍結（来期再検討）", RecycleContent="事例紹介メール",
          RecycleFrequency="monthly", RecycleEmail="Info@Example.co.jp")
    world.sync("deal")
    world.sync("lead")
    lead = world.lead(a)
    assert (lead["lifecycle_stage"], lead["recycle_reason"], lead["lost_reason"]) == \
        ("recycled", "予算凍結（来期再検討）", "予算凍結（来期再検討）")
    assert (lead["recycle_content"], lead["recycle_frequency"], lead["recycle_email"]) == \
        ("事例紹介メール", "monthly", "Info@Example.co.jp")
    mk = world.marketo.store.get(world.marketo_id(a)) or {}
    assert (mk["renkeiLifecycleStage"], mk["renkeiRecycleReason"], mk["renkeiRecycleContent"],
            mk["renkeiRecycleFrequency"]) == ("recycled", "予算凍結（来期再検討）", "事例紹介メール",
                                             "monthly")


def test_on_hold_deal_recycles_with_the_hold_reason(world: World) -> None:
    (a,) = world.emails(1)
    _deal(world, "保留商談", [a], "保留")
    world.sync("deal")
    assert (world.lead(a)["lifecycle_stage"], world.lead(a)["recycle_reason"]) == \
        ("recycled", "not now (保留)")


def test_person_with_several_deals_gets_one_documented_result_in_any_order(world: World) -> None:
    a, b, c = world.emails(3)
    # a: a won deal and a later lost one → customer; b: a lost and an open → opportunity;
    # c: two lost deals → the most recently closed one's reason.
    won = _deal(world, "A-1", [a], "提案")
    lost_a = _deal(world, "A-2", [a], "提案")
    _deal(world, "B-1", [b], "提案")
    lost_b = _deal(world, "B-2", [b], "提案")
    old_c = _deal(world, "C-1", [c], "提案")
    new_c = _deal(world, "C-2", [c], "提案")
    _win(world, won)
    _lose(world, lost_a, "競合に決定")
    _lose(world, lost_b, "時期尚早")
    _lose(world, new_c, "新しい理由", StageChangedAt=ago(1))
    _lose(world, old_c, "古い理由", StageChangedAt=ago(30))  # edited last, closed earlier
    world.sync("deal")
    assert world.lead(a)["lifecycle_stage"] == "customer"
    assert world.lead(b)["lifecycle_stage"] == "opportunity"
    assert (world.lead(c)["lifecycle_stage"], world.lead(c)["recycle_reason"]) == \
        ("recycled", "新しい理由")


def test_recycle_list_membership_is_idempotent_and_reversible(world: World) -> None:
    (a,) = world.emails(1)
    rid = _deal(world, "往復商談", [a], "提案")
    _lose(world, rid, "予算なし")
    world.sync("deal")
    world.sync("lead")
    world.sync("deal")
    mid = world.marketo_id(a)
    assert world.marketo.lists.members(LIST_ID) == [mid]
    adds = world.list_calls("POST")
    assert len(adds) == 1  # three runs, one add call: renkei remembers the membership
    world.deals.edit(rid, {"Stage": "提案", "IsClosed": False, "LossReason": None,
                           "StageChangedAt": ago(0)})  # reopened ...
    world.sync("deal")
    assert world.lead(a)["lifecycle_stage"] == "opportunity"
    assert world.lead(a).get("recycle_reason") is None
    _win(world, rid)  # ... and won
    world.sync("deal")
    world.sync("lead")
    assert world.lead(a)["lifecycle_stage"] == "customer"
    assert world.marketo.lists.members(LIST_ID) == []
    assert (len(world.list_calls("POST")), len(world.list_calls("DELETE"))) == (1, 1)
    assert world.marketo.store.get(mid)["renkeiLifecycleStage"] == "customer"


def test_stale_deal_with_fresh_web_activity_alerts_the_owner_once(world: World) -> None:
    a, b = world.emails(2)
    _deal(world, "長期商談", [a], "提案", StageChangedAt=ago(45))
    _deal(world, "新しい商談", [b], "提案", StageChangedAt=ago(3))
    world.sync("deal")
    with world.store.transaction() as tx:
        leads = {r.data["email"]: r.id for r in tx.records.page("lead", limit=1000)}
        rows = [({"source_id": f"web-{i}", "type": "web_visit", "occurred_at": ago(0.1),
                  "email": e, "url": "https://example.co.jp/pricing"}, {})
                for i, e in enumerate((a, a, b))]
        ids = tx.records.insert_many("activity", rows)
        tx.journal.append_many("activity", [(i, ["type"], "test") for i in ids], None)
    world.sync("deal")
    world.sync("deal")
    alerts = [r.data for r in world.alerts() if r.data["rule"] == "long-deal-fresh-activity"]
    assert len(alerts) == 1  # two page views, two runs: one next action
    assert (alerts[0]["owner"], alerts[0]["type"], alerts[0]["lead_id"]) == \
        ("tanaka", "activity_on_open_deal", str(leads[a]))
    assert "長期商談" in alerts[0]["title"]


def test_stalled_quote_raises_one_task_for_inside_sales(world: World) -> None:
    (a,) = world.emails(1)
    _deal(world, "見積案件", [a], "見積提出", StageChangedAt=ago(20))
    _deal(world, "新しい見積", [a], "見積提出", StageChangedAt=ago(2))
    world.sync("deal")
    world.sync("deal")
    tasks = [r.data for r in world.alerts() if r.data["rule"] == "quote-stalled"]
    assert len(tasks) == 1
    assert (tasks[0]["owner"], tasks[0]["type"]) == ("kato", "quote_stalled")
    assert tasks[0]["title"] == "見積後 14 日動きなし: 見積案件"
    with world.store.transaction() as tx:
        deal_ids = {r.data["name"]: r.id for r in tx.records.page("deal", limit=100)}
    assert tasks[0]["deal_id"] == str(deal_ids["見積案件"])
