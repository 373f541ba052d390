"""The rules phase runs between inbound and outbound in one transaction, so a lead that
qualifies in a run reaches the other system in that run (issue #4), on SQLite and PostgreSQL."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from renkei.cli import main
from renkei.engine.outbound import PlannedWrite
from renkei.engine.runner import SyncRunner
from renkei.store import Store
from tests.engine.harness import World, make_world

from .support import rules_dir

MA = textwrap.dedent("""\
    name: ma-contacts
    connection: ma
    stream: contacts
    entity: lead
    system_modified: updated_at
    match:
      - {name: email, fields: [email], normalize: email}
    conflict: {default: newest_wins}
    fields:
      email: {system: email, transform: [trim, lower]}
      last_name: last_name
      company: company
      prefecture: pref
      lead_source: {system: source, direction: in}
      behavior_score: {system: bscore, direction: in}
      attribute_score: {system: ascore, direction: in}
      lifecycle_stage: stage
    """)
CRM = textwrap.dedent("""\
    name: crm-leads
    connection: crm
    stream: leads
    entity: lead
    system_modified: updated_at
    match:
      - {name: email, fields: [email], normalize: email}
    conflict: {default: newest_wins}
    fields:
      email: {system: Email, transform: [trim, lower]}
      last_name: LastName
      company: Company
      lifecycle_stage: Stage
      owner: {system: Owner, direction: out}
      team: {system: Team, direction: out}
      routing_rule: {system: Why, direction: out}
    filter:
      outbound: "lifecycle_stage == 'mql'"
    """)


@pytest.fixture
def world(tmp_path: Path, store: Store) -> Iterator[World]:
    w = make_world(tmp_path, store, ma=MA, crm=CRM)
    w.project.rules_dir = rules_dir(tmp_path)
    yield w
    w.close()


def _person(w: World, email: str, **extra: object) -> str:
    return w.ma.create({"email": email, "last_name": "山田", "company": "株式会社ミドリ",
                        "pref": "大阪府", "source": "seminar", "bscore": 42, "ascore": 25,
                        "stage": "lead", **extra})


def test_a_lead_that_qualifies_in_a_run_reaches_the_outbound_system_in_that_run(
        world: World) -> None:
    ma_id = _person(world, "taro@midori.co.jp")
    _person(world, "cold@midori.co.jp", bscore=3)
    summary = world.sync()
    assert summary.status == "completed"
    stats = summary.rules
    assert (stats.qualified, stats.routed, stats.alerts_created) == (1, 1, 1)
    [crm] = world.crm.records.values()       # the filter lets only MQLs through
    assert (crm["Email"], crm["Stage"], crm["Owner"], crm["Team"]) == (
        "taro@midori.co.jp", "mql", "takahashi", "西日本営業")
    assert crm["Why"].startswith("west: region 近畿 in")
    assert world.ma.records[ma_id]["stage"] == "mql"  # and back to the MA, as any hub change
    writes = world.writes()
    again = world.sync()
    assert world.writes() == writes               # converged: nothing more to send
    assert (again.rules.qualified, again.rules.routed, again.rules.alerts_created) == (0, 0, 0)
    assert again.as_json()["rules"]["qualified"] == 0


def test_rule_changes_are_journalled_as_rules_and_applied_once(world: World,
                                                               store: Store) -> None:
    _person(world, "taro@midori.co.jp")
    world.sync()
    world.sync()
    with store.transaction() as tx:
        entries = tx.journal.read("lead", after=0, limit=100)
        assert [e.source for e in entries].count("rules") == 1
        assert tx.records.count("alert") == 1
        assert tx.journal.read("alert", after=0, limit=10)[0].source == "rules"


def test_plan_shows_what_the_rules_would_change_and_keeps_nothing(world: World,
                                                                  store: Store) -> None:
    _person(world, "plan@midori.co.jp")
    plan: dict[str, list[PlannedWrite]] = {}
    dry = Store.open(str(store.engine.url.render_as_string(hide_password=False)), dry_run=True)
    try:
        SyncRunner(world.project, dry, plan=plan).sync("lead")
    finally:
        dry.close()
    [write] = plan["crm-leads"]
    assert (write.hub_values["lifecycle_stage"], write.hub_values["owner"]) == ("mql", "takahashi")
    assert world.crm.records == {}
    with store.transaction() as tx:
        assert tx.records.count("lead") == 0 and tx.records.count("alert") == 0


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[tuple[World, str]]:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    store = Store.open(db)
    w = make_world(tmp_path, store, ma=MA, crm=CRM)
    w.project.rules_dir = rules_dir(tmp_path)
    yield w, db
    w.close()
    store.close()


def test_route_explain_prints_each_rule_and_the_decision(
        sqlite_world: tuple[World, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    world, db = sqlite_world
    _person(world, "cli@midori.co.jp")
    world.sync()
    (tmp_path / "renkei.yaml").write_text(
        f"database: {db}\nmappings: {world.project.mappings_dir}\nrules: rules\nconnections:\n"
        f"  ma: {{type: memory, config: {{dataset: {world.dataset.name}}}}}\n"
        f"  crm: {{type: memory, config: {{dataset: {world.dataset.name}}}}}\n", encoding="utf-8")
    assert main(["--project", str(tmp_path), "route", "--explain", "CLI@midori.co.jp"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "lead 1 山田 <c***@midori.co.jp>: stage mql, owner takahashi, team 西日本営業"
    assert len(out) == 1 + 7 + 2
    assert out[7].split() == ["7.", "west", "MATCHED:", "region", "近畿", "in",
                              "[近畿,", "中国・四国,", "九州・沖縄]"]
    # already routed: the decision line is what a re-route would do (the rotation moved on)
    assert out[8] == ("decision if re-routed now: west → team 西日本営業, owner watanabe "
                      "(region 近畿 in [近畿, 中国・四国, 九州・沖縄] → round-robin in 西日本営業)")
    assert main(["--project", str(tmp_path), "route", "--explain", "nobody@midori.co.jp"]) == 1
    assert "no hub lead with the e-mail n***@midori.co.jp" in capsys.readouterr().err
