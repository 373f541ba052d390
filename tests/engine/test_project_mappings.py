"""A shared mapping directory: a project runs the mappings of its own connections only and
says which it left out (found when kintone, SMP and eセールスマネージャー mappings joined
mappings/ and a Marketo/Salesforce-only project tried to run them)."""

from __future__ import annotations

from pathlib import Path

from renkei.project import Project
from tests.engine.harness import crm_mapping, ma_mapping


def test_mappings_of_unconfigured_connections_are_listed_not_run(tmp_path: Path) -> None:
    mdir = tmp_path / "mappings"
    mdir.mkdir()
    (mdir / "ma.yaml").write_text(ma_mapping(), encoding="utf-8")
    (mdir / "crm.yaml").write_text(crm_mapping(), encoding="utf-8")
    project = Project(root=tmp_path, database_url=None, mappings_dir=mdir,
                      connections={"ma": {"type": "memory", "config": {"dataset": "x"}}})
    assert [m.name for m in project.mappings()] == ["ma-contacts"]
    assert project.unconnected_mappings() == ["crm-leads"]
    assert [m.name for m in project.mappings_for("lead")] == ["ma-contacts"]
