"""A newer marketing activity moves the lead's last touch, and with it the channel's threshold."""

from __future__ import annotations

from typing import Any

from renkei.rules import RuleSet
from renkei.store import Store

from .support import NOW, add, changes_of, lead

# An exhibition lead: the seminar rule wants behaviour 30, which she does not have.
EXHIBITION = {"email": "hana@midori.co.jp", "last_name": "花", "company": "株式会社ミドリ",
              "lead_source": "exhibition", "lifecycle_stage": "lead", "behavior_score": 5,
              "attribute_score": 30}


def _view(percent: float, when: str, sid: str = "bc:1") -> dict[str, Any]:
    return {"source_id": sid, "type": "video_viewed", "percent": percent, "occurred_at": when,
            "email": "Hana@Midori.co.jp", "subject": "オンデマンド: 生産管理入門",
            "channel": "on_demand_seminar"}


def _person(store: Store, rules: RuleSet, **extra: Any) -> int:
    person = {**EXHIBITION, **extra}
    with store.transaction() as tx:
        [rid] = add(tx, "lead", [person])
        rules.apply(tx, changes_of("lead", [rid], [person]), NOW)
    return rid


def _activities(store: Store, rules: RuleSet, *activities: dict[str, Any]) -> Any:
    with store.transaction() as tx:
        ids = add(tx, "activity", list(activities))
        return rules.apply(tx, changes_of("activity", ids, list(activities)), NOW)


def test_a_video_watched_to_80_percent_qualifies_an_exhibition_lead_by_the_video_rule(
        store: Store, rules: RuleSet) -> None:
    rid = _person(store, rules)
    assert lead(store, rid)["lifecycle_stage"] == "lead"  # exhibition rule not met
    outcome = _activities(store, rules, _view(85, "2026-03-01T10:00:00Z"))
    data = lead(store, rid)
    assert (data["last_touch_channel"], data["last_touch_at"], data["campaign"]) == (
        "on_demand_seminar", "2026-03-01T10:00:00Z", "オンデマンド: 生産管理入門")
    assert data["lifecycle_stage"] == "mql"
    assert data["qualification_reason"].startswith("on_demand_seminar: attribute 30 ≥ 20")
    assert rid in outcome.qualified


def test_a_view_under_80_percent_moves_the_touch_but_does_not_qualify(
        store: Store, rules: RuleSet) -> None:
    rid = _person(store, rules)
    _activities(store, rules, _view(40, "2026-03-01T10:00:00Z"))
    data = lead(store, rid)
    assert (data["last_touch_channel"], data["lifecycle_stage"]) == ("on_demand_seminar", "lead")


def test_an_older_activity_arriving_late_never_moves_the_touch_back(
        store: Store, rules: RuleSet) -> None:
    rid = _person(store, rules, behavior_score=0)
    _activities(store, rules, _view(40, "2026-03-02T09:00:00Z"))
    late = {"source_id": "zoom:w1:hana@midori.co.jp", "type": "webinar_attended",
            "occurred_at": "2026-03-01T05:00:00Z", "email": "hana@midori.co.jp",
            "channel": "webinar", "campaign": "81234568001", "minutes": 50}
    _activities(store, rules, late)
    data = lead(store, rid)
    assert (data["last_touch_channel"], data["last_touch_at"]) == (
        "on_demand_seminar", "2026-03-02T09:00:00Z")


def test_the_newest_of_several_activities_in_one_pass_wins(
        store: Store, rules: RuleSet) -> None:
    rid = _person(store, rules, behavior_score=0)
    webinar = {"source_id": "zoom:w2:hana@midori.co.jp", "type": "webinar_attended",
               "occurred_at": "2026-03-03T05:00:00Z", "email": "hana@midori.co.jp",
               "channel": "webinar", "campaign": "81234568002", "minutes": 30}
    _activities(store, rules, _view(10, "2026-03-01T10:00:00Z"), webinar)
    data = lead(store, rid)
    assert (data["last_touch_channel"], data["campaign"]) == ("webinar", "81234568002")


def test_a_lead_sales_already_have_keeps_the_touch_that_handed_it_over(
        store: Store, rules: RuleSet) -> None:
    rid = _person(store, rules, lifecycle_stage="sql", last_touch_channel="inquiry")
    _activities(store, rules, _view(95, "2026-03-01T10:00:00Z"))
    data = lead(store, rid)
    assert (data["last_touch_channel"], data["lifecycle_stage"]) == ("inquiry", "sql")
    assert "last_touch_at" not in data
