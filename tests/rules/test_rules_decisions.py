"""Qualification per channel and ordered, explained routing (issue #4), on the demo rules."""

from __future__ import annotations

import pytest

from renkei.rules import RuleSet, explain_route, reroute
from renkei.store import Store

from .support import NOW, add, apply_leads, changes_of, lead

SEMINAR = {"email": "taro@sakura.co.jp", "last_name": "山田", "first_name": "太郎",
           "company": "株式会社ミドリ", "lead_source": "seminar", "lifecycle_stage": "lead",
           "behavior_score": 42, "attribute_score": 25}


def test_seminar_lead_over_both_thresholds_becomes_mql_with_its_reason(
        store: Store, rules: RuleSet) -> None:
    [rid], outcome = apply_leads(store, rules, [SEMINAR])
    data = lead(store, rid)
    assert (data["lifecycle_stage"], data["mql_at"]) == ("mql", NOW)
    assert data["qualification_reason"] == "seminar: behavior 42 ≥ 30, attribute 25 ≥ 20"
    assert outcome.stats.qualified == 1


@pytest.mark.parametrize("changes", [{"attribute_score": 19}, {"behavior_score": None},
                                     {"lead_source": "web"}])
def test_missing_one_threshold_of_the_channel_does_not_qualify(
        store: Store, rules: RuleSet, changes: dict[str, object]) -> None:
    [rid], outcome = apply_leads(store, rules, [{**SEMINAR, **changes}])
    assert lead(store, rid)["lifecycle_stage"] == "lead"
    assert outcome.stats.qualified == 0


def test_last_touch_channel_decides_over_lead_source(store: Store, rules: RuleSet) -> None:
    # First touch a seminar (would qualify), last touch an inquiry (needs attribute 10 only).
    [rid], _ = apply_leads(store, rules, [{**SEMINAR, "behavior_score": 0,
                                           "last_touch_channel": "inquiry"}])
    assert lead(store, rid)["qualification_reason"] == "inquiry: attribute 25 ≥ 10"


def _video(percent: float, email: str = "vid@example.co.jp") -> dict[str, object]:
    return {"source_id": f"bc:{percent}", "type": "video_viewed", "percent": percent,
            "occurred_at": "2026-03-01T10:00:00Z", "email": email.upper(), "subject": "DX入門"}


@pytest.mark.parametrize("percent, qualifies", [(79.9, False), (80, True), (135, True)])
def test_on_demand_viewers_qualify_only_from_80_percent_watched(
        store: Store, rules: RuleSet, percent: float, qualifies: bool) -> None:
    person = {"email": "vid@example.co.jp", "last_name": "動画", "company": "C",
              "lead_source": "on_demand_seminar", "attribute_score": 30}
    with store.transaction() as tx:
        [rid] = add(tx, "lead", [person])
        rules.apply(tx, changes_of("lead", [rid], [person]), NOW)  # no activity yet
    assert "lifecycle_stage" not in lead(store, rid)
    with store.transaction() as tx:
        activity = _video(percent)
        aids = add(tx, "activity", [activity])
        outcome = rules.apply(tx, changes_of("activity", aids, [activity]), NOW)
    data = lead(store, rid)
    assert (data.get("lifecycle_stage") == "mql") is qualifies
    if qualifies:
        assert data["qualification_reason"] == (
            "on_demand_seminar: attribute 30 ≥ 20, activity (type = video_viewed, "
            f"percent {percent:g} ≥ 80)")
        assert outcome.qualified == {rid: data["qualification_reason"]}


@pytest.mark.parametrize("stage", ["mql", "sql", "opportunity", "customer", "disqualified"])
def test_qualification_never_downgrades_or_revisits_a_stage(
        store: Store, rules: RuleSet, stage: str) -> None:
    [rid], outcome = apply_leads(store, rules, [{**SEMINAR, "lifecycle_stage": stage,
                                                 "owner": "sales1"}])
    data = lead(store, rid)
    assert data["lifecycle_stage"] == stage and "mql_at" not in data
    assert outcome.stats.qualified == 0


def test_recycled_lead_can_qualify_again(store: Store, rules: RuleSet) -> None:
    [rid], _ = apply_leads(store, rules, [{**SEMINAR, "lifecycle_stage": "recycled"}])
    assert lead(store, rid)["lifecycle_stage"] == "mql"


def _mql(**values: object) -> dict[str, object]:
    n = abs(hash(tuple(sorted(map(str, values.items()))))) % 10**8
    return {"email": f"m{n}@example.co.jp", "last_name": "営業", "company": "株式会社テスト",
            "lifecycle_stage": "mql", **values}


