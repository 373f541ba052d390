"""Reconciliation finds what the change feed cannot show: a record deleted behind the hub's
back and a value changed without moving the record's modification time (issue #8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from renkei.engine.runner import SyncRunner
from renkei.project import Project
from renkei.reconcile import ReconcileError, reconcile, render_markdown
from renkei.store import Store
from sandbox.core.server import EmulatorServer
from sandbox.marketo.app import MarketoEmulator
from sandbox.marketo.config import MarketoConfig
from tests.engine.harness import World, make_world

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(tmp_path: Path, store: Store) -> Iterator[World]:
    w = make_world(tmp_path, store, page_size=7)
    for i in range(30):
        w.ma.create({"email": f"person{i}@example.com", "last_name": f"L{i}",
                     "company": "サクラ精機", "stage": "lead", "note": None, "phone": None,
                     "score": i})
    w.sync()
    w.sync()
    yield w
    w.close()


def test_a_synced_system_reconciles_clean(world: World) -> None:
    report = reconcile(world.project, world.store, "ma-contacts")
    assert (report.system_records, report.links) == (30, 30)
    assert not report.has_drift and report.sample == []


def test_finds_a_deletion_and_a_value_changed_behind_the_change_feed(world: World) -> None:
    ids = sorted(world.ma.records)
    gone, edited, fed = ids[3], ids[5], ids[8]
    del world.ma.records[gone]                      # deleted: no tombstone, no feed entry
    world.ma.records[edited] = {**world.ma.records[edited], "last_name": "Changed"}  # same updated_at
    world.ma.edit(fed, {"last_name": "Through the feed"})   # a normal edit: a sync will bring it
    world.ma.create({"email": "new@example.com", "last_name": "New", "company": None,
                     "stage": None, "note": None, "phone": None, "score": None})

    report = reconcile(world.project, world.store, "ma-contacts")

    assert report.has_drift
    assert (report.system_records, report.links) == (30, 30)
    assert report.missing_in_system == 1
    assert report.not_ingested == 1
    assert report.drifted == 1 and report.drifted_fields == {"last_name": 1}
    assert report.pending == 1            # the normal edit is a pending change, not drift
    kinds = {d.kind: d for d in report.sample}
    assert set(kinds) == {"missing_in_system", "not_ingested", "drifted"}
    assert "system≠baseline" in kinds["drifted"].fields["last_name"]
    assert all(d.system_id not in (gone, edited) for d in report.sample), "ids are masked"
    md = render_markdown([report])
    assert "| ma-contacts | 30 | 30 |" in md and "new@example.com" not in md


def test_a_change_waiting_in_the_journal_is_pending_not_drift(world: World) -> None:
    rid = sorted(world.ma.records)[2]
    with world.store.transaction() as tx:
        link = tx.links.by_system_ids("ma-contacts", [rid])[rid]
        tx.journal.append_many("lead", [(link.record_id, ["last_name"], "crm-leads")], None)
    world.ma.records[rid] = {**world.ma.records[rid], "last_name": "Elsewhere"}
    report = reconcile(world.project, world.store, "ma-contacts")
    assert report.drifted == 0 and report.pending == 1


def test_an_unknown_mapping_is_a_clear_error(world: World) -> None:
    with pytest.raises(ReconcileError, match="no mapping 'nope'.*ma-contacts"):
        reconcile(world.project, world.store, "nope")


def test_marketo_emulator_edit_that_keeps_updated_at_is_found(tmp_path: Path, db_url: str) -> None:
    munchkin = f"rec-{tmp_path.name}"
    mk = MarketoEmulator(MarketoConfig(size=120, seed=5, munchkin_id=munchkin))
    server = EmulatorServer(mk.asgi(), name="marketo")
    server.start()
    creds = mk.credentials()
    project = Project(root=tmp_path, database_url=db_url, mappings_dir=REPO / "mappings",
                      connections={"marketo": {"type": "marketo", "config": {
                          "base_url": server.url, "client_id": creds["client_id"],
                          "client_secret": creds["client_secret"], "munchkin_id": munchkin}}})
    store = Store.open(db_url)
    try:
        SyncRunner(project, store).sync("lead")
        clean = reconcile(project, store, "marketo-leads")
        assert clean.system_records == 120 and not clean.has_drift, clean
        # straight into the emulator's store: no activity logged, updatedAt untouched
        before = mk.store.get(7)
        assert before is not None
        with mk.store._lock:
            mk.store._materialise(7)["title"] = "裏口で変更"
            mk.store._deleted.add(9)
            mk.store._overlay.pop(9, None)
        assert mk.store.get(7)["updatedAt"] == before["updatedAt"]  # type: ignore[index]
        report = reconcile(project, store, "marketo-leads")
        assert (report.missing_in_system, report.drifted, report.not_ingested) == (1, 1, 0)
        assert report.drifted_fields == {"title": 1}
    finally:
        store.close()
        project.close()
        server.stop()
