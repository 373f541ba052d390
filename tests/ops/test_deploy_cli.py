"""``renkei deploy`` through the real entry point against a real Prefect server (issue #8).

The registration test runs ``.venv/bin/renkei deploy`` twice on a scratch project (the
prefect.yaml shipped with renkei) against ``prefect server start`` and reads back, through
the Prefect client, the work pool, every deployment, the concurrency limits and the three
automations; the second run must change nothing but update in place (a duplicate automation
planted in between is removed). The error tests need no server: a bad prefect.yaml, an
unreachable server and no server configured each give one clear line and exit 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.ops.conftest import free_port, prefect_api

REPO = Path(__file__).resolve().parents[2]
RENKEI = Path(sys.executable).parent / "renkei"
POOL = "renkei-cli-test"
DEPLOYMENTS = {  # (flow, deployment) of the shipped prefect.yaml
    ("entity sync", "lead-sync"), ("entity sync", "deal-sync"),
    ("entity sync", "activity-sync"), ("entity sync", "alert-sync"),
    ("webhook inbox", "webhook-inbox"), ("retry failed records", "retry-failed-records"),
    ("closed-loop report", "closed-loop-report"), ("reconciliation", "reconciliation-daily")}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``prefect server start`` for this module; the test process's client points at it."""
    with prefect_api(tmp_path_factory.mktemp("prefect-deploy")) as url:
        yield url


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project without its own prefect.yaml (renkei's is used); Marketo is never called."""
    (tmp_path / "renkei.yaml").write_text(
        f"database: sqlite:///{tmp_path / 'hub.db'}\nmappings: {REPO / 'mappings'}\n"
        "connections:\n  marketo:\n    type: marketo\n    config: {base_url: "
        "'http://127.0.0.1:9', client_id: x, client_secret: y, munchkin_id: 000-AAA-000}\n",
        encoding="utf-8")
    return tmp_path


def _deploy(project: Path, *args: str, api: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_HOME": str(project / ".prefect-home"), "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    if api is not None:
        env["PREFECT_API_URL"] = api
    return subprocess.run([str(RENKEI), "--project", str(project), "deploy", *args], env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def _server_state() -> dict[str, Any]:
    from prefect.client.orchestration import get_client

    from renkei.ops.automations import AUTH, FAILED, QUOTA

    with get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        return {
            "pool": client.read_work_pool(POOL),
            "deployments": {(flows[d.flow_id], d.name): d for d in client.read_deployments()},
            "limits": {g.name: g for g in client.read_global_concurrency_limits(limit=200)},
            "automations": {n: client.read_automations_by_name(n) for n in (FAILED, AUTH, QUOTA)},
        }


def _plant_duplicate_automation() -> None:
    """What an older renkei deploy (or two run at once) could leave behind."""
    from prefect.client.orchestration import get_client

    from renkei.ops.automations import AUTH, automations

    with get_client(sync_client=True) as client:
        client.create_automation(next(a for a in automations() if a.name == AUTH))


def _check_registration(state: dict[str, Any], project: Path) -> None:
    from renkei.ops.automations import AUTH, FAILED, QUOTA
    from renkei.ops.events import AUTH_FAILED, QUOTA_EXHAUSTED

    assert state["pool"].type == "process"
    deps = state["deployments"]
    assert set(deps) == DEPLOYMENTS
    for d in deps.values():
        assert d.work_pool_name == POOL and d.parameters.get("project") == str(project)
        assert d.global_concurrency_limit is not None and d.global_concurrency_limit.limit == 1
        assert d.concurrency_options.collision_strategy == "CANCEL_NEW"
        # runs work in the repo; no deployment path, so a worker copies nothing per run
        assert d.pull_steps == [{"prefect.deployments.steps.set_working_directory": {
            "directory": str(REPO)}}] and d.path is None, (d.name, d.pull_steps, d.path)
    lead = deps[("entity sync", "lead-sync")]
    assert lead.entrypoint == "flows/sync.py:sync_entity" and lead.parameters["entity"] == "lead"
    assert [s.schedule.interval for s in lead.schedules] == [timedelta(minutes=5)]
    report = deps[("closed-loop report", "closed-loop-report")]
    assert [(s.schedule.cron, s.schedule.timezone) for s in report.schedules] == [
        ("0 7 * * *", "Asia/Tokyo")]

    sync_limits = {n: g for n, g in state["limits"].items() if n.startswith("renkei-sync-")}
    assert {n: (g.limit, g.active) for n, g in sync_limits.items()} == {
        f"renkei-sync-{e}": (1, True) for e in ("lead", "deal", "activity", "alert")}

    autos = state["automations"]
    assert {n: len(a) for n, a in autos.items()} == {FAILED: 1, AUTH: 1, QUOTA: 1}
    failed, auth, quota = autos[FAILED][0], autos[AUTH][0], autos[QUOTA][0]
    assert all(a.enabled for a in (failed, auth, quota))
    assert failed.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    watched = failed.trigger.match_related.root["prefect.resource.name"]
    assert sorted(watched) == sorted({flow for flow, _ in DEPLOYMENTS}), watched
    assert [a.type for a in failed.actions] == ["do-nothing"]
    assert (auth.trigger.expect, auth.trigger.threshold, auth.trigger.within) == (
        {AUTH_FAILED}, 3, timedelta(minutes=30))
    assert auth.trigger.for_each == {"prefect.resource.id"}
    assert auth.actions[0].type == "pause-deployment" and auth.actions[0].source == "inferred"
    assert (quota.trigger.expect, quota.trigger.threshold) == ({QUOTA_EXHAUSTED}, 1)
    assert [a.type for a in quota.actions] == ["do-nothing"]


@pytest.mark.prefect
def test_deploy_registers_everything_and_a_second_run_duplicates_nothing(
        api: str, project: Path) -> None:
    first = _deploy(project, "--pool", POOL, api=api)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"work pool {POOL} (process): created" in first.stdout
    before = _server_state()
    _check_registration(before, project)

    _plant_duplicate_automation()
    second = _deploy(project, "--pool", POOL, api=api)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"work pool {POOL} (process): exists" in second.stdout
    assert second.stdout.count(": updated") == 3 and ": created" not in second.stdout
    after = _server_state()
    _check_registration(after, project)  # the automations' actions survived the update
    assert {k: d.id for k, d in after["deployments"].items()} == {
        k: d.id for k, d in before["deployments"].items()}, "deployments updated in place"
    assert {n: [a.id for a in v] for n, v in after["automations"].items()} == {
        n: [a.id for a in v] for n, v in before["automations"].items()}
    assert set(after["limits"]) == set(before["limits"])
    assert all(len(d.schedules) == len(before["deployments"][k].schedules)
               for k, d in after["deployments"].items())


def test_bad_prefect_yaml_is_one_clear_error_before_any_server_call(project: Path) -> None:
    (project / "prefect.yaml").write_text("deployments:\n- name: x\n  entrypoint: [\n",
                                          encoding="utf-8")
    # an unreachable server: the file is checked first, so its error is the one reported
    done = _deploy(project, api=f"http://127.0.0.1:{free_port()}/api")
    assert done.returncode == 1
    assert f"renkei deploy: {project / 'prefect.yaml'}:4:1: not valid YAML" in done.stderr, (
        done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize("text, expected", [
    ("deployments:\n- name: x\n  entrypoint: flows/sync.py:sync_entity\n  shedules: []\n",
     "deployments[0] (x): unknown key(s) shedules"),
    ("deployments:\n- name: x\n  entrypoint: flows/sync.py:sync_entity\n  schedules:\n"
     + "  - interval: every 5 minutes\n",
     "deployments[0] (x).schedules[0].interval: 'every 5 minutes' is not a positive number"),
    ("deployments:\n- name: x\n  entrypoint: flows/sync.py:sync_entity\n"
     + "  concurrency_limit: {limit: 1, collision_strategy: CANCEL_OLD}\n",
     "deployments[0] (x).concurrency_limit: {'limit': 1, 'collision_strategy': 'CANCEL_OLD'}"),
    ("deployments:\n- name: x\n  entrypoint: flows/sync.py:no_such_flow\n",
     "deployment x: entrypoint flows/sync.py:no_such_flow cannot be loaded"),
    ("deployments: {name: x}\n", "`deployments` must be a list"),
], ids=["unknown-key", "bad-interval", "bad-collision-strategy", "missing-function",
        "not-a-list"])
def test_each_prefect_yaml_mistake_is_named_with_where_it_is(
        tmp_path: Path, text: str, expected: str) -> None:
    """The same check the command runs, in process (the CLI path is tested above)."""
    from renkei.ops.deploy import deploy
    from renkei.ops.deployments import DeploymentFileError

    (tmp_path / "prefect.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(DeploymentFileError) as caught:
        deploy(REPO, prefect_file=tmp_path / "prefect.yaml")
    assert expected in str(caught.value)


def test_unreachable_server_is_a_clear_error(project: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    done = _deploy(project, api=url)
    assert done.returncode == 1
    assert f"renkei deploy: cannot reach the Prefect server at {url}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_no_server_configured_is_refused_instead_of_a_temporary_one(project: Path) -> None:
    done = _deploy(project, api=None)
    assert done.returncode == 1
    assert "PREFECT_API_URL is not set" in done.stderr, done.stderr
    assert "temporary server" not in done.stdout + done.stderr.replace(
        "never uses a temporary server", "")
    assert not (project / ".prefect-home" / "prefect.db").exists(), "a temporary server ran"
