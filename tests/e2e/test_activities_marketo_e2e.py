"""Hub activities out to Marketo custom activities over real HTTP, on SQLite and PostgreSQL
(issue #5).

Marketo's Add Custom Activities has no idempotency key, so these tests kill or break the run
between Marketo's answer and renkei's commit and check that the next run links what landed
(one recovery read per batch) and writes only the rest: exactly one activity per source id.
Activities enter the hub from an in-memory source shaped like the Zoom and Brightcove
streams; the leads come from the Marketo emulator through marketo-leads.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.memory import MemoryStream
from connectors.sdk.types import WriteOp, WriteResult
from renkei.engine.runner import SyncRunner
from renkei.engine.stats import RunSummary
from renkei.project import Project
from renkei.store import Store
from sandbox.core.server import EmulatorServer
from sandbox.marketo import MarketoConfig, MarketoEmulator
from tests.e2e.activity_source import activity_source

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
MAPPING = "marketo-activities"
ADD = "/rest/v1/activities/external.json"
READ = "/rest/v1/activities.json"

class CrashError(BaseException):
    """The process "dies" here: nothing after it runs (not an Exception the engine handles)."""


@dataclass
class World:
    mk: MarketoEmulator
    server: EmulatorServer
    source: MemoryStream
    project: Project
    store: Store
    settings: dict[str, Any]

    def sync(self, **kw: Any) -> RunSummary:
        summary = SyncRunner(self.project, self.store).sync("activity", **kw)
        assert summary.status == "completed", [s.error for s in summary.stats]
        return summary

    def calls(self, path: str, since: int) -> list[int]:
        return [c.status for c in self.mk.calls.list(since=since) if c.path == path]

    def per_source(self) -> Counter[str]:
        return Counter(a.primary for a in self.mk.custom.written())

    def pending(self) -> int:
        with self.store.transaction() as tx:
            return tx.pending.count(MAPPING)


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[World]:
    maps = tmp_path / "mappings"
    name, source = activity_source(maps)
    for file in ("marketo-leads.yaml", "marketo-activities.yaml"):
        shutil.copy(REPO / "mappings" / file, maps)
    mk = MarketoEmulator(MarketoConfig(size=100, seed=5, munchkin_id=f"act-{uuid.uuid4().hex}"))
    with EmulatorServer(mk.asgi(), name="marketo") as server:
        creds = mk.credentials()
        marketo = {"type": "marketo", "config": {
            "base_url": server.url, "client_id": creds["client_id"],
            "client_secret": creds["client_secret"], "munchkin_id": mk.config.munchkin_id}}
        project = Project(root=tmp_path, database_url=db_url, mappings_dir=maps, connections={
            "events": {"type": "memory", "config": {"dataset": name}}, "marketo": marketo})
        store = Store.open(db_url)
        settings = {"root": str(tmp_path), "db_url": db_url, "mappings_dir": str(maps),
                    "connections": {"marketo": marketo}}
        try:
            lead_run = SyncRunner(project, store).sync("lead")  # the people, linked
            assert lead_run.status == "completed", [s.error for s in lead_run.stats]
            yield World(mk, server, source, project, store, settings)
        finally:
            store.close()
            project.close()


def _emails(world: World, count: int) -> list[str]:
    out = []
    for lead_id in range(1, world.mk.store.count + 1):
        record = world.mk.store.get(lead_id)
        if record and record.get("email"):
            out.append(str(record["email"]))
        if len(out) == count:
            return out
    raise AssertionError("not enough seeded leads with an e-mail")


def _attendance(i: int, email: str) -> dict[str, Any]:
    if i % 4 == 3:
        return {"source_id": f"brightcove:v{i % 5}:{i}:{email}", "kind": "video_viewed",
                "at": "2026-11-18T00:00:00Z", "email": email, "title": "オンデマンド: 生産管理入門",
                "percent": 50.0 + i % 50, "minutes": None}
    return {"source_id": f"zoom:web{i % 3}:{i}:{email}", "kind": "webinar_attended",
            "at": "2026-09-10T05:03:00Z", "email": email.upper(), "title": "製造業DXセミナー",
            "minutes": 30.5 + i % 40, "percent": None}


def _load(world: World, n: int, people: int = 60) -> list[str]:
    """``n`` activities of ``people`` Marketo leads into the hub; returns the row ids."""
    emails = _emails(world, people)
    ids = [world.source.create(_attendance(i, emails[i % people])) for i in range(n)]
    world.sync(mappings=["events-activities"])
    return ids


def test_activities_land_once_in_batches_of_300_and_a_resync_writes_nothing(
        world: World) -> None:
    ids = _load(world, 320)
    world.source.create({"source_id": "x:1", "kind": "other", "at": "2026-11-18T00:00:00Z",
                         "email": _emails(world, 1)[0]})
    world.source.create({"source_id": "brightcove:v1:anon-1", "kind": "video_viewed",
                         "at": "2026-11-18T00:00:00Z", "email": None, "percent": 10.0})
    world.source.create({"source_id": "zoom:web9:nobody", "kind": "webinar_attended",
                         "at": "2026-09-10T05:03:00Z", "email": "nobody@example.invalid",
                         "minutes": 3.0})
    since = world.mk.calls.last_seq
    out = world.sync().get(MAPPING, "out")
    # ⌈320/300⌉ calls; "other" and the anonymous view stay in the hub; the unknown person
    # waits for marketo-leads.
    assert world.calls(ADD, since) == [200, 200]
    assert (out.created, out.write_calls, out.skipped_by_filter) == (320, 2, 2)
    assert out.failure_categories == Counter({"not_found": 1})
    per_source = world.per_source()
    assert len(per_source) == 320 and set(per_source.values()) == {1}
    written = {a.primary: a for a in world.mk.custom.written()}
    webinar = written["zoom:web1:1:" + _emails(world, 60)[1]]
    assert (webinar.type_id, webinar.activity_date) == (100001, "2026-09-10T05:03:00Z")
    assert dict(webinar.attributes) == {"Webinar Name": "製造業DXセミナー",
                                        "Minutes Attended": 31.5}
    video = written["brightcove:v3:3:" + _emails(world, 60)[3]]
    assert (video.type_id, dict(video.attributes)["Percent Viewed"]) == (100002, 53.0)
    assert world.pending() == 0

    # A re-sync, and a re-poll of the source (late report rows: same source ids, one with
    # more minutes): no call adds an activity; Marketo's are write-once.
    since = world.mk.calls.last_seq
    world.sync()
    for rid in ids[:30]:
        world.source.edit(rid, {})
    world.source.edit(ids[0], {"minutes": 99.0})
    world.sync()
    assert world.calls(ADD, since) == []
    assert world.per_source() == per_source


def _rerun_after(world: World, kill_at: int) -> None:
    """Run the outbound pass in a child process that SIGKILLs itself after Marketo accepted
    its ``kill_at``-th batch; check that it really died there."""
    path = world.project.root / "crash.json"
    path.write_text(json.dumps(world.settings), encoding="utf-8")
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    child = subprocess.run(
        [sys.executable, "-m", "tests.e2e.marketo_activities_crash", str(path), str(kill_at)],
        check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr[-3000:]


def test_a_run_killed_after_marketo_accepted_a_batch_writes_no_duplicate(world: World) -> None:
    _load(world, 320)
    since = world.mk.calls.last_seq
    _rerun_after(world, kill_at=1)
    assert world.calls(ADD, since) == [200]  # the first 300 landed, nothing was linked
    assert len(world.mk.custom.written()) == 300
    assert world.pending() == 300

    since = world.mk.calls.last_seq
    out = world.sync().get(MAPPING, "out")
    # One recovery read for the 300 marked creates: a paging token, then the 60 leads in
    # chunks of 30 (a page or two each); only the 20 never sent are added, in one call.
    reads = world.calls(READ, since)
    assert 2 <= len(reads) <= 2 * math.ceil(60 / 30)
    assert world.calls(ADD, since) == [200]
    assert (out.created, out.write_calls) == (320, 1)
    per_source = world.per_source()
    assert len(per_source) == 320 and set(per_source.values()) == {1}
    assert world.pending() == 0
    with world.store.transaction() as tx:
        assert tx.links.count(MAPPING) == 320


def test_a_partly_refused_batch_then_a_crash_links_the_accepted_and_retries_the_rest(
        world: World) -> None:
    emails = _emails(world, 20)
    _load(world, 40, people=20)
    gone = emails[:2]
    for email in gone:  # deleted in Marketo after renkei linked them: 1004 Lead not found
        world.mk.store.delete(world.mk.store.find("email", [email])[0])
    refused = {_attendance(i, emails[i % 20])["source_id"] for i in range(40)
               if emails[i % 20] in gone}
    assert len(refused) == 4

    connector = world.project.connector("marketo")
    write = connector.write

    def write_then_crash(stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        write(stream, ops)  # Marketo takes the batch and answers...
        raise CrashError("died before storing the outcome")

    connector.write = write_then_crash  # type: ignore[method-assign]
    with pytest.raises(CrashError):
        SyncRunner(world.project, world.store).sync("activity", mappings=[MAPPING])
    del connector.write  # the instance attribute goes; the method is back
    assert world.pending() == 40
    assert len(world.mk.custom.written()) == 36

    since = world.mk.calls.last_seq
    out = world.sync().get(MAPPING, "out")
    # The 36 Marketo took are linked from the recovery read; the 4 it refused were not
    # created, so they are sent again, refused again, and kept as dead letters.
    assert world.calls(ADD, since) == [200]
    assert (out.created, out.failed) == (36, 4)
    assert out.failure_categories == Counter({"not_found": 4})
    per_source = world.per_source()
    assert len(per_source) == 36 and set(per_source.values()) == {1}
    assert not refused & set(per_source)
    assert world.pending() == 0
    with world.store.transaction() as tx:
        letters = tx.dead_letters.open(MAPPING, "out")
        assert {(d.category, d.code) for d in letters} == {("not_found", "1004")}
        assert all(d.permanent or not d.retriable for d in letters)


def test_a_version_4_store_gains_the_pending_creates_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v4.db'}"
    store = Store.open(url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE pending_creates")
        conn.exec_driver_sql("UPDATE renkei_meta SET value = '4' WHERE key = 'schema_version'")
    store.close()
    store = Store.open(url)
    try:
        with store.transaction() as tx:
            tx.pending.mark(MAPPING, [(7, "activity:7"), (8, "activity:8")], "2026-01-01T00:00:00Z")
            tx.pending.mark(MAPPING, [(7, "activity:7")], "2026-02-01T00:00:00Z")
        with store.transaction() as tx:
            # A second mark keeps the older time: the recovery read must look back that far.
            assert tx.pending.get(MAPPING, [7])[7].started_at == "2026-01-01T00:00:00Z"
            assert tx.pending.record_ids(MAPPING) == [7, 8]
            assert tx.pending.clear(MAPPING, [7, 8, 9]) == 2
            assert tx.pending.count() == 0
    finally:
        store.close()
