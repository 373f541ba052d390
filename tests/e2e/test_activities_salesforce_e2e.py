"""Hub activities out to Salesforce Tasks over real HTTPS, on SQLite and PostgreSQL (issue #5).

Leads enter the hub from the Salesforce emulator itself (mappings/salesforce-leads.yaml);
activities from an in-memory source shaped like the Zoom and Brightcove streams (one record
per activity, keyed by its source id), so the test controls re-polls. The write side is the
real Salesforce connector and mappings/salesforce-tasks.yaml against the emulator.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.memory import MemoryStream
from renkei.engine.lookups import WAITING
from renkei.engine.runner import SyncRunner
from renkei.engine.stats import RunSummary
from renkei.project import Project
from renkei.store import DeadLetter, Store, schema
from sandbox.core.server import EmulatorServer
from sandbox.core.tls import make_tls
from sandbox.salesforce import SalesforceEmulator, SalesforceSettings
from tests.e2e.activity_source import activity_source

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
LEADS = 120  # seeded Salesforce leads; every twentieth (index 19, 39, ...) is converted
COLLECTIONS = "/services/data/v59.0/composite/sobjects"
UPSERT = f"{COLLECTIONS}/Task/Renkei_Id__c"  # creates; updates of linked Tasks go by Id

@dataclass
class World:
    emulator: SalesforceEmulator
    source: MemoryStream
    project: Project
    store: Store

    def sync(self, entity: str = "activity") -> RunSummary:
        summary = SyncRunner(self.project, self.store).sync(entity)
        assert summary.status == "completed", [s.error for s in summary.stats]
        return summary

    def task_writes_since(self, since: int) -> list[str]:
        """The write calls since ``since``, as ``PATH STATUS`` (only sObject Collections)."""
        return [f"{c.path} {c.status}" for c in self.emulator.calls.list(since=since)
                if c.method in ("PATCH", "POST", "DELETE") and c.path.startswith(COLLECTIONS)]

    def tasks(self) -> dict[str, dict[str, Any]]:
        records, total = self.emulator.list_records("Task", offset=0, limit=10_000)
        assert total == len(records)
        by_ext = {str(r["Renkei_Id__c"]): r for r in records}
        assert len(by_ext) == len(records), "one Task per source id"
        return by_ext

    def open_letters(self) -> list[DeadLetter]:
        with self.store.transaction() as tx:
            return tx.dead_letters.open("salesforce-tasks", "out")


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[World]:
    maps = tmp_path / "mappings"
    name, source = activity_source(maps)
    for mapping in ("salesforce-leads.yaml", "salesforce-tasks.yaml"):
        shutil.copy(REPO / "mappings" / mapping, maps)
    emulator = SalesforceEmulator(SalesforceSettings(size=LEADS, seed=13))
    tls = make_tls(tmp_path / "tls")
    creds = emulator.credentials()
    with EmulatorServer(emulator.asgi(), name="salesforce", tls=tls) as server:
        project = Project(root=tmp_path, database_url=db_url, mappings_dir=maps,
                          ca_bundle=str(tls.ca_path), connections={
            "events": {"type": "memory", "config": {"dataset": name}},
            "salesforce": {"type": "salesforce", "config": {
                "login_url": server.url, "client_id": creds["client_id"],
                "client_secret": creds["client_secret"], "external_id_field": "Renkei_Id__c",
                "streams": ["Lead", "Task"], "retry_base_delay_s": 0.01}}})
        store = Store.open(db_url)
        try:
            yield World(emulator, source, project, store)
        finally:
            store.close()
            project.close()


def _people(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(open leads, converted leads) of the seeded org."""
    leads, _ = world.emulator.list_records("Lead", offset=0, limit=LEADS)
    return ([r for r in leads if not r["IsConverted"]], [r for r in leads if r["IsConverted"]])


def _attendance(webinar: int, email: str, minutes: float = 45.0) -> dict[str, Any]:
    return {"source_id": f"zoom:web{webinar}:{email.lower()}", "kind": "webinar_attended",
            "channel": "webinar", "at": "2026-09-10T20:30:00Z", "email": email,
            "title": "製造業DXセミナー", "minutes": minutes, "percent": None,
            "extra": {"sessions": 2, "name": "参加者"}}


