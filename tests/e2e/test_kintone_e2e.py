"""The kintone connector end to end: real HTTP against the kintone emulator (issue #4).

The emulator keeps 更新日時 to the minute like kintone, and its clock is ours here, so many
records share one timestamp exactly as a bulk write makes them do in production.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.kintone import KintoneConnector
from connectors.sdk import ConnectorContext, ErrorCategory, MemoryLedger, WriteMode, WriteOp
from renkei.engine.runner import SyncRunner
from renkei.project import Project
from renkei.store import Store
from sandbox.core.faults import FaultRule
from sandbox.core.server import EmulatorServer
from sandbox.kintone import API_TOKENS, KintoneEmulator, KintoneSettings
from sandbox.kintone.testing import running_emulator
from tests.connectors.helpers import read_all

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
_domains = itertools.count()


class Clock:
    """The emulator's wall clock, moved by the test."""

    def __init__(self) -> None:
        # After every seeded 更新日時 (the seed spreads them over the past years).
        self.now = datetime(2030, 4, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int = 1) -> None:
        self.now += timedelta(minutes=minutes)


@dataclass
class World:
    emulator: KintoneEmulator
    server: EmulatorServer
    clock: Clock
    ledger: MemoryLedger

    def connector(self, **overrides: Any) -> KintoneConnector:
        config = {"base_url": self.server.url, "api_token": ",".join(API_TOKENS.values()),
                  "apps": {"leads": 1, "alerts": 2, "deals": 3, "activities": 4},
                  "retry_base_delay_s": 0.01, "concurrency_wait_s": 0.01, "timeout_s": 10,
                  **overrides}
        return KintoneConnector(config, context=ConnectorContext(
            f"kintone-e2e-{next(_domains)}", ledger=self.ledger))

    def calls(self, method: str, path: str, since: int = 0) -> list[int]:
        """Statuses of the emulator's calls of ``method path`` after ``since``."""
        return [c.status for c in self.emulator.calls.list(since=since)
                if c.method == method and c.path == path]


@pytest.fixture
def world() -> Iterator[World]:
    clock = Clock()
    # size 500 → 100 lead-master records (the emulator seeds every fifth person).
    with running_emulator(KintoneSettings(size=500, clock=clock)) as (emulator, server):
        yield World(emulator, server, clock, MemoryLedger())


def _creates(n: int, start: int = 0) -> list[WriteOp]:
    return [WriteOp(WriteMode.CREATE, {"姓": f"新規{i}", "メールアドレス": f"new{i}@renkei.example.jp",
                                       "担当者": "tanaka", "スコア": i, "都道府県": "東京都"},
                    ref=f"lead:{i}") for i in range(start, start + n)]


def test_incremental_read_resumes_after_a_crash_and_delivers_each_version_once(
        world: World) -> None:
    with world.connector(page_size=100) as connector:
        seeded, state = read_all(connector, "leads", None)
        assert len(seeded) == 100 and state is not None
        world.clock.advance()
        # 250 records and two edits in one minute: one 更新日時 for all of them.
        assert all(r.ok for r in connector.write("leads", _creates(250)))
        world.emulator.edit_record("1", "3", {"役職": "部長"})
        world.emulator.edit_record("1", "4", {"役職": "課長"})
        reader = connector.read("leads", state)
        first = next(reader)
        reader.close()  # the run "crashes" after committing its first page
        rest, state = read_all(connector, "leads", first.state)
        ids = [r["$id"] for r in first.records + rest]
        assert len(ids) == len(set(ids)) == 252
        assert {"3", "4"} <= set(ids)
        assert read_all(connector, "leads", state)[0] == []
        # Edited again within the same minute: same 更新日時, new $revision → delivered again.
        world.emulator.edit_record("1", "3", {"役職": "本部長"})
        again, state = read_all(connector, "leads", state)
        assert [(r["$id"], r["役職"]) for r in again] == [("3", "本部長")]
        assert read_all(connector, "leads", state)[0] == []
    assert world.emulator.cursors.open_count() == 0


def test_250_creates_take_exactly_3_calls_and_a_replay_duplicates_nothing(world: World) -> None:
    since = world.emulator.calls.last_seq
    with world.connector() as connector:
        connector.stream("leads")
        world.ledger.drain()
        results = connector.write("leads", _creates(250))
        assert all(r.ok and r.created and r.version == "1" for r in results)
        assert world.calls("PUT", "/k/v1/records.json", since) == [200, 200, 200]
        assert [c.kind for c in world.ledger.drain()] == ["write"] * 3
        # The run crashed before it stored the links: the same creates again are upserts.
        replay = connector.write("leads", _creates(250))
    assert [r.id for r in replay] == [r.id for r in results]
    assert not any(r.created for r in replay) and all(r.version == "2" for r in replay)
    assert world.emulator.list_records("1", offset=0, limit=1)[1] == 100 + 250
    record = world.emulator.get_record("1", str(results[7].id))
    assert record is not None and record["連携ID"]["value"] == "lead:7"
    assert record["担当者"]["value"][0]["code"] == "tanaka"


