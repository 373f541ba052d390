"""Optimistic locking: an edit made in a system between renkei's read and its write is
detected by the record's version token and merged by the mapping's policy, never
overwritten blind (issue #4, the kintone ``$revision`` case), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from renkei.store import Store
from renkei.store import schema as t
from tests.engine.harness import World, crm_mapping, ma_mapping, make_world


def _pair(w: World) -> tuple[str, str]:
    ma_id = w.ma.create({"email": "hanako@example.co.jp", "last_name": "佐藤",
                         "company": "サクラ精機", "stage": "lead"})
    w.sync()
    [crm] = w.crm.find(Email="hanako@example.co.jp")
    return ma_id, crm["id"]


def _links(store: Store) -> dict[str, str | None]:
    with store.engine.connect() as conn:
        return {r.mapping: r.system_version for r in conn.execute(t.links.select())}


def test_the_version_seen_is_kept_with_the_baseline_and_moves_with_each_write(
        tmp_path: Path, store: Store) -> None:
    w = make_world(tmp_path, store, versioned_crm=True)
    ma_id, crm_id = _pair(w)
    assert _links(store)["crm-leads"] == w.crm.records[crm_id]["rev"] == "1"
    w.ma.edit(ma_id, {"company": "サクラ精機株式会社"})
    w.sync()
    assert w.crm.records[crm_id]["rev"] == "2"
    assert _links(store)["crm-leads"] == "2"
    w.close()


def test_an_edit_of_another_field_between_read_and_write_is_kept(
        tmp_path: Path, store: Store) -> None:
    w = make_world(tmp_path, store, versioned_crm=True)
    ma_id, crm_id = _pair(w)
    w.ma.edit(ma_id, {"company": "サクラ精機株式会社"})
    # The salesperson types a note just before renkei's write reaches the system.
    w.crm.before_write.append(lambda: w.crm.edit(crm_id, {"Note": "来週訪問"}))
    s = w.sync()
    crm = w.crm.records[crm_id]
    assert (crm["Company"], crm["Note"]) == ("サクラ精機株式会社", "来週訪問")
    assert s.get("crm-leads", "out").conflicts == 1
    assert s.get("crm-leads", "out").failed == 0
    [hub] = w.hub()
    assert hub["description"] == "来週訪問"
    w.sync()  # the note reaches marketing on the next run, and nothing bounces back
    assert w.ma.records[ma_id]["note"] == "来週訪問"
    writes = w.writes()
    w.sync()
    assert w.writes() == writes
    w.close()


def test_an_edit_of_the_same_field_is_decided_by_policy_newest_wins(
        tmp_path: Path, store: Store) -> None:
    w = make_world(tmp_path, store, versioned_crm=True)
    ma_id, crm_id = _pair(w)
    w.ma.edit(ma_id, {"company": "サクラ精機(株)本社"})
    w.crm.before_write.append(lambda: w.crm.edit(crm_id, {"Company": "さくら精機"}))
    w.sync()
    # The salesperson's edit is newer: it wins, in the system and in the hub.
    assert w.crm.records[crm_id]["Company"] == "さくら精機"
    [hub] = w.hub()
    assert hub["company"] == "さくら精機"
    w.sync()
    assert w.ma.records[ma_id]["company"] == "さくら精機"
    w.close()


def test_an_edit_of_a_field_the_other_system_owns_is_overwritten_by_policy(
        tmp_path: Path, store: Store) -> None:
    owned = "{policy: system_wins, owner: ma}"
    w = make_world(tmp_path, store, versioned_crm=True, ma=ma_mapping(owned),
                   crm=crm_mapping(owned))
    ma_id, crm_id = _pair(w)
    w.ma.edit(ma_id, {"company": "サクラ精機株式会社"})
    w.crm.before_write.append(lambda: w.crm.edit(crm_id, {"Company": "さくら精機",
                                                          "Note": "要確認"}))
    w.sync()
    crm = w.crm.records[crm_id]
    assert (crm["Company"], crm["Note"]) == ("サクラ精機株式会社", "要確認")
    w.close()


def test_a_record_edited_again_during_the_merge_waits_for_the_next_run(
        tmp_path: Path, store: Store) -> None:
    w = make_world(tmp_path, store, versioned_crm=True)
    ma_id, crm_id = _pair(w)
    w.ma.edit(ma_id, {"company": "サクラ精機株式会社"})
    w.crm.before_write.extend([lambda: w.crm.edit(crm_id, {"Note": "一回目"}),
                               lambda: w.crm.edit(crm_id, {"Note": "二回目"})])
    s = w.sync()
    out = s.get("crm-leads", "out")
    assert out.failed == 1 and out.failure_categories["conflict"] == 1
    assert w.crm.records[crm_id]["Company"] == "サクラ精機"  # nothing written blind
    s = w.sync()
    crm = w.crm.records[crm_id]
    assert (crm["Company"], crm["Note"]) == ("サクラ精機株式会社", "二回目")
    assert s.get("crm-leads", "out").failed == 0
    w.close()


def test_a_store_of_schema_version_1_is_migrated_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store.open(url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE links DROP COLUMN system_version")
        conn.exec_driver_sql("UPDATE renkei_meta SET value = '1' WHERE key = 'schema_version'")
        conn.exec_driver_sql(
            "INSERT INTO records (entity, data, field_meta, version, created_at, updated_at, "
            "deleted) "
            "VALUES ('lead', '{}', '{}', 1, 'x', 'x', false)")
        conn.exec_driver_sql(
            "INSERT INTO links (mapping, system_id, record_id, baseline, updated_at) "
            "VALUES ('m', 's1', 1, '{\"email\": \"a@example.com\"}', 'x')")
    store.close()
    store = Store.open(url)
    with store.transaction() as tx:
        link = tx.links.by_system_ids("m", ["s1"])["s1"]
    assert link.baseline == {"email": "a@example.com"} and link.system_version is None
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql(
            "SELECT value FROM renkei_meta WHERE key = 'schema_version'").scalar() == str(
                t.SCHEMA_VERSION)
        assert conn.exec_driver_sql("SELECT count(*) FROM webhook_inbox").scalar() == 0
    store.close()
