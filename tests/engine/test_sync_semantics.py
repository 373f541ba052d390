"""The fixed sync semantics of DESIGN.md, on SQLite and PostgreSQL (issue #2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from unittest.mock import ANY

import pytest

from connectors.sdk.errors import VendorUnavailableError
from connectors.sdk.types import ErrorCategory, RecordError
from renkei.engine.conflicts import resolve_conflict
from renkei.engine.inbound import Inbound
from renkei.store import Store
from tests.engine.harness import World, crm_mapping, ma_mapping, make_world


@pytest.fixture
def world(tmp_path: Path, store: Store) -> Iterator[World]:
    w = make_world(tmp_path, store)
    yield w
    w.close()


def seed_pair(w: World, **ma_values: object) -> tuple[str, str]:
    """One person in both systems, synced; returns (ma id, crm id)."""
    values = {"email": "taro@example.co.jp", "last_name": "山田", "company": "サクラ精機",
              "stage": "lead", **ma_values}
    ma_id = w.ma.create(values)
    w.sync()
    [crm] = w.crm.find(Email="taro@example.co.jp")
    return ma_id, crm["id"]


def test_new_record_on_one_side_reaches_the_other(world: World) -> None:
    _ma_id, crm_id = seed_pair(world)
    crm = world.crm.records[crm_id]
    assert (crm["LastName"], crm["Company"], crm["Stage"]) == ("山田", "サクラ精機", "lead")
    assert len(world.hub()) == 1


def test_change_on_one_side_only_writes_only_that_field(world: World) -> None:
    ma_id, crm_id = seed_pair(world)
    world.ma.edit(ma_id, {"company": "サクラ精機株式会社"})
    before = world.writes()
    s = world.sync()
    assert world.crm.records[crm_id]["Company"] == "サクラ精機株式会社"
    assert world.writes() == before + 1
    assert s.get("crm-leads", "out").updated == 1
    assert s.get("ma-contacts", "out").updated == 0  # the source is not written back


def test_second_sync_in_a_row_writes_nothing(world: World) -> None:
    for i in range(120):
        world.ma.create({"email": f"p{i}@example.com", "last_name": f"L{i}", "company": "C"})
    world.sync()
    assert len(world.crm.records) == 120
    writes = world.writes()
    s = world.sync()
    assert world.writes() == writes
    assert sum(x.created + x.updated for x in s.stats) == 0
    assert world.writes() - writes == 0


def test_identity_by_match_key_links_instead_of_duplicating(world: World) -> None:
    world.ma.create({"email": "Hanako@Example.com", "last_name": "佐藤", "company": "A"})
    world.crm.create({"Email": " hanako@example.com ", "LastName": "佐藤", "Company": "A"})
    world.sync()
    assert len(world.hub()) == 1
    assert len(world.crm.records) == 1 and len(world.ma.records) == 1


def test_both_changed_to_the_same_value_is_no_conflict(world: World) -> None:
    ma_id, crm_id = seed_pair(world)
    world.ma.edit(ma_id, {"company": "新社名"})
    world.crm.edit(crm_id, {"Company": "新社名"})
    before = world.writes()
    s = world.sync()
    assert sum(x.conflicts for x in s.stats) == 0
    assert world.writes() == before
    assert world.hub()[0]["company"] == "新社名"


@pytest.mark.parametrize("policy, winner", [
    ("newest_wins", "crm"),                                  # crm edited last
    ("{policy: system_wins, owner: ma}", "ma"),
    ("{policy: system_wins, owner: crm}", "crm"),
    ("fill_if_blank", "hub"),     # guards: the hub is not blank, so it keeps its value
    ("write_once", "hub"),
])
def test_both_changed_to_different_values(tmp_path: Path, store: Store, policy: str,
                                          winner: str) -> None:
    w = make_world(tmp_path, store, ma=ma_mapping(policy), crm=crm_mapping(policy))
    ma_id, crm_id = seed_pair(w)
    w.ma.edit(ma_id, {"company": "MA社"})
    w.crm.edit(crm_id, {"Company": "CRM社"})
    s = w.sync()
    expected = {"ma": "MA社", "crm": "CRM社", "hub": "サクラ精機"}[winner]
    hub = w.hub()[0]["company"]
    assert hub == expected
    if winner != "hub":
        assert sum(x.conflicts for x in s.stats) == 1
    if policy in ("fill_if_blank", "write_once"):
        # guards: a non-blank target is never overwritten, on either side
        assert w.crm.records[crm_id]["Company"] == "CRM社"
        assert w.ma.records[ma_id]["company"] == "MA社"
    else:
        assert w.crm.records[crm_id]["Company"] == expected
        assert w.ma.records[ma_id]["company"] == expected
    writes = w.writes()
    w.sync()
    w.sync()
    assert w.writes() == writes, "a settled conflict must not flip-flop"
    w.close()


def test_newest_wins_uses_the_source_modification_time(tmp_path: Path, store: Store) -> None:
    w = make_world(tmp_path, store)
    ma_id, crm_id = seed_pair(w)
    w.crm.edit(crm_id, {"Company": "CRM社"})   # older
    w.ma.edit(ma_id, {"company": "MA社"})      # newer, although ma is read first
    w.sync()
    assert w.hub()[0]["company"] == "MA社"
    assert w.crm.records[crm_id]["Company"] == "MA社"
    w.close()


def test_newest_wins_at_a_first_meeting_uses_the_time_the_hub_value_came_with(
        tmp_path: Path, store: Store) -> None:
    # crm is read first: the hub record is created from it with one record-wide source
    # time (not one per field); the ma record, edited before it and meeting it for the
    # first time, must lose the company conflict.
    w = make_world(tmp_path, store)
    ma_id = w.ma.create({"email": "hana@example.co.jp", "last_name": "花子", "company": "旧社名"})
    w.crm.create({"Email": "hana@example.co.jp", "LastName": "花子", "Company": "新社名"})
    w.sync()
    assert w.hub()[0]["company"] == "新社名"
    assert w.ma.records[ma_id]["company"] == "新社名"
    with store.transaction() as tx:
        [rec] = tx.records.page("lead")
    assert rec.source("company") == rec.source("last_name") == ["crm-leads", ANY]
    assert rec.source("phone") is None  # a field the record does not hold has no source
    w.close()


def test_fill_if_blank_fills_an_empty_target_only(tmp_path: Path, store: Store) -> None:
    w = make_world(tmp_path, store, ma=ma_mapping("fill_if_blank"), crm=crm_mapping("fill_if_blank"))
    ma_id = w.ma.create({"email": "b@example.com", "last_name": "B"})  # no company
    crm_id = w.crm.create({"Email": "b@example.com", "LastName": "B", "Company": "既存社"})
    w.sync()
    assert w.hub()[0]["company"] == "既存社"
    assert w.ma.records[ma_id]["company"] == "既存社"      # blank target filled
    w.ma.edit(ma_id, {"company": "別社"})
    w.sync()
    assert w.crm.records[crm_id]["Company"] == "既存社"    # non-blank target kept
    assert w.hub()[0]["company"] == "既存社"
    w.close()


def test_write_once_never_overwrites(tmp_path: Path, store: Store) -> None:
    w = make_world(tmp_path, store, ma=ma_mapping("write_once"), crm=crm_mapping("write_once"))
    ma_id, crm_id = seed_pair(w)
    w.ma.edit(ma_id, {"company": "変更後"})
    w.sync()
    assert w.hub()[0]["company"] == "サクラ精機"
    assert w.crm.records[crm_id]["Company"] == "サクラ精機"
    w.close()


def test_manual_conflict_is_held_while_other_fields_sync(tmp_path: Path, store: Store) -> None:
    w = make_world(tmp_path, store, ma=ma_mapping("manual"), crm=crm_mapping("manual"))
    ma_id, crm_id = seed_pair(w)
    w.crm.edit(crm_id, {"Company": "CRM社"})
    w.ma.edit(ma_id, {"company": "MA社", "note": "展示会で名刺交換"})
    s = w.sync()
    assert s.get("ma-contacts", "in").held == 1
    assert w.crm.records[crm_id]["Note"] == "展示会で名刺交換"   # the rest of the record syncs
    assert w.crm.records[crm_id]["Company"] == "CRM社"          # the conflicting field is held
    assert w.ma.records[ma_id]["company"] == "MA社"
    with store.transaction() as tx:
        [c] = tx.conflicts.list()
    assert (c.field, c.hub_value, c.system_value) == ("company", "CRM社", "MA社")
    writes = w.writes()
    w.sync()
    assert w.writes() == writes, "a held conflict is not written while open"
    resolve_conflict(store, c.id, take="system")
    w.sync()
    assert w.crm.records[crm_id]["Company"] == "MA社"
    assert w.hub()[0]["company"] == "MA社"
    with store.transaction() as tx:
        assert tx.conflicts.list() == []
    w.close()


def test_invalid_record_goes_to_dead_letters_and_is_retried(world: World) -> None:
    bad = world.ma.create({"email": "x@example.com", "last_name": "X", "stage": "hot"})
    s = world.sync()
    assert s.get("ma-contacts", "in").failed == 1
    with world.store.transaction() as tx:
        [d] = tx.dead_letters.open("ma-contacts", "in")
    assert d.item_key == bad and d.category == "validation" and "lifecycle_stage" in d.message
    assert world.hub() == []
    # fixed at the source without a new read: the retry uses the stored payload, still bad
    s = world.sync()
    assert s.get("ma-contacts", "in").retried == 1
    world.ma.edit(bad, {"stage": "mql"})
    world.sync()
    with world.store.transaction() as tx:
        assert tx.dead_letters.open("ma-contacts", "in") == []
    assert world.hub()[0]["lifecycle_stage"] == "mql"


def test_rejected_write_is_dead_lettered_and_retried_next_run(world: World) -> None:
    world.crm.reject = lambda v: (RecordError(ErrorCategory.RATE_LIMIT, "row lock", "UNABLE_TO_LOCK_ROW",
                                              retriable=True)
                                  if v.get("LastName") == "Busy" else None)
    world.ma.create({"email": "busy@example.com", "last_name": "Busy", "company": "C"})
    world.ma.create({"email": "ok@example.com", "last_name": "Ok", "company": "C"})
    s = world.sync()
    assert s.get("crm-leads", "out").failed == 1 and len(world.crm.records) == 1
    world.crm.reject = None
    s = world.sync()
    assert len(world.crm.records) == 2
    with world.store.transaction() as tx:
        assert tx.dead_letters.open("crm-leads", "out") == []


def test_permanent_write_failure_stops_retrying(world: World) -> None:
    world.crm.reject = lambda v: RecordError(ErrorCategory.VALIDATION, "bad", "INVALID")
    world.ma.create({"email": "p@example.com", "last_name": "P", "company": "C"})
    world.sync()
    writes = world.writes()
    world.sync()
    assert world.writes() == writes
    with world.store.transaction() as tx:
        [d] = tx.dead_letters.open("crm-leads", "out")
    assert d.permanent and d.category == "validation"


def _counts(w: World) -> tuple[int, int, int]:
    return len(w.hub()), len(w.ma.records), len(w.crm.records)


def test_crash_between_read_and_commit_loses_and_duplicates_nothing(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(250):  # 3 pages of 100
        world.ma.create({"email": f"c{i}@example.com", "last_name": f"L{i}", "company": "C"})
    real = Inbound._merge_and_write
    calls = {"n": 0}

    def crash_on_second_page(self: Inbound, *a: object, **k: object) -> None:
        calls["n"] += 1
        real(self, *a, **k)  # type: ignore[arg-type]
        if calls["n"] == 2:
            raise RuntimeError("simulated crash after merging, before commit")

    monkeypatch.setattr(Inbound, "_merge_and_write", crash_on_second_page)
    with pytest.raises(RuntimeError):
        world.sync()
    assert len(world.hub()) == 100  # page 1 committed, page 2 rolled back
    monkeypatch.setattr(Inbound, "_merge_and_write", real)
    world.sync()
    assert _counts(world) == (250, 250, 250)
    emails = sorted(r["Email"] for r in world.crm.records.values())
    assert emails == sorted(f"c{i}@example.com" for i in range(250))


def test_crash_mid_outbound_rerun_converges(world: World) -> None:
    for i in range(120):  # 3 write batches of 50
        world.ma.create({"email": f"o{i}@example.com", "last_name": f"L{i}", "company": "C"})

    class Boom(Exception):
        pass

    state = {"n": 0}
    real_write = world.project.connector("crm").write

    def write(stream: str, ops):  # type: ignore[no-untyped-def]
        state["n"] += 1
        results = real_write(stream, ops)
        if state["n"] == 2:
            raise Boom("killed after the vendor stored the batch, before our commit")
        return results

    world.project.connector("crm").write = write  # type: ignore[method-assign]
    with pytest.raises(Boom):
        world.sync()
    world.project.connector("crm").write = real_write  # type: ignore[method-assign]
    world.sync()
    assert _counts(world) == (120, 120, 120)
    writes = world.writes()
    world.sync()
    assert world.writes() == writes


def test_vendor_down_for_the_whole_run_then_rerun_converges(world: World) -> None:
    for i in range(60):
        world.ma.create({"email": f"d{i}@example.com", "last_name": f"L{i}", "company": "C"})
    world.crm.fail_write_calls = [VendorUnavailableError("503", status=503)]
    s = world.sync()
    out = s.get("crm-leads", "out")
    assert out.error and "VendorUnavailableError" in out.error
    assert out.write_calls == 1, "stop after the first failed batch, no retry storm"
    world.sync()
    assert _counts(world) == (60, 60, 60)


def test_company_spelling_variants_are_not_a_conflict(tmp_path: Path, store: Store) -> None:
    """株式会社サクラ精機 vs サクラ精機: same company to the match key, so no conflict (#2)."""
    key = ("  - name: person_at_company\n    fields: [last_name, company]\n"
           "    normalize: [text, company]\n")
    ma = ma_mapping("manual").replace("conflict:\n", key + "conflict:\n", 1)
    crm = crm_mapping("manual").replace("conflict:\n", key + "conflict:\n", 1)
    w = make_world(tmp_path, store, ma=ma, crm=crm)
    ma_id = w.ma.create({"email": "v@example.com", "last_name": "V", "company": "株式会社サクラ精機"})
    crm_id = w.crm.create({"Email": "v@example.com", "LastName": "V", "Company": "ｻｸﾗ精機"})
    s = w.sync()
    assert sum(x.conflicts + x.held for x in s.stats) == 0
    assert w.crm.records[crm_id]["Company"] == "ｻｸﾗ精機"      # each keeps its own spelling
    assert w.ma.records[ma_id]["company"] == "株式会社サクラ精機"
    w.ma.edit(ma_id, {"company": "株式会社サクラ工業"})         # a real rename still flows
    w.sync()
    assert w.crm.records[crm_id]["Company"] == "株式会社サクラ工業"
    w.close()


def test_resolving_a_conflict_on_a_key_field_rekeys_the_record(tmp_path: Path,
                                                                 store: Store) -> None:
    ma = ma_mapping("manual").replace(
        "    normalize: email\n",
        "    normalize: email\n  - name: company\n    fields: [company]\n    normalize: company\n", 1)
    assert "name: company" in ma
    w = make_world(tmp_path, store, ma=ma, crm=crm_mapping("manual"))
    ma_id, crm_id = seed_pair(w)
    w.crm.edit(crm_id, {"Company": "CRM社"})
    w.ma.edit(ma_id, {"company": "株式会社エムエー"})
    w.sync()
    with store.transaction() as tx:
        [c] = tx.conflicts.list()
    resolve_conflict(store, c.id, take="system", mappings=w.project.mappings())
    with store.transaction() as tx:
        found = tx.match_keys.find("lead", [("company", "エムエー"), ("company", "crm社")])
    assert found.get(("company", "エムエー")) == [c.record_id]
    assert not found.get(("company", "crm社"))
    w.close()


def test_a_set_value_is_written_on_create_when_its_inputs_change_and_never_echoed(
        tmp_path: Path, store: Store) -> None:
    crm = crm_mapping().replace("  description: Note\n", "") + \
        "set:\n  Note: \"join(' / ', [company, last_name])\"\n"
    w = make_world(tmp_path, store, crm=crm)
    ma_id, crm_id = seed_pair(w)
    assert w.crm.records[crm_id]["Note"] == "サクラ精機 / 山田"   # on create
    writes = w.writes()
    w.sync()
    assert w.writes() == writes                                     # unchanged: not rewritten
    w.ma.edit(ma_id, {"company": "サクラ精機HD"})
    w.sync()
    assert w.crm.records[crm_id]["Note"] == "サクラ精機HD / 山田"  # an input changed
    writes = w.writes()
    w.sync()
    assert w.writes() == writes
    w.close()
