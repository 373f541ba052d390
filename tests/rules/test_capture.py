"""An attendee unknown to every system becomes a new lead with the webinar as source, reaches
the other systems with the next lead run, and is never created twice (issue #5), on SQLite and
PostgreSQL."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from renkei.engine.runner import SyncRunner
from renkei.store import Store
from tests.engine.harness import World, make_world

from .support import rules_dir
from .test_rules_engine import CRM, MA

VIEWS = textwrap.dedent("""\
    name: ma-webinar
    connection: ma
    stream: attendance
    entity: activity
    system_modified: updated_at
    match:
      - {name: source_id, fields: [source_id], normalize: none}
    conflict: {default: {policy: system_wins, owner: ma}}
    fields:
      source_id: {system: sid, direction: in}
      type: {system: "'webinar_attended'", direction: in}
      occurred_at: {system: at, direction: in}
      email: {system: email, direction: in, transform: [trim, lower]}
      channel: {system: "'webinar'", direction: in}
      campaign: {system: webinar, direction: in}
      minutes: {system: minutes, direction: in}
      details: {system: "{name: name}", direction: in}
    """)
ATTENDANCE = {"type": "object", "properties": {k: {"type": ["string", "number", "null"]} for k in (
    "id", "updated_at", "sid", "at", "email", "webinar", "minutes", "name")}}


@pytest.fixture
def world(tmp_path: Path, store: Store) -> Iterator[World]:
    w = make_world(tmp_path, store, ma=MA, crm=CRM.replace(
        "outbound: \"lifecycle_stage == 'mql'\"", "outbound: \"email != null\""))
    (w.project.mappings_dir / "ma-webinar.yaml").write_text(VIEWS, encoding="utf-8")
    w.dataset.add_stream("attendance", ATTENDANCE)
    w.project.rules_dir = rules_dir(tmp_path)
    yield w
    w.close()


def _attend(w: World, sid: str, email: str | None, name: str) -> None:
    w.dataset.streams["attendance"].create({
        "sid": sid, "at": "2026-11-20T05:00:00Z", "email": email, "webinar": "81234568001",
        "minutes": 55, "name": name})


def _sync_all(w: World) -> None:
    """As `renkei sync` does (renkei.project.SYNC_ORDER): leads, then activities; the leads
    that activities captured reach the systems in the next lead run."""
    w.sync()
    SyncRunner(w.project, w.store).sync("activity")
    w.sync()


def _leads(w: World) -> dict[str, dict[str, object]]:
    return {str(r.get("email")): r for r in w.hub() if r.get("email") and "source_id" not in r}


def test_an_unknown_attendee_becomes_a_webinar_lead_in_every_system_once(world: World) -> None:
    world.ma.create({"email": "known@sakura-seiki.co.jp", "last_name": "佐藤", "stage": "lead",
                     "source": "seminar"})
    _attend(world, "zoom:w1:known@sakura-seiki.co.jp", "Known@Sakura-Seiki.co.jp", "佐藤 一郎")
    _attend(world, "zoom:w1:new@midori.co.jp", "new@midori.co.jp", "緑川\u3000花子")
    _attend(world, "zoom:w1:again@midori.co.jp", "new@midori.co.jp", "緑川 花子")
    _attend(world, "zoom:w1:participant:p9", None, "ゲスト")
    _sync_all(world)

    leads = _leads(world)
    assert sorted(leads) == ["known@sakura-seiki.co.jp", "new@midori.co.jp"]
    new = leads["new@midori.co.jp"]
    assert (new["lead_source"], new["last_touch_channel"], new["last_name"], new["first_name"],
            new["campaign"]) == ("webinar", "webinar", "緑川", "花子", "81234568001")
    assert leads["known@sakura-seiki.co.jp"]["lead_source"] == "seminar"  # not touched
    # The new lead reached both systems (by the lead run after the activity run).
    assert [r["Email"] for r in world.crm.find(Email="new@midori.co.jp")] == ["new@midori.co.jp"]
    assert len(world.ma.find(email="new@midori.co.jp")) == 1

    _attend(world, "zoom:w2:new@midori.co.jp", "new@midori.co.jp", "緑川 花子")
    _sync_all(world)
    assert sorted(_leads(world)) == ["known@sakura-seiki.co.jp", "new@midori.co.jp"]
    assert len(world.crm.find(Email="new@midori.co.jp")) == 1
