"""The closed-loop report flow on a real Prefect server: readable run name, files, and one
table artifact per table plus a markdown summary, none carrying personal data (issue #6)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from renkei.store import Store
from tests.report.dataset import OWNER_A, populate

pytestmark = pytest.mark.prefect


def test_report_flow_leaves_artifacts_and_files(prefect_server: None, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.report import closed_loop_report

    db = f"sqlite:///{tmp_path / 'hub.db'}"
    (tmp_path / "renkei.yaml").write_text(json.dumps({"database": db}), encoding="utf-8")
    store = Store.open(db)
    populate(store)
    store.close()

    state = closed_loop_report(project=str(tmp_path), since="2026-01-01", return_state=True)
    result = state.result()
    assert (result["leads"], result["won_deals"], result["won_amount"]) == (6, 2, 1500001)
    files = sorted(Path(f).name for f in result["files"])
    assert "closed-loop-won-amount.svg" in files and len(files) == 7
    assert all(Path(f).parent == tmp_path / ".renkei" / "reports" for f in result["files"])

    run_id = state.state_details.flow_run_id

    async def read() -> tuple[str, list[tuple[str, str, str]]]:
        async with get_client() as client:
            run = await client.read_flow_run(run_id)
            arts = await client.read_artifacts(artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
            return run.name, [(a.key or "", a.type or "", str(a.data)) for a in arts]

    name, artifacts = asyncio.run(read())
    assert name == "closed-loop report · since 2026-01-01"
    assert sorted((k, t) for k, t, _ in artifacts) == [
        ("closed-loop-campaign", "table"), ("closed-loop-first-touch", "table"),
        ("closed-loop-last-touch", "table"), ("closed-loop-linear", "table"),
        ("closed-loop-owner", "table"), ("closed-loop-score-band", "table"),
        ("closed-loop-summary", "markdown")]
    everything = " ".join(d for _, _, d in artifacts)
    assert OWNER_A not in everything and "cust.example.jp" not in everything
    linear = next(d for k, _, d in artifacts if k == "closed-loop-linear")
    assert "1500001" in linear and "document_request" in linear
