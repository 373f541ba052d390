"""The sync flow on a real Prefect server: tasks per page/batch, run name, artifacts (issue #2)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from renkei.store import Store
from tests.engine.harness import make_world

pytestmark = pytest.mark.prefect


def test_sync_flow_runs_pages_as_tasks_and_leaves_artifacts(
        prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.sync import sync_entity

    db = f"sqlite:///{tmp_path / 'hub.db'}"
    store = Store.open(db)
    w = make_world(tmp_path, store, page_size=100, batch=50)
    for i in range(230):
        w.ma.create({"email": f"u{i}@example.co.jp", "last_name": f"姓{i}", "company": "株式会社テスト"})
    w.ma.create({"email": "bad@example.co.jp", "last_name": "X", "stage": "hot"})
    (tmp_path / "renkei.yaml").write_text(
        f"database: {db}\nmappings: {w.project.mappings_dir}\nconnections:\n"
        f"  ma: {{type: memory, config: {{dataset: {w.dataset.name}}}}}\n"
        f"  crm: {{type: memory, config: {{dataset: {w.dataset.name}}}}}\n", encoding="utf-8")

    state = sync_entity(entity="lead", project=str(tmp_path), return_state=True)
    result = state.result()
    assert result["status"] == "completed"
    rows = {(r["mapping"], r["direction"]): r for r in result["mappings"]}
    assert rows[("ma-contacts", "in")]["created"] == 230
    assert rows[("ma-contacts", "in")]["failed"] == 1
    assert rows[("crm-leads", "out")]["created"] == 230
    assert len(w.crm.records) == 230

    async def inspect() -> tuple[str, list[str], dict[str, object]]:
        async with get_client() as client:
            [run] = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
            tasks = await client.read_task_runs()
            arts = await client.read_artifacts()
            mine = [t.name for t in tasks if t.flow_run_id == run.id]
            by_key = {a.key: a.data for a in arts if a.flow_run_id == run.id}
            return run.name, mine, by_key

    name, task_names, artifacts = asyncio.run(inspect())
    assert name == "lead sync · crm, ma → hub → crm, ma"
    # one task per page (3 ma pages of <=100; crm's read is empty) and per batch (5 of <=50)
    assert sum(n.startswith("ingest") for n in task_names) == 3
    assert sum(n.startswith("write") for n in task_names) == 5
    assert {"lead-sync-summary", "lead-sync-failures", "lead-sync-report"} <= set(artifacts)
    failures = str(artifacts["lead-sync-failures"])
    assert "lifecycle_stage" in failures
    assert "bad@example.co.jp" not in failures
    store.close()
    w.close()
