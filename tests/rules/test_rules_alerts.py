"""Alerts: owners' preferences, templates, dedupe on rerun, nags after N days (issue #4)."""

from __future__ import annotations

import pytest

from renkei.clock import utcnow
from renkei.rules import RuleSet
from renkei.rules.alerts import shift
from renkei.store import Store

from .support import NOW, add, alerts, apply_leads, changes_of, lead, load

OWNERS = """\
    kind: owners
    default_alerts: [hot_lead, new_assignment, no_progress]
    teams:
      東日本営業: [tanaka, suzuki]
      未割当キュー: [queue]
    owners:
      tanaka: {name: 田中 一郎}
      suzuki: {name: 鈴木 花子, alerts: [new_assignment]}
      queue: {name: 未割当キュー, quiet: true}
    """
ROUTING = """\
    kind: routing
    default: {team: 未割当キュー, owner: queue}
    rules:
      - name: tanaka_for_tokyo
        when: {prefecture: 東京都}
        assign: {team: 東日本営業, owner: tanaka}
      - name: suzuki_for_kanagawa
        when: {prefecture: 神奈川県}
        assign: {team: 東日本営業, owner: suzuki}
    """


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    return load(tmp_path_factory.mktemp("rules"), owners=OWNERS, routing=ROUTING)


def _mql(email: str, prefecture: str | None) -> dict[str, object]:
    row: dict[str, object] = {"email": email, "last_name": "山田", "first_name": "太郎",
                              "company": "株式会社ミドリ", "lifecycle_stage": "mql"}
    if prefecture:
        row["prefecture"] = prefecture
    return row


def _attend(store: Store, rules: RuleSet, email: str, source_id: str = "zoom:1",
            now: str = NOW) -> list[int]:
    activity = {"source_id": source_id, "type": "webinar_attended", "email": email,
                "occurred_at": "2026-03-01T10:00:00Z", "subject": "IT導入セミナー", "minutes": 55}
    with store.transaction() as tx:
        ids = add(tx, "activity", [activity])
        return rules.apply(tx, changes_of("activity", ids, [activity]), now).alerts


def test_activity_alert_reaches_the_owner_with_the_next_action_from_its_template(
        store: Store, rules: RuleSet) -> None:
    [rid], _outcome = apply_leads(store, rules, [_mql("taro@midori.co.jp", "東京都")])
    assert [a["rule"] for a in alerts(store)] == ["new_mql"]
    assert len(_attend(store, rules, " Taro@Midori.CO.JP")) == 1   # matched by e-mail
    hot = next(a for a in alerts(store) if a["rule"] == "webinar_attended")
    assert hot == {
        "owner": "tanaka", "type": "hot_lead", "priority": "high", "status": "open",
        "title": "山田 太郎 さんがIT導入セミナーに参加",
        "next_action": "山田 太郎 さんがIT導入セミナーに参加 — アンケートを確認",
        "lead_id": str(rid), "email": "taro@midori.co.jp", "rule": "webinar_attended",
        "created_at": NOW, "due_at": shift(NOW, 3)}


def test_owner_preferences_and_quiet_switch_are_honoured(store: Store, rules: RuleSet) -> None:
    # suzuki takes only new_assignment alerts; the queue is quiet.
    _ids, outcome = apply_leads(store, rules, [_mql("s@example.co.jp", "神奈川県"),
                                              _mql("q@example.co.jp", None)])
    assert [(a["owner"], a["type"]) for a in alerts(store)] == [("suzuki", "new_assignment")]
    assert outcome.stats.alerts_suppressed == 1                    # the queue's new_mql
    assert _attend(store, rules, "s@example.co.jp") == []          # suzuki: no hot_lead
    assert len(alerts(store)) == 1


def test_rerun_on_the_same_changes_raises_nothing_twice(store: Store, rules: RuleSet) -> None:
    row = _mql("taro@midori.co.jp", "東京都")
    with store.transaction() as tx:
        [rid] = add(tx, "lead", [row])
        activity = {"source_id": "zoom:9", "type": "webinar_attended", "email": row["email"],
                    "occurred_at": "2026-03-01T10:00:00Z", "subject": "DX"}
        [aid] = add(tx, "activity", [activity])
        changes = {**changes_of("lead", [rid], [row]), **changes_of("activity", [aid], [activity])}
        first = rules.apply(tx, changes, NOW)
    with store.transaction() as tx:
        second = rules.apply(tx, changes, shift(NOW, 0.01))
    assert first.stats.alerts_created == 2 and second.stats.alerts_created == 0
    assert sorted(a["rule"] for a in alerts(store)) == ["new_mql", "webinar_attended"]


def test_lead_without_an_owner_gets_no_alert(store: Store, rules: RuleSet) -> None:
    with store.transaction() as tx:
        add(tx, "lead", [{"email": "new@example.co.jp", "last_name": "新規",
                          "lifecycle_stage": "lead"}])
    assert _attend(store, rules, "new@example.co.jp") == []
    assert alerts(store) == []


def test_nag_after_n_days_untouched_once_while_open(store: Store, rules: RuleSet) -> None:
    [rid], _ = apply_leads(store, rules, [_mql("idle@example.co.jp", "東京都")])
    real_now = utcnow()
    with store.transaction() as tx:
        assert rules.apply(tx, {}, shift(real_now, 13)).stats.alerts_created == 0
        nag = rules.apply(tx, {}, shift(real_now, 15))
        assert nag.stats.alerts_created == 1
        assert rules.apply(tx, {}, shift(real_now, 30)).stats.alerts_created == 0  # one open
    [alert] = [a for a in alerts(store) if a["rule"] == "untouched_14_days"]
    assert (alert["owner"], alert["type"], alert["title"]) == (
        "tanaka", "no_progress", "山田 太郎 さん: 14日間進捗なし")
    assert lead(store, rid)["lifecycle_stage"] == "mql"  # a nag never touches the lead


def test_recent_activity_counts_as_a_touch(store: Store, rules: RuleSet) -> None:
    apply_leads(store, rules, [_mql("busy@example.co.jp", "東京都")])
    later = shift(utcnow(), 20)
    activity = {"source_id": "web:1", "type": "web_visit", "email": "busy@example.co.jp",
                "occurred_at": shift(later, -2)}
    with store.transaction() as tx:
        ids = add(tx, "activity", [activity])
        rules.apply(tx, changes_of("activity", ids, [activity]), later)
        assert rules.apply(tx, {}, later).stats.alerts_created == 0
        assert rules.apply(tx, {}, shift(later, 13)).stats.alerts_created == 1


def test_a_closed_nag_is_followed_by_a_new_one_only_after_a_new_idle_period(
        store: Store, rules: RuleSet) -> None:
    [_rid], _ = apply_leads(store, rules, [_mql("again@example.co.jp", "東京都")])
    later = shift(utcnow(), 15)
    with store.transaction() as tx:
        [aid] = rules.apply(tx, {}, later).alerts
        done = tx.records.get_many([aid])[aid]
        done.data["status"] = "done"
        tx.records.update_many([done])
        assert rules.apply(tx, {}, shift(later, 1)).stats.alerts_created == 0  # same idle spell
