"""Operations in the Prefect UI on a real Prefect server (issue #8): `renkei deploy` is
idempotent, `renkei serve` fires scheduled runs, the retry flow reports recoveries, and no
log record of a sync run carries a secret or unmasked personal data."""

from __future__ import annotations

import asyncio
import http.server
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.sdk.errors import VendorUnavailableError
from connectors.sdk.types import ErrorCategory, RecordError
from renkei.store import Store
from tests.engine.harness import World, make_world

pytestmark = pytest.mark.prefect
REPO = Path(__file__).resolve().parents[2]
SECRET = "S3CRET-KEY-7f2a"
PERSON = "planted.person@example.co.jp"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A memory-connector world whose project is also written as tmp/renkei.yaml."""
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    store = Store.open(db)
    w = make_world(tmp_path, store, page_size=100, batch=50)
    (tmp_path / "renkei.yaml").write_text(
        f"database: {db}\nmappings: {w.project.mappings_dir}\nconnections:\n"
        f"  ma: {{type: memory, config: {{dataset: {w.dataset.name}}}}}\n"
        f"  crm: {{type: memory, config: {{dataset: {w.dataset.name}}}}}\n", encoding="utf-8")
    yield w
    w.close()
    store.close()


def _client_call(fn: Any) -> Any:
    from prefect.client.orchestration import get_client

    async def go() -> Any:
        async with get_client() as client:
            return await fn(client)
    return asyncio.run(go())


def test_deploy_registers_pool_limits_deployments_automations_idempotently(
        prefect_server: None, tmp_path: Path) -> None:
    from renkei.ops.automations import AUTH, FAILED, QUOTA
    from renkei.ops.deploy import deploy

    first = deploy(REPO, project=str(tmp_path), pool="renkei-test")
    second = deploy(REPO, project=str(tmp_path), pool="renkei-test")
    assert (first.pool_created, second.pool_created) == (True, False), first.lines()
    assert (sorted(first.automations_created), second.automations_created) == (
        sorted([AUTH, FAILED, QUOTA]), [])
    assert sorted(second.automations_updated) == sorted([AUTH, FAILED, QUOTA])

    async def read(client: Any) -> tuple[Any, ...]:
        pool = await client.read_work_pool("renkei-test")
        deps = [await client.read_deployment_by_name(f"{flow}/{name}") for flow, name in (
            ("entity sync", "lead-sync"), ("entity sync", "deal-sync"),
            ("entity sync", "activity-sync"), ("entity sync", "alert-sync"),
            ("webhook inbox", "webhook-inbox"), ("retry failed records", "retry-failed-records"))]
        limits = await client.read_global_concurrency_limits(limit=100)
        autos = [a for n in (AUTH, FAILED, QUOTA) for a in await client.read_automations_by_name(n)]
        return pool, deps, limits, autos

    pool, deps, limits, autos = _client_call(read)
    assert pool.type == "process"
    names = [d.name for d in deps]
    mine = {"lead-sync", "deal-sync", "activity-sync", "alert-sync", "webhook-inbox",
            "retry-failed-records"}
    assert mine == set(names)
    assert set(first.deployments) <= set(second.deployments)  # updated, not duplicated
    lead = next(d for d in deps if d.name == "lead-sync")
    assert lead.work_pool_name == "renkei-test" and lead.parameters["entity"] == "lead"
    assert lead.parameters["project"] == str(tmp_path)
    assert [s.schedule.interval.total_seconds() for s in lead.schedules] == [300]
    gcl = {g.name: g.limit for g in limits}
    assert {f"renkei-sync-{e}": 1 for e in ("lead", "deal", "activity", "alert")}.items() <= gcl.items()
    assert len(autos) == 3 and all(a.enabled for a in autos)


def test_serve_fires_a_scheduled_run_with_the_receiver_up(
        prefect_server: None, tmp_path: Path, world: World) -> None:
    from prefect.settings import PREFECT_API_URL

    deployments = tmp_path / "serve-deployments.yaml"
    deployments.write_text(
        "deployments:\n- name: inbox-often\n  entrypoint: flows/inbox.py:process_webhook_inbox\n"
        "  schedules:\n  - interval: 60\n", encoding="utf-8")
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()),
           "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "renkei.cli", "--project", str(tmp_path), "serve",
         "--prefect-file", str(deployments), "--interval", "2"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    api = str(PREFECT_API_URL.value())
    try:
        runs: list[Any] = []
        scheduled = False
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not runs:
            time.sleep(1)
            if not scheduled:
                # The test server (an ephemeral one) runs no scheduler service, so do its
                # job: turn the served deployment's 2 s schedule into scheduled runs.
                r = httpx.get(f"{api}/deployments/name/webhook inbox/inbox-often", timeout=5)
                if r.status_code == 200:
                    # SQLite may answer 503 (locked) while the runner writes: try again.
                    scheduled = httpx.post(f"{api}/deployments/{r.json()['id']}/schedule",
                                           json={"max_runs": 3}, timeout=5).is_success

            async def completed(client: Any) -> list[Any]:
                return [r for r in await client.read_flow_runs()
                        if r.state_name == "Completed" and r.deployment_id is not None
                        and r.auto_scheduled]
            runs = _client_call(completed)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert runs, f"no scheduled run completed within 45 s: {out.decode()[-3000:]}"
    assert b"renkei serving 1 deployment(s): inbox-often" in out


def _reject_no_access(values: dict[str, Any]) -> RecordError | None:
    if values.get("LastName") == "NoAccess":
        return RecordError(ErrorCategory.PERMISSION, "INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS")
    return None


def test_retry_flow_reports_recovered_per_category(
        prefect_server: None, tmp_path: Path, world: World) -> None:
    from flows.retry import retry_failed_records

    world.crm.reject = _reject_no_access
    world.ma.create({"email": "n@example.co.jp", "last_name": "NoAccess", "company": "C"})
    world.ma.create({"email": "bad@example.co.jp", "last_name": "X", "stage": "hot"})
    world.sync()
    world.crm.reject = None
    state = retry_failed_records(project=str(tmp_path), return_state=True)
    result = state.result()
    assert (result["selected"], result["recovered"], result["still_failing"]) == (2, 1, 1)

    async def artifacts(client: Any) -> dict[str, Any]:
        return {a.key: a.data for a in await client.read_artifacts()
                if a.flow_run_id == state.state_details.flow_run_id}
    arts = _client_call(artifacts)
    assert '"category": "permission"' in arts["retry-failed-records"]
    assert '"recovered": 1' in arts["retry-failed-records"]
    assert "bad@example.co.jp" not in arts["retry-still-failing"]


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_no_log_record_of_a_sync_run_carries_secrets_or_personal_data(
        prefect_server: None, tmp_path: Path, world: World,
        caplog: pytest.LogCaptureFixture) -> None:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from flows.sync import sync_entity

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/leads?api_key={SECRET}&email={PERSON}"

    def vendor_call() -> None:  # a declarative connector's request, key in the query
        httpx.get(url, timeout=5).close()

    world.ma.create({"email": PERSON, "last_name": "Planted", "phone": "+81 90-1234-5678"})
    world.crm.before_write = [vendor_call]
    world.crm.fail_write_calls = [VendorUnavailableError(
        f"503 from https://crm.example.com/api?api_key={SECRET} while writing {PERSON}")]
    caplog.set_level(logging.INFO)
    try:
        state = sync_entity(entity="lead", project=str(tmp_path), return_state=True)
    finally:
        server.shutdown()
        server.server_close()
    assert state.result()["status"] == "partial"  # the CRM mapping stopped, as planted

    async def api_logs(client: Any) -> list[str]:
        logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
            any_=[state.state_details.flow_run_id])))
        return [lg.message for lg in logs]
    stored = _client_call(api_logs)
    local = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    everything = "\n".join(stored + local)
    assert any(r.name == "httpx" for r in caplog.records)  # the planted request was logged
    assert SECRET not in everything
    assert PERSON not in everything and "1234-5678" not in everything
    assert "?[query removed]" in everything
    assert "p***@example.co.jp" in everything  # masked, still recognisable
