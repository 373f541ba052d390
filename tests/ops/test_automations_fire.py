"""The automations ``renkei deploy`` creates fire on a real Prefect server (issue #8).

One ``prefect server start`` (its triggers and actions services are what evaluate
automations) and one Marketo emulator serve the module. The lead-sync deployment is
registered by :func:`renkei.ops.deploy.deploy` from a project's own prefect.yaml, and its
flow runs are created from the deployment and executed as a worker would: in process with
Prefect's engine, and once as the process worker's own command (``python -m prefect.engine``)
in an empty directory. Each test reads the server's event feed for the automation's
``prefect.automation.action.executed`` event caused by the run's own event, and checks the
action's effect where it has one (the deployment paused).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.core.faults import FaultRule
from sandbox.core.server import EmulatorServer
from sandbox.marketo.app import MarketoEmulator
from sandbox.marketo.config import MarketoConfig
from tests.ops.conftest import prefect_api

pytestmark = pytest.mark.prefect
REPO = Path(__file__).resolve().parents[2]
FIRE_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``prefect server start`` (all services on); the test process's client uses it."""
    # heartbeats make every sync flow last >= 1 s; these runs are short
    with prefect_api(tmp_path_factory.mktemp("prefect-fire"), heartbeats=False) as url:
        yield url
        _drain_workers()


def _drain_workers() -> None:
    """Send the in-process runs' queued logs and events while the server is still up (else
    the interpreter's exit retries them against a stopped server for over a minute)."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for result in (APILogWorker.instance().drain(), EventsWorker.drain_all()):
            if inspect.isawaitable(result):
                await result

    run_coro_as_sync(drain())


@pytest.fixture(scope="module")
def marketo() -> Iterator[tuple[MarketoEmulator, str]]:
    app = MarketoEmulator(MarketoConfig(size=100, seed=11, munchkin_id="fire-test"))
    server = EmulatorServer(app.asgi(), name="marketo")
    server.start()
    yield app, server.url
    server.stop()


def _project(root: Path, marketo: tuple[MarketoEmulator, str], secret: str | None) -> Path:
    """A project syncing leads with Marketo (the repo's mapping); ``secret`` None: the real one."""
    app, url = marketo
    creds = app.credentials()
    root.mkdir(parents=True, exist_ok=True)
    (root / "renkei.yaml").write_text(
        f"database: sqlite:///{root / 'hub.db'}\nmappings: {REPO / 'mappings'}\n"
        "connections:\n  marketo:\n    type: marketo\n    config:\n"
        f"      base_url: {url}\n      client_id: {creds['client_id']}\n"
        f"      client_secret: {secret or creds['client_secret']}\n"
        f"      munchkin_id: {creds['munchkin_id']}\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def deployment(api: str, tmp_path_factory: pytest.TempPathFactory,
               marketo: tuple[MarketoEmulator, str]) -> dict[str, Any]:
    """lead-sync registered from a project's own prefect.yaml (renkei's flow by module path)."""
    from prefect.client.orchestration import get_client

    from renkei.ops.deploy import deploy

    root = _project(tmp_path_factory.mktemp("fire-project"), marketo, None)
    (root / "prefect.yaml").write_text(
        "deployments:\n- name: lead-sync\n  entrypoint: flows/sync.py:sync_entity\n"
        "  parameters: {entity: lead}\n"
        "  concurrency_limit: {limit: 1, collision_strategy: CANCEL_NEW}\n", encoding="utf-8")
    report = deploy(root, pool="renkei-fire", project=str(root))
    assert report.deployments == ["entity sync/lead-sync"], report.lines()
    with get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name("entity sync/lead-sync")
        autos = {a.name: a.id for a in client.read_automations()}
    return {"id": dep.id, "root": root, "automations": autos}


def _new_run(deployment_id: Any, project: Path) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.create_flow_run_from_deployment(
            deployment_id, parameters={"project": str(project)})


def _run_in_process(deployment_id: Any, project: Path) -> Any:
    """A run of the deployment, executed by Prefect's engine as a worker's process does."""
    from prefect.flow_engine import run_flow

    from flows.sync import sync_entity

    flow_run = _new_run(deployment_id, project)
    state = run_flow(sync_entity, flow_run=flow_run, return_type="state")
    return flow_run.id, state


def _events(api: str, name: str, **filters: Any) -> list[dict[str, Any]]:
    body = {"filter": {"event": {"name": [name]}, **filters}, "limit": 50}
    r = httpx.post(f"{api}/events/filter", json=body, timeout=10)
    r.raise_for_status()
    return list(r.json()["events"])


def _wait_events(api: str, name: str, at_least: int = 1, **filters: Any) -> list[dict[str, Any]]:
    """Events are sent and stored asynchronously: poll until ``at_least`` are there."""
    deadline = time.monotonic() + FIRE_TIMEOUT_S
    while True:
        found = _events(api, name, **filters)
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _executed(api: str, automation_id: Any, triggering_event_id: str) -> list[dict[str, Any]]:
    """The automation's executed actions that the given event triggered (waits for them)."""
    return _wait_events(
        api, "prefect.automation.action.executed",
        resource={"id": [f"prefect.automation.{automation_id}"]},
        related={"id": [f"prefect.event.{triggering_event_id}"]})


def _run_state_event(api: str, state: str, flow_run_id: Any) -> dict[str, Any]:
    events = _wait_events(api, f"prefect.flow-run.{state}",
                          resource={"id": [f"prefect.flow-run.{flow_run_id}"]})
    assert events, f"no {state} event of flow run {flow_run_id}"
    return events[0]


def _emitted_by(api: str, name: str, flow_run_ids: list[Any],
                at_least: int = 1) -> list[dict[str, Any]]:
    """The ``name`` events the given flow runs emitted (they carry the run as related)."""
    return _wait_events(api, name, at_least=at_least,
                        related={"id": [f"prefect.flow-run.{r}" for r in flow_run_ids]})


def test_failed_run_fires_the_failed_run_automation_and_the_limit_is_strict(
        api: str, deployment: dict[str, Any], tmp_path: Path) -> None:
    """A deployment run whose sync limit is missing fails (strict, not run unlimited), run the
    way the process worker runs it: in its own process, in an empty working directory that
    stays empty (the deployment's pull step works in the project, nothing is copied)."""
    from prefect.client.orchestration import get_client

    from renkei.ops.automations import FAILED
    from renkei.ops.deploy import ensure_limits

    with get_client(sync_client=True) as client:
        client.delete_global_concurrency_limit_by_name("renkei-sync-lead")
    try:
        flow_run = _new_run(deployment["id"], deployment["root"])
        workdir = tmp_path / "worker-run"
        workdir.mkdir()
        env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "home"),
               "PREFECT_LOGGING_LEVEL": "WARNING", "DO_NOT_TRACK": "1",
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        done = subprocess.run([sys.executable, "-m", "prefect.engine", str(flow_run.id)],
                              cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
                              check=False)
    finally:
        ensure_limits(["renkei-sync-lead"])
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run.id).state
    assert state is not None and state.is_failed(), (state, done.stderr[-2000:])
    assert "renkei-sync-lead" in (state.message or ""), state.message
    assert list(workdir.iterdir()) == [], "the run copied code into the worker's directory"

    failed = _run_state_event(api, "Failed", flow_run.id)
    actions = _executed(api, deployment["automations"][FAILED], failed["id"])
    assert [a["payload"]["action_type"] for a in actions] == ["do-nothing"], actions


