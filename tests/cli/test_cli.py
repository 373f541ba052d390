"""The fixed CLI names: validate, plan, status, conflicts (issue #2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from renkei.cli import main
from renkei.store import Store
from tests.engine.harness import World, crm_mapping, ma_mapping, make_world


def _project_file(tmp: Path, w: World, db: str) -> Path:
    (tmp / "renkei.yaml").write_text(
        f"database: {db}\nmappings: {w.project.mappings_dir}\nconnections:\n"
        f"  ma: {{type: memory, config: {{dataset: {w.dataset.name}}}}}\n"
        f"  crm: {{type: memory, config: {{dataset: {w.dataset.name}}}}}\n", encoding="utf-8")
    return tmp


def test_validate_reports_file_line_col_and_exits_1(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("connection: ma\nstream: s\nentity: lead\nmatch:\n  - {name: email, fields: [email], "
                   "normalize: email}\nfields:\n  emial: email\n", encoding="utf-8")
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:7:3:" in out and "unknown field 'emial'" in out


def test_plan_shows_field_changes_and_writes_nothing(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    store = Store.open(db)
    w = make_world(tmp_path, store)
    w.ma.create({"email": "plan@example.co.jp", "last_name": "計画", "company": "株式会社プラン"})
    proj = _project_file(tmp_path, w, db)
    assert main(["--project", str(proj), "plan", "lead"]) == 0
    out = capsys.readouterr().out
    assert "hub → crm-leads: 1 create(s)" in out
    assert "company: ∅ → \"株式会社プラン\"" in out or "株式会社プラン" in out
    assert "plan@example.co.jp" not in out and "p***@example.co.jp" in out   # masked
    assert w.writes() == 0 and w.crm.records == {}
    assert w.hub() == []                       # the dry run left nothing in the store
    store.close()
    w.close()


def test_status_and_conflict_resolution(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    store = Store.open(db)
    w = make_world(tmp_path, store, ma=ma_mapping("manual"), crm=crm_mapping("manual"))
    ma_id = w.ma.create({"email": "c@example.com", "last_name": "C", "company": "元の社名"})
    w.sync()
    [crm] = w.crm.find(Email="c@example.com")
    w.crm.edit(crm["id"], {"Company": "営業の社名"})
    w.ma.edit(ma_id, {"company": "マーケの社名"})
    w.sync()
    proj = _project_file(tmp_path, w, db)
    assert main(["--project", str(proj), "status"]) == 0
    out = capsys.readouterr().out
    assert "Conflicts open: 1" in out and "Last runs:" in out
    assert main(["--project", str(proj), "conflicts"]) == 0
    listing = capsys.readouterr().out
    assert "company" in listing and "マーケの社名" in listing
    conflict_id = int(listing.split()[0].lstrip("#"))
    assert main(["--project", str(proj), "conflicts", "resolve", str(conflict_id),
                 "--value", '"合意した社名"']) == 0
    assert main(["--project", str(proj), "conflicts", "resolve", str(conflict_id)]) == 1
    w.sync()
    assert w.crm.records[crm["id"]]["Company"] == "合意した社名"
    assert w.ma.records[ma_id]["company"] == "合意した社名"
    store.close()
    w.close()