def test_overlapping_rules_first_match_wins_and_the_explanation_says_so(
        store: Store, rules: RuleSet) -> None:
    # A large Tokyo manufacturer matches manufacturing_large and east: the earlier one wins.
    row = _mql(email="big@maker.co.jp", prefecture="東京都", industry="製造業", employees=800)
    [rid], outcome = apply_leads(store, rules, [row])
    data = lead(store, rid)
    assert (data["team"], data["owner"], data["owner_name"]) == ("製造業営業", "ito", "伊藤 大輔")
    assert data["routing_rule"] == ("manufacturing_large: industry 製造業 in [製造業], "
                                    "employees 800 ≥ 300 → round-robin in 製造業営業")
    with store.transaction() as tx:
        lines = explain_route(rules, tx, "BIG@maker.co.jp").lines
    assert lines == [
        f"lead {rid} 営業 <b***@maker.co.jp>: stage mql, owner ito, team 製造業営業",
        "   1. existing_customer    not matched: existing_customer is blank",
        "   2. named_account        not matched: named_account false ≠ true",
        ("   3. finance              not matched: industry 製造業 not in "
         "[金融業・保険業, 金融, 保険]"),
        "   4. manufacturing_large  MATCHED: industry 製造業 in [製造業]; employees 800 ≥ 300",
        "   5. small_companies      not matched: employees 800 ≥ 50",
        ("   6. east                 matched, but an earlier rule won: region 関東 in "
         "[北海道・東北, 関東, 中部]"),
        ("   7. west                 not matched: region 関東 not in "
         "[近畿, 中国・四国, 九州・沖縄]"),
        ("decision if re-routed now: manufacturing_large → team 製造業営業, owner ito "
         "(industry 製造業 in [製造業], employees 800 ≥ 300 → round-robin in 製造業営業)"),
        ("note: already routed to ito by the rules; routing runs once per lead "
         "(renkei route --reroute to route it again)"),
    ]
    assert outcome.stats.routed == 1


def test_rule_order_decides_between_small_company_and_area(store: Store, rules: RuleSet) -> None:
    ids, _ = apply_leads(store, rules, [_mql(prefecture="大阪府", employees=20),
                                        _mql(prefecture="大阪府", employees=200)])
    assert [lead(store, i)["owner"] for i in ids] == ["kato", "takahashi"]
    assert [lead(store, i)["team"] for i in ids] == ["インサイドセールス", "西日本営業"]


def test_unmatched_lead_goes_to_the_default_queue_never_nowhere(
        store: Store, rules: RuleSet) -> None:
    [rid], _ = apply_leads(store, rules, [_mql()])
    data = lead(store, rid)
    assert (data["team"], data["owner"]) == ("未割当キュー", "queue")
    assert data["routing_rule"] == "default: no rule matched → default queue"


def test_existing_customer_goes_to_the_hub_account_owner(store: Store, rules: RuleSet) -> None:
    with store.transaction() as tx:
        [acc] = add(tx, "account", [{"name": "株式会社アオバ", "owner": "yamamoto",
                                     "is_customer": True}])
    [rid], _ = apply_leads(store, rules, [_mql(existing_customer=True, account_id=str(acc),
                                               prefecture="大阪府")])
    data = lead(store, rid)
    assert (data["owner"], data["team"]) == ("yamamoto", "既存顧客営業")
    assert data["routing_rule"] == ("existing_customer: existing_customer = true → account "
                                    "owner of 株式会社アオバ")


def test_named_account_matches_however_the_company_is_spelled(
        store: Store, rules: RuleSet) -> None:
    [rid], _ = apply_leads(store, rules, [_mql(company="(株)ｻｸﾗ精機", prefecture="福岡県")])
    assert (lead(store, rid)["owner"], lead(store, rid)["team"]) == ("nakamura", "既存顧客営業")


def test_customer_without_a_known_account_owner_falls_through_to_the_next_rules(
        store: Store, rules: RuleSet) -> None:
    [rid], outcome = apply_leads(store, rules, [_mql(existing_customer=True,
                                                     prefecture="北海道", employees=120)])
    assert lead(store, rid)["team"] == "東日本営業"
    trace = outcome.routed[rid].trace[0]
    assert (trace.name, trace.matched) == ("existing_customer", False)
    assert trace.reasons == ["existing_customer = true", "no account owner known"]


def test_round_robin_is_deterministic_and_continues_across_runs(
        store: Store, rules: RuleSet) -> None:
    ids, _ = apply_leads(store, rules, [_mql(prefecture="東京都", last_name=f"L{i}")
                                        for i in range(3)])
    ids2, _ = apply_leads(store, rules, [_mql(prefecture="東京都", last_name="L9")])
    assert [lead(store, i)["owner"] for i in ids + ids2] == ["tanaka", "suzuki", "tanaka",
                                                             "suzuki"]


def test_an_owner_sales_set_is_never_overridden_but_can_be_rerouted_on_request(
        store: Store, rules: RuleSet) -> None:
    [rid], outcome = apply_leads(store, rules, [_mql(prefecture="大阪府", owner="watanabe",
                                                     email="own@example.co.jp")])
    assert lead(store, rid)["owner"] == "watanabe" and not outcome.routed
    with store.transaction() as tx:
        assert explain_route(rules, tx, "own@example.co.jp").lines[-1].startswith(
            "note: owned by watanabe, set in test: routing never replaces")
        rerouted = reroute(rules, tx, "own@example.co.jp", NOW)
    assert lead(store, rid)["owner"] == "takahashi" and set(rerouted.routed) == {rid}
    with store.transaction() as tx:
        [entry] = [e for e in tx.journal.read("lead", after=0, limit=100) if e.source == "rules"]
    assert entry.fields == ["owner", "owner_name", "routing_rule", "team"]


def test_leads_that_are_not_mqls_are_not_routed(store: Store, rules: RuleSet) -> None:
    [rid], _ = apply_leads(store, rules, [_mql(lifecycle_stage="lead", prefecture="東京都")])
    assert "owner" not in lead(store, rid)
