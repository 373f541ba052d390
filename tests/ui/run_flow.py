"""Runs one small lead sync flow against ``PREFECT_API_URL`` (memory connectors, one record
the CRM rejects) and prints the flow run's id and name as JSON: the UI test's subject."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from connectors.memory import MemoryDataset
from connectors.sdk.types import ErrorCategory, RecordError
from tests.engine.harness import CRM_SCHEMA, MA_SCHEMA, crm_mapping, ma_mapping


def main(workdir: str) -> None:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.sync import sync_entity

    root = Path(workdir)
    ds = MemoryDataset.create("ui-check")
    ma = ds.add_stream("contacts", MA_SCHEMA)
    crm = ds.add_stream("leads", CRM_SCHEMA)
    for i in range(12):
        ma.create({"email": f"ui{i}@example.com", "last_name": f"試験{i}", "company": "サクラ精機",
                   "stage": "lead", "note": None, "phone": None, "score": i})
    crm.reject = lambda v: (RecordError(ErrorCategory.VALIDATION, "Email: invalid domain",
                                        "INVALID_EMAIL_ADDRESS")
                            if v.get("Email") == "ui3@example.com" else None)
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "mappings" / "ma-contacts.yaml").write_text(ma_mapping(), encoding="utf-8")
    (root / "mappings" / "crm-leads.yaml").write_text(crm_mapping(), encoding="utf-8")
    (root / "renkei.yaml").write_text(
        f"database: sqlite:///{root}/renkei.db\nmappings: mappings\nconnections:\n"
        "  ma: {type: memory, config: {dataset: ui-check}}\n"
        "  crm: {type: memory, config: {dataset: ui-check}}\n", encoding="utf-8")
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        state = sync_entity(entity="lead", project=str(root), return_state=True)
    run_id = state.state_details.flow_run_id
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        name = client.read_flow_run(run_id).name
    print(json.dumps({"flow_run_id": str(run_id), "name": name}))


if __name__ == "__main__":
    main(sys.argv[1])
