"""Outbound field lookups (issue #5): an activity's e-mail written as its lead's system id,
batched per window, waiting in the dead letters until the lead is in the system."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from connectors.memory import MemoryStream
from renkei.engine.lookups import WAITING, resolve_lookups
from renkei.engine.runner import SyncRunner
from renkei.mapping import validate_paths
from renkei.store import Store
from tests.engine.harness import World, crm_mapping, make_world

EVENTS_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string"}, "updated_at": {"type": "string"},
    **{k: {"type": ["string", "null"]} for k in ("sid", "email", "title", "at")}}}
TASKS_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "string"}, "updated_at": {"type": "string"},
    **{k: {"type": ["string", "null"]} for k in ("ExtId", "WhoId", "Subject")}}}

EVENTS_MAPPING = textwrap.dedent("""\
    name: ma-events
    connection: ma
    stream: events
    entity: activity
    system_modified: updated_at
    match:
      - {name: source_id, fields: [source_id], normalize: none}
    fields:
      source_id: {system: sid, direction: in}
      type: {system: "'webinar_attended'", direction: in}
      occurred_at: {system: at, direction: in, transform: [datetime]}
      email: {system: email, direction: in}
      subject: {system: title, direction: in}
    """)


def tasks_mapping(lookup: str = "{entity: lead, by: email, mapping: crm-leads}") -> str:
    return textwrap.dedent(f"""\
        name: crm-tasks
        connection: crm
        stream: tasks
        entity: activity
        match:
          - {{name: source_id, fields: [source_id], normalize: none}}
        filter:
          outbound: "email != null"
        fields:
          source_id: {{system: ExtId, direction: out}}
          subject: {{system: Subject, direction: out}}
          email:
            system: WhoId
            direction: out
            lookup: {lookup}
        """)


class ActivityWorld:
    def __init__(self, tmp: Path, store: Store) -> None:
        self.w: World = make_world(tmp, store)
        self.events: MemoryStream = self.w.dataset.add_stream("events", EVENTS_SCHEMA)
        self.tasks: MemoryStream = self.w.dataset.add_stream("tasks", TASKS_SCHEMA)
        mdir = self.w.project.mappings_dir
        (mdir / "ma-events.yaml").write_text(EVENTS_MAPPING, encoding="utf-8")
        (mdir / "crm-tasks.yaml").write_text(tasks_mapping(), encoding="utf-8")

    def sync(self, entity: str) -> Any:
        summary = SyncRunner(self.w.project, self.w.store).sync(entity)
        assert summary.status == "completed", [s.error for s in summary.stats]
        return summary

    def attend(self, sid: str, email: str | None) -> str:
        return self.events.create({"sid": sid, "email": email, "title": f"webinar {sid}",
                                   "at": "2026-09-10T05:03:00Z"})

    def crm_id(self, email: str) -> str:
        [lead] = self.crm_leads(email)
        return str(lead["id"])

    def crm_leads(self, email: str) -> list[dict[str, Any]]:
        return self.w.crm.find(Email=email)

    def waiting(self) -> list[Any]:
        with self.w.store.transaction() as tx:
            return tx.dead_letters.open("crm-tasks", "out")


@pytest.fixture
def aw(tmp_path: Path, store: Store) -> Iterator[ActivityWorld]:
    world = ActivityWorld(tmp_path, store)
    yield world
    world.w.close()


def test_tasks_carry_the_leads_system_id_and_wait_for_leads_not_there_yet(
        aw: ActivityWorld) -> None:
    aw.w.ma.create({"email": "taro@example.co.jp", "last_name": "山田"})
    aw.sync("lead")
    taro = aw.crm_id("taro@example.co.jp")
    aw.attend("zoom:w1:taro", "taro@example.co.jp")
    aw.attend("zoom:w2:taro", "Taro@Example.co.jp ")  # found through the e-mail key's folding
    aw.attend("zoom:w1:hanako", "hanako@example.co.jp")  # not a lead anywhere yet
    aw.attend("zoom:w1:guest", None)  # the filter keeps it in the hub; nothing to wait for
    out = aw.sync("activity").get("crm-tasks", "out")
    assert (out.created, out.write_calls) == (2, 1)
    assert {t["ExtId"]: t["WhoId"] for t in aw.tasks.records.values()} == {
        "zoom:w1:taro": taro, "zoom:w2:taro": taro}
    [held] = aw.waiting()
    assert (held.code, held.category, held.permanent) == (WAITING, "not_found", False)
    assert "waiting for lead by email" in held.message and "hanako" not in held.message

    again = aw.sync("activity").get("crm-tasks", "out")
    assert again.created + again.updated + again.write_calls == 0
    assert len(aw.waiting()) == 1

    aw.w.ma.create({"email": "hanako@example.co.jp", "last_name": "佐藤"})
    aw.sync("lead")
    landed = aw.sync("activity").get("crm-tasks", "out")
    assert (landed.created, landed.write_calls) == (1, 1)
    assert aw.tasks.find(ExtId="zoom:w1:hanako")[0]["WhoId"] == aw.crm_id("hanako@example.co.jp")
    assert aw.waiting() == []
    last = aw.sync("activity").get("crm-tasks", "out")
    assert last.created + last.updated + last.write_calls == 0
    assert len(aw.tasks.records) == 3


def test_a_window_is_resolved_with_a_fixed_number_of_queries(aw: ActivityWorld) -> None:
    aw.w.ma.create({"email": "taro@example.co.jp", "last_name": "山田"})
    aw.sync("lead")
    mapping = next(m for m in aw.w.project.mappings() if m.name == "crm-tasks")

    def queries(n: int) -> int:
        for i in range(n):
            aw.attend(f"s{n}:{i}", "taro@example.co.jp" if i % 2 else f"p{n}-{i}@example.co.jp")
        aw.sync("activity")
        with aw.w.store.transaction() as tx:
            records = {r.id: r for r in tx.records.page("activity", limit=10_000)}
        seen: list[str] = []

        def count(*_args: Any) -> None:
            seen.append("q")

        event.listen(aw.w.store.engine, "before_cursor_execute", count)
        try:
            planned, failures = resolve_lookups(aw.w.store, mapping, records)
        finally:
            event.remove(aw.w.store.engine, "before_cursor_execute", count)
        assert len(planned) + len(failures) == len(records)
        return len(seen)

    assert queries(4) == queries(120)


def _validate(tmp: Path, tasks: str) -> list[str]:
    d = tmp / "check"
    d.mkdir(exist_ok=True)
    (d / "crm-leads.yaml").write_text(crm_mapping(), encoding="utf-8")
    (d / "crm-tasks.yaml").write_text(tasks, encoding="utf-8")
    return [p.format() for p in validate_paths([d]) if p.is_error]


@pytest.mark.parametrize(("lookup", "where", "message"), [
    ("{entity: lead, by: email, mapping: crm-lead}", "15:", "unknown mapping 'crm-lead' (did you"),
    ("{entity: deal, by: name, mapping: crm-leads}", "15:", "maps entity lead, not deal"),
    ("{entity: leads, by: email, mapping: crm-leads}", "15:", "unknown entity 'leads'"),
    ("{entity: lead, by: emial, mapping: crm-leads}", "15:", "unknown field 'emial'"),
    ("{entity: lead, by: last_name, mapping: crm-leads}", "15:", "no match key on exactly"),
])
def test_a_bad_lookup_is_reported_at_its_line(tmp_path: Path, lookup: str, where: str,
                                              message: str) -> None:
    [problem] = _validate(tmp_path, tasks_mapping(lookup))
    assert f"crm-tasks.yaml:{where}" in problem and message in problem, problem


def test_a_good_lookup_validates(tmp_path: Path) -> None:
    assert _validate(tmp_path, tasks_mapping()) == []
