"""A salesperson's edit in kintone between renkei's read and its write is refused by
``revision``, fetched, merged by the mapping's policy and written once more — over real HTTP,
through the engine (issue #4)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.memory import MemoryDataset
from renkei.engine.runner import SyncRunner
from renkei.project import Project
from renkei.store import Store
from sandbox.kintone import API_TOKENS
from tests.e2e.test_kintone_e2e import REPO, Clock, World, world  # noqa: F401 - fixture
from tests.engine.harness import MA_SCHEMA, ma_mapping

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(world: World, tmp_path: Path) -> Iterator[tuple[Project, Store, Any]]:  # noqa: F811
    maps = tmp_path / "mappings"
    maps.mkdir()
    shutil.copy(REPO / "mappings" / "kintone-leads.yaml", maps)
    (maps / "ma-contacts.yaml").write_text(ma_mapping(), encoding="utf-8")
    name = f"rev-{uuid.uuid4().hex[:8]}"
    ma = MemoryDataset.create(name).add_stream("contacts", MA_SCHEMA)
    db = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    proj = Project(root=tmp_path, database_url=db, mappings_dir=maps, connections={
        "ma": {"type": "memory", "config": {"dataset": name}},
        "kintone": {"type": "kintone", "config": {
            "base_url": world.server.url, "api_token": ",".join(API_TOKENS.values()),
            "apps": {"leads": 1}, "retry_base_delay_s": 0.01}}})
    store = Store.open(db)
    yield proj, store, ma
    store.close()
    proj.close()


def test_an_edit_between_read_and_write_is_merged_by_policy_not_overwritten(
        world: World, project: tuple[Project, Store, Any]) -> None:  # noqa: F811
    proj, store, ma = project
    runner = SyncRunner(proj, store)
    assert runner.sync("lead").status == "completed"
    # A lead sales already work on: in the lead master and, after the sync, in MA too.
    rec, _ = world.emulator.list_records("1", offset=0, limit=1000)
    target = next(r for r in rec if r["ステージ"]["value"] == "SQL")
    kid, email = str(target["$id"]["value"]), target["メールアドレス"]["value"].strip().lower()
    [contact] = [c for c in ma.records.values() if c.get("email") == email]
    revision = target["$revision"]["value"]

    # Marketing renames the company in MA; just before renkei's write reaches kintone, the
    # salesperson types the title into the lead master.
    world.clock.advance()
    ma.edit(contact["id"], {"company": "株式会社ミドリ電機"})
    kintone = proj.connector("kintone")
    real_write = kintone.write
    edited: list[str] = []

    def racing_write(stream: str, ops: Any) -> Any:
        if not edited:
            world.clock.advance()
            world.emulator.edit_record("1", kid, {"役職": "情報システム部長"})
            edited.append(kid)
        return real_write(stream, ops)

    kintone.write = racing_write  # type: ignore[method-assign]
    summary = runner.sync("lead")
    assert summary.status == "completed", [s.error for s in summary.stats]
    out = summary.get("kintone-leads", "out")
    assert (out.conflicts, out.failed) == (1, 0)
    after = world.emulator.get_record("1", kid)
    assert after is not None
    assert after["会社名"]["value"] == "株式会社ミドリ電機"      # marketing's change landed
    assert after["役職"]["value"] == "情報システム部長"           # sales' edit was kept
    assert int(after["$revision"]["value"]) == int(revision) + 2  # her edit, then one merged write
    with store.transaction() as tx:
        [lead] = [r for r in tx.records.page("lead", limit=10_000) if r.data["email"] == email]
    assert lead.data["title"] == "情報システム部長"
    kintone.write = real_write  # type: ignore[method-assign]
    quiet = runner.sync("lead")
    assert quiet.get("kintone-leads", "out").write_calls == 0
