"""Hub activities out to kintone 活動履歴 over real HTTP (issue #5).

Activities enter the hub from an in-memory source stream shaped like the Zoom and Brightcove
streams (one record per activity, keyed by its source id), so the test controls re-polls;
the write side is the real connector against the kintone emulator.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.memory import MemoryStream
from renkei.engine.runner import SyncRunner
from renkei.engine.stats import RunSummary
from renkei.project import Project
from renkei.store import Store, schema
from sandbox.core.server import EmulatorServer
from sandbox.kintone import API_TOKENS, KintoneEmulator, KintoneSettings
from sandbox.kintone.testing import running_emulator
from tests.e2e.activity_source import activity_source

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
KINTONE_ACTIVITIES = "4"

@dataclass
class World:
    emulator: KintoneEmulator
    server: EmulatorServer
    source: MemoryStream
    project: Project
    store: Store

    def sync(self) -> RunSummary:
        summary = SyncRunner(self.project, self.store).sync("activity")
        assert summary.status == "completed", [s.error for s in summary.stats]
        return summary

    def puts_since(self, since: int) -> list[int]:
        return [c.status for c in self.emulator.calls.list(since=since)
                if c.method in ("PUT", "POST") and c.path == "/k/v1/records.json"]

    def activity_records(self) -> list[dict[str, Any]]:
        records, total = self.emulator.list_records(KINTONE_ACTIVITIES, offset=0, limit=500)
        assert total == len(records)
        return records


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    maps = tmp_path / "mappings"
    name, source = activity_source(maps)
    shutil.copy(REPO / "mappings" / "kintone-activities.yaml", maps)
    db = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    with running_emulator(KintoneSettings(size=100)) as (emulator, server):
        project = Project(root=tmp_path, database_url=db, mappings_dir=maps, connections={
            "events": {"type": "memory", "config": {"dataset": name}},
            "kintone": {"type": "kintone", "config": {
                "base_url": server.url, "api_token": ",".join(API_TOKENS.values()),
                "apps": {"leads": 1, "activities": 4}, "retry_base_delay_s": 0.01}}})
        store = Store.open(db)
        try:
            yield World(emulator, server, source, project, store)
        finally:
            store.close()
            project.close()


def _attendance(i: int) -> dict[str, Any]:
    return {"source_id": f"zoom:web{i % 3}:person{i}@example.co.jp", "kind": "webinar_attended",
            "at": "2026-09-10T05:03:00Z", "email": f"Person{i}@Example.co.jp",
            "title": "製造業DXセミナー", "minutes": 30 + i % 40, "percent": None,
            "extra": {"sessions": 1 + i % 2, "name": f"参加者 {i}"}}


def test_activities_land_once_in_kintone_in_batches_of_100(world: World) -> None:
    ids = [world.source.create(_attendance(i)) for i in range(250)]
    world.source.create({"source_id": "brightcove:v1:anon-1", "kind": "video_viewed",
                         "at": "2026-11-18T00:00:00Z", "email": None,
                         "title": "オンデマンド: 生産管理入門", "percent": 92.5, "extra": None})
    world.source.create({"source_id": "x:1", "kind": "other", "at": "2026-11-18T00:00:00Z"})
    since = world.emulator.calls.last_seq
    first = world.sync().get("kintone-activities", "out")
    # 251 activities kintone can take: ⌈251/100⌉ upsert calls; "other" has no 活動種別.
    assert world.puts_since(since) == [200, 200, 200]
    assert (first.created, first.write_calls, first.skipped_by_filter) == (251, 3, 1)
    records = {r["連携ID"]["value"]: r for r in world.activity_records()}
    assert len(records) == 251
    one = records["zoom:web1:person7@example.co.jp"]
    assert one["メールアドレス"]["value"] == "person7@example.co.jp"
    assert one["活動種別"]["value"] == "ウェビナー参加"
    assert one["日時"]["value"] == "2026-09-10T05:03:00Z"
    assert one["参加時間"]["value"] == str(30 + 7)
    assert one["詳細"]["value"] == '{"name":"参加者 7","sessions":2}'
    video = records["brightcove:v1:anon-1"]
    assert (video["活動種別"]["value"], video["視聴率"]["value"]) == ("動画視聴", "92.5")

    # A re-sync writes nothing.
    since = world.emulator.calls.last_seq
    second = world.sync().get("kintone-activities", "out")
    assert world.puts_since(since) == []
    assert second.created + second.updated + second.write_calls == 0

    # The source is polled again (its lookback re-delivers rows): the same source ids come
    # back, one with a later report row that adds minutes. One update, no new records.
    for rid in ids[:20]:
        world.source.edit(rid, {})
    world.source.edit(ids[3], {"minutes": 99})
    since = world.emulator.calls.last_seq
    third = world.sync().get("kintone-activities", "out")
    assert world.puts_since(since) == [200]
    assert (third.created, third.updated) == (0, 1)
    after = {r["連携ID"]["value"]: r for r in world.activity_records()}
    assert len(after) == 251
    assert after["zoom:web0:person3@example.co.jp"]["参加時間"]["value"] == "99"


def test_a_create_resent_after_a_lost_link_updates_the_same_kintone_record(world: World) -> None:
    for i in range(5):
        world.source.create(_attendance(i))
    world.sync()
    # The run died after kintone took the records but before renkei stored the links.
    with world.store.transaction() as tx:
        links = tx.links.by_record_ids("kintone-activities", list(range(1, 6)))
        assert len(links) == 5
    with world.store.engine.begin() as conn:
        for table in (schema.links, schema.cursors):
            conn.execute(table.delete().where(table.c.mapping == "kintone-activities"))
    resent = world.sync().get("kintone-activities", "out")
    assert (resent.write_calls, resent.created, resent.updated) == (1, 0, 5)
    assert len(world.activity_records()) == 5  # upserted by 連携ID = the source id