def test_repeated_authentication_errors_pause_the_deployment(
        api: str, deployment: dict[str, Any], marketo: tuple[MarketoEmulator, str],
        tmp_path: Path) -> None:
    """Rejected credentials, run after run: the third renkei.auth.failed for the connection
    pauses the deployment that hit it, so it stops retrying into a locked account."""
    from prefect.client.orchestration import get_client

    from renkei.ops.automations import AUTH
    from renkei.ops.events import AUTH_FAILED

    bad = _project(tmp_path / "bad-secret", marketo, "not-the-secret")
    runs = []
    for _ in range(2):  # each run stops the mapping in both directions: 2 events
        flow_run_id, state = _run_in_process(deployment["id"], bad)
        assert state.is_completed(), state
        runs.append(flow_run_id)
    auth_events = _emitted_by(api, AUTH_FAILED, runs, at_least=4)
    assert len(auth_events) == 4, auth_events  # in and out, per run
    assert {e["resource"]["prefect.resource.id"] for e in auth_events} == {
        "renkei.connection.marketo"}
    assert all("not-the-secret" not in str(e) for e in auth_events), "the secret leaked"

    actions = _wait_events(  # both actions: the pause and the notification (or no-op)
        api, "prefect.automation.action.executed", at_least=2,
        resource={"id": [f"prefect.automation.{deployment['automations'][AUTH]}"]})
    by_type = {a["payload"]["action_type"]: a for a in actions}
    assert "pause-deployment" in by_type, actions
    pause = by_type["pause-deployment"]
    assert pause["payload"]["status_code"] == 200
    targets = {r["prefect.resource.id"] for r in pause["related"]
               if r.get("prefect.resource.role") == "target"}
    assert targets == {f"prefect.deployment.{deployment['id']}"}
    triggering = {r["prefect.resource.id"] for r in pause["related"]
                  if r.get("prefect.resource.role") == "triggering-event"}
    assert triggering <= {f"prefect.event.{e['id']}" for e in auth_events}, triggering
    with get_client(sync_client=True) as client:
        assert client.read_deployment(deployment["id"]).paused


def test_quota_exhaustion_fires_the_quota_automation(
        api: str, deployment: dict[str, Any], marketo: tuple[MarketoEmulator, str],
        tmp_path: Path) -> None:
    """Marketo answers 607 (daily quota reached): the run emits renkei.quota.exhausted for the
    connection and the quota automation fires on that very event."""
    from renkei.ops.automations import QUOTA
    from renkei.ops.events import QUOTA_EXHAUSTED

    app, _ = marketo
    app.faults.add(FaultRule(kind="quota", path="leads", times=None))
    try:
        flow_run_id, state = _run_in_process(deployment["id"],
                                             _project(tmp_path / "spent", marketo, None))
    finally:
        app.faults.clear()
    assert state.is_completed(), state
    quotas = _emitted_by(api, QUOTA_EXHAUSTED, [flow_run_id])
    assert quotas and {q["resource"]["prefect.resource.id"] for q in quotas} == {
        "renkei.connection.marketo"}
    for quota in quotas:  # threshold 1: each stopped mapping direction alerts once
        actions = _executed(api, deployment["automations"][QUOTA], quota["id"])
        assert [a["payload"]["action_type"] for a in actions] == ["do-nothing"], actions