def test_an_edit_made_in_kintone_after_the_read_is_refused_not_overwritten(world: World) -> None:
    with world.connector() as connector:
        seen = {r["$id"]: r for r in connector.fetch("leads", ["5", "6"])}
        world.clock.advance()
        world.emulator.edit_record("1", "5", {"役職": "営業が入力した役職"})
        since = world.emulator.calls.last_seq
        ops = [WriteOp(WriteMode.UPDATE, {"役職": "renkei の値"}, id=rid,
                       version=seen[rid]["$revision"]) for rid in ("5", "6")]
        stale, fresh = connector.write("leads", ops)
        assert stale.error is not None and stale.error.category is ErrorCategory.CONFLICT
        assert stale.error.code == "GAIA_CO02" and stale.error.retriable
        assert fresh.ok and fresh.version == str(int(seen["6"]["$revision"]) + 1)
        assert world.calls("PUT", "/k/v1/records.json", since) == [409, 200]
        assert world.calls("GET", "/k/v1/records.json", since) == [200]  # the one probe
        record = world.emulator.get_record("1", "5")
        assert record is not None and record["役職"]["value"] == "営業が入力した役職"
        # The engine fetches the newer version, merges, and writes against it.
        [current] = connector.fetch("leads", ["5"])
        assert current["役職"] == "営業が入力した役職"
        [merged] = connector.write("leads", [WriteOp(WriteMode.UPDATE, {"部署": "営業部"}, id="5",
                                                    version=current["$revision"])])
        assert merged.ok and merged.version == str(int(current["$revision"]) + 1)


def test_a_large_first_read_uses_the_cursor_and_never_leaves_one_open() -> None:
    clock = Clock()
    with running_emulator(KintoneSettings(size=3000, clock=clock)) as (emulator, server):
        world = World(emulator, server, clock, MemoryLedger())
        with world.connector() as connector:
            connector.stream("leads")
            since = emulator.calls.last_seq
            records, _ = read_all(connector, "leads", None)
            assert len(records) == len({r["$id"] for r in records}) == 600
            assert world.calls("POST", "/k/v1/records/cursor.json", since) == [200]
            assert world.calls("GET", "/k/v1/records/cursor.json", since) == [200, 200]
            assert world.calls("GET", "/k/v1/records.json", since) == []
            assert emulator.cursors.open_count() == 0  # read to the end: kintone freed it
            stamps = [r["更新日時"] for r in records]
            assert stamps == sorted(stamps)
            reader = connector.read("leads", None)
            next(reader)
            assert emulator.cursors.open_count() == 1
            reader.close()  # abandoned after one page
            assert world.calls("DELETE", "/k/v1/records/cursor.json", since) == [200]
            assert emulator.cursors.open_count() == 0


def test_concurrency_limit_429_is_retried_and_counted(world: World) -> None:
    with world.connector() as connector:
        connector.stream("leads")
        world.ledger.drain()
        since = world.emulator.calls.last_seq
        world.emulator.faults.add(FaultRule("concurrency", path="records.json", times=2))
        results = connector.write("leads", _creates(3))
        assert all(r.ok for r in results)
    assert world.calls("PUT", "/k/v1/records.json", since) == [429, 429, 200]
    assert [c.status for c in world.ledger.drain()] == [429, 429, 200]


def test_lead_master_syncs_through_the_engine_with_minimal_calls(world: World,
                                                                 tmp_path: Path) -> None:
    maps = tmp_path / "mappings"
    maps.mkdir()
    shutil.copy(REPO / "mappings" / "kintone-leads.yaml", maps)
    db = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    project = Project(root=tmp_path, database_url=db, mappings_dir=maps, connections={
        "kintone": {"type": "kintone", "config": {
            "base_url": world.server.url, "api_token": ",".join(API_TOKENS.values()),
            "apps": {"leads": 1, "alerts": 2}}}})
    store = Store.open(db)
    try:
        runner = SyncRunner(project, store)
        since = world.emulator.calls.last_seq
        first = runner.sync("lead")
        assert first.status == "completed", [s.error for s in first.stats]
        inbound, outbound = first.get("kintone-leads", "in"), first.get("kintone-leads", "out")
        assert (inbound.read, inbound.created) == (100, 100)
        assert outbound.write_calls == 0  # what was just read is what kintone has
        # form fields, cursor create, one cursor page; renkei's ledger = the emulator's count
        assert inbound.api_calls + outbound.api_calls == 3
        assert len(world.emulator.calls.list(since=since)) == 3
        second = runner.sync("lead")
        assert sum(s.api_calls for s in second.stats) == 1
        assert sum(s.created + s.updated + s.write_calls for s in second.stats) == 0
        world.clock.advance()
        world.emulator.edit_record("1", "3", {"予算": "あり"})
        third = runner.sync("lead")
        assert third.get("kintone-leads", "in").updated == 1
        assert third.get("kintone-leads", "out").write_calls == 0
    finally:
        store.close()
        project.close()
