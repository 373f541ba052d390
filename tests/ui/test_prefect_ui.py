"""The Prefect UI shows a sync run, its report table and its failed-records artifact, seen
through headless Chromium (issue #8). Screenshots go to docs/ui-run.png and
docs/ui-artifacts.png."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)

pytestmark = [pytest.mark.ui,
              pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary on PATH "
                                 "(Debian: apt-get install -y chromium)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def prefect_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``prefect server start`` with its UI, as renkei/demo.py's PrefectServer runs it."""
    home = tmp_path_factory.mktemp("prefect-ui")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # the UI asks the API at PREFECT_UI_API_URL, which defaults to port 4200
    env = {**os.environ, "PREFECT_HOME": str(home), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_API_URL": f"{url}/api"}
    env.pop("PREFECT_API_URL", None)
    with (home / "server.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host",
                                 "127.0.0.1", "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (home / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the Prefect server did not start in 90 s"
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _chromium(*args: str, budget_ms: int = 7000) -> str:
    assert CHROMIUM is not None
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--hide-scrollbars", "--window-size=1400,900",
         f"--virtual-time-budget={budget_ms}", *args],
        check=False, capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_ui_shows_the_run_its_report_and_failed_records(prefect_ui: str, tmp_path: Path) -> None:
    env = {**os.environ, "PREFECT_API_URL": f"{prefect_ui}/api", "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
           "PREFECT_HOME": str(tmp_path / "client-home")}
    done = subprocess.run([sys.executable, "-m", "tests.ui.run_flow", str(tmp_path / "proj")],
                          check=False, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads(done.stdout.strip().splitlines()[-1])

    # the artifacts exist on the server (what the UI will render)
    arts = httpx.post(f"{prefect_ui}/api/artifacts/filter", json={
        "artifacts": {"flow_run_id": {"any_": [run["flow_run_id"]]}}}, timeout=10).json()
    by_key = {a["key"]: a for a in arts if a.get("key")}
    assert {"lead-sync-summary", "lead-sync-failures"} <= set(by_key), sorted(by_key)
    failures = by_key["lead-sync-failures"]

    started = time.perf_counter()
    run_url = f"{prefect_ui}/v2/runs/flow-run/{run['flow_run_id']}"
    dom = _chromium("--dump-dom", run_url)
    assert run["name"] in dom, "the run page names the run"
    _chromium(f"--screenshot={REPO / 'docs' / 'ui-run.png'}", run_url)

    art_url = f"{prefect_ui}/v2/artifacts/artifact/{failures['id']}"
    dom = _chromium("--dump-dom", art_url)
    assert "lead-sync-failures" in dom
    assert "INVALID_EMAIL_ADDRESS" in dom and "validation" in dom, "the failed record is listed"
    assert "ui3@example.com" not in dom, "the e-mail is masked"
    _chromium(f"--screenshot={REPO / 'docs' / 'ui-artifacts.png'}", art_url)
    assert (REPO / "docs" / "ui-run.png").stat().st_size > 10_000
    print(f"\nUI check: 4 Chromium loads in {time.perf_counter() - started:.1f} s")
