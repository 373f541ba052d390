"""The webhook-inbox flow on a real Prefect server: one task per batch, events applied once
(issue #5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.memory import MemoryDataset
from renkei.store import InboxEvent, Store
from tests.engine.harness import CRM_SCHEMA, crm_mapping

pytestmark = pytest.mark.prefect


def test_inbox_flow_applies_each_batch_as_a_task_once(
        prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.client.orchestration import get_client

    from flows.inbox import process_webhook_inbox

    ds = MemoryDataset.create("inbox-flow")
    ds.add_stream("leads", CRM_SCHEMA)
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "crm-leads.yaml").write_text(crm_mapping(), encoding="utf-8")
    (tmp_path / "renkei.yaml").write_text(json.dumps({
        "database": db, "mappings": "mappings",
        "connections": {"crm": {"type": "memory", "config": {"dataset": "inbox-flow"}}},
        "webhooks": {"crm": {"verify": "token", "secret": "${HOOK_TOKEN}",
                             "mapping": "crm-leads", "records": "record",
                             "events": ["UPDATE_RECORD"]}}}), encoding="utf-8")
    monkeypatch.setenv("HOOK_TOKEN", "t0ken")
    store = Store.open(db)
    events = [InboxEvent("crm", f"e{i}", "UPDATE_RECORD", None, json.dumps({"record": {
        "id": f"lea-{i}", "Email": f"p{i}@example.co.jp", "LastName": f"姓{i}",
        "updated_at": "2026-11-20T10:00:00Z"}})) for i in range(250)]
    events.append(InboxEvent("crm", "other", "DELETE_RECORD", None, "{}"))
    with store.transaction() as tx:
        tx.inbox.add_many(events)

    state = process_webhook_inbox(project=str(tmp_path), batch=100, return_state=True)
    assert state.result() == {"processed": 250, "records": 250, "ignored": 1, "failed": 0,
                              "pending": 0}
    assert process_webhook_inbox(project=str(tmp_path))["processed"] == 0
    with store.transaction() as tx:
        assert len(tx.records.page("lead", limit=1000)) == 250
    store.close()

    async def task_names() -> list[str]:
        async with get_client() as client:
            return [t.name for t in await client.read_task_runs()
                    if t.flow_run_id == state.state_details.flow_run_id]

    import asyncio
    names = asyncio.run(task_names())
    # 251 events in batches of 100: the ignored event rides in the last batch.
    assert sorted(names) == ["apply 100 crm webhook events", "apply 100 crm webhook events",
                             "apply 51 crm webhook events"]