def test_activities_become_tasks_once_and_wait_for_their_lead(world: World) -> None:
    world.sync("lead")  # the seeded Salesforce leads, linked in the hub
    open_leads, converted = _people(world)
    assert len(open_leads) == LEADS - LEADS // 20
    ids = [world.source.create(_attendance(w, lead["Email"], 30 + i % 40))
           for w in range(2) for i, lead in enumerate(open_leads[:120])]
    world.source.create(_attendance(0, converted[0]["Email"]))  # sales converted that lead
    newcomer = "newcomer@kaizen-kogyo.co.jp"
    world.source.create(_attendance(0, newcomer))  # not a Salesforce lead yet
    world.source.create({"source_id": "brightcove:v1:anon-1", "kind": "video_viewed",
                         "channel": "on_demand_seminar", "at": "2026-11-18T00:00:00Z",
                         "email": None, "title": "オンデマンド: 生産管理入門", "percent": 92.5})

    since = world.emulator.calls.last_seq
    summary = world.sync()
    out = summary.get("salesforce-tasks", "out")
    # 228 Tasks plus the converted lead's, in ⌈229/200⌉ upserts; the newcomer waits; the
    # anonymous viewer has no person for WhoId and stays in the hub.
    assert world.task_writes_since(since) == [f"{UPSERT} 200"] * math.ceil(229 / 200)
    assert (out.created, out.failed, out.write_calls, out.skipped_by_filter) == (228, 2, 2, 1)
    # renkei's ledger and the emulator's own log agree call for call: Task's describe and the
    # upserts, no per-record call (the in-memory source counts its own read apart).
    calls = world.emulator.calls.list(since=since)
    assert out.api_calls == len(calls) == 1 + out.write_calls
    assert sum(s.api_calls for s in summary.stats if s.mapping != "events-activities") == len(calls)
    tasks = world.tasks()
    assert len(tasks) == 228
    lead = open_leads[7]
    task = tasks[f"zoom:web1:{lead['Email'].lower()}"]
    assert (task["WhoId"], task["Subject"], task["Type"], task["Status"], task["IsClosed"]) == (
        lead["Id"], "製造業DXセミナー", "Webinar", "Completed", True)
    assert (task["ActivityDate"], task["Attended_Minutes__c"]) == ("2026-09-11", 37.0)
    assert task["Description"] == '{"name":"参加者","sessions":2}'
    letters = {d.code: d for d in world.open_letters()}
    assert set(letters) == {WAITING, "CANNOT_UPDATE_CONVERTED_LEAD"}
    assert letters[WAITING].retriable and not letters[WAITING].permanent
    assert newcomer not in letters[WAITING].message

    # Nothing changed: nothing written, not even for the activity still waiting.
    since = world.emulator.calls.last_seq
    again = world.sync().get("salesforce-tasks", "out")
    assert world.task_writes_since(since) == []
    assert again.created + again.updated + again.write_calls == 0

    # Sales adds the newcomer as a lead; the next lead sync links it, and the next activity
    # sync writes the waiting Task on that lead.
    added = world.emulator.create_record("Lead", {"LastName": "新井", "Company": "改善工業株式会社",
                                                  "Email": newcomer})
    world.sync("lead")
    since = world.emulator.calls.last_seq
    landed = world.sync().get("salesforce-tasks", "out")
    assert world.task_writes_since(since) == [f"{UPSERT} 200"]
    assert (landed.created, landed.write_calls) == (1, 1)
    assert world.tasks()[f"zoom:web0:{newcomer}"]["WhoId"] == added["Id"]
    assert [d.code for d in world.open_letters()] == ["CANNOT_UPDATE_CONVERTED_LEAD"]

    # Zoom is polled again (its lookback re-delivers rows): the same source ids come back,
    # one with a later report row that adds minutes. One update, no new Task.
    for rid in ids[:30]:
        world.source.edit(rid, {})
    world.source.edit(ids[3], {"minutes": 99})
    since = world.emulator.calls.last_seq
    repolled = world.sync().get("salesforce-tasks", "out")
    assert world.task_writes_since(since) == [f"{COLLECTIONS} 200"]  # by Id
    assert (repolled.created, repolled.updated) == (0, 1)
    after = world.tasks()
    assert len(after) == 229
    assert after[f"zoom:web0:{open_leads[3]['Email'].lower()}"]["Attended_Minutes__c"] == 99.0


def test_activities_replayed_after_a_lost_link_update_the_same_tasks(world: World) -> None:
    world.sync("lead")
    open_leads, _ = _people(world)
    for lead in open_leads[:5]:
        world.source.create(_attendance(0, lead["Email"]))
    assert world.sync().get("salesforce-tasks", "out").created == 5
    before = {ext: task["Id"] for ext, task in world.tasks().items()}
    # The run died after Salesforce saved the Tasks but before renkei stored the links.
    with world.store.engine.begin() as conn:
        for table in (schema.links, schema.cursors):
            conn.execute(table.delete().where(table.c.mapping == "salesforce-tasks"))
    since = world.emulator.calls.last_seq
    resent = world.sync().get("salesforce-tasks", "out")
    assert world.task_writes_since(since) == [f"{UPSERT} 200"]
    # Upserted by Renkei_Id__c = the source id: Salesforce answers created: false.
    assert (resent.write_calls, resent.created, resent.updated) == (1, 0, 5)
    assert {ext: task["Id"] for ext, task in world.tasks().items()} == before
