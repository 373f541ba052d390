"""The kintone emulator's limits, webhooks, faults and launcher registration, over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.core.server import EmulatorServer
from sandbox.kintone import KintoneEmulator, KintoneSettings
from sandbox.kintone.cursors import CursorRegistry
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.limits import DailyUsage
from sandbox.kintone.testing import running_emulator, token_headers
from sandbox.launcher import Sandbox, SandboxOptions


@pytest.fixture
def served() -> Iterator[tuple[KintoneEmulator, EmulatorServer]]:
    with running_emulator(KintoneSettings(size=100, concurrency_limit=2)) as pair:
        yield pair


@pytest.fixture
def http(served: tuple[KintoneEmulator, EmulatorServer]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[1].url, headers=token_headers(1, 2, 3, 4),
                      trust_env=False) as client:
        yield client


def test_requests_beyond_the_concurrency_limit_get_429_gaia_to04(http: httpx.Client) -> None:
    http.post("/_sandbox/faults", json={"kind": "slow", "path": "^/k/v1/records.json",
                                        "delay_s": 0.4, "times": None})

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(
            lambda _: http.get("/k/v1/records.json", params={"app": 1}), range(4)))

    refused = [r for r in responses if r.status_code == 429]
    assert sorted(r.status_code for r in responses) == [200, 200, 429, 429]
    assert all(r.json()["code"] == "GAIA_TO04" for r in refused)
    assert refused[0].headers["X-ConcurrencyLimit-Limit"] == "2"
    assert refused[0].headers["X-Cybozu-Error"] == "GAIA_TO04"
    assert int(refused[0].headers["X-ConcurrencyLimit-Running"]) > 2
    usage = http.get("/_sandbox/usage").json()["concurrency"]
    assert (usage["peak"], usage["rejected"], usage["running"]) == (2, 2, 0)
    logged = [c["vendor_code"] for c in http.get("/_sandbox/calls").json()["calls"]]
    assert logged.count("GAIA_TO04") == 2


def test_daily_requests_are_counted_per_app_and_never_refused(http: httpx.Client) -> None:
    for app in (1, 1, 3):
        http.get("/k/v1/records.json", params={"app": app})
    counts = http.get("/_sandbox/usage").json()["apps"]
    assert (counts["1"]["count"], counts["3"]["count"]) == (2, 1)

    http.post("/_sandbox/usage", json={"app": 1, "count": 10_000})
    assert http.get("/k/v1/records.json", params={"app": 1}).status_code == 200
    over = http.get("/_sandbox/usage").json()["apps"]["1"]
    assert over == {"count": 10_001, "over_limit": True}


def test_daily_counter_turns_at_midnight_utc() -> None:
    now = [datetime(2026, 11, 23, 23, 59, tzinfo=UTC)]
    usage = DailyUsage(clock=lambda: now[0])
    usage.count(1)
    now[0] += timedelta(minutes=2)  # 09:01 JST: a new kintone day
    assert usage.count(1) == 1


def test_cursors_expire_after_ten_idle_minutes() -> None:
    clock = [0.0]
    cursors = CursorRegistry(clock=lambda: clock[0])
    cursor = cursors.create(1, None, [], 100)
    clock[0] += 599
    assert cursors.open_count() == 1
    clock[0] += 1
    assert cursors.open_count() == 0
    with pytest.raises(KintoneError) as info:
        cursors.delete(cursor.id)
    assert info.value.code == "GAIA_CU01"


def test_faults_render_as_kintone_errors(http: httpx.Client) -> None:
    http.post("/_sandbox/faults", json={"rules": [
        {"kind": "server_error", "path": "^/k/v1/records.json", "times": 1},
        {"kind": "rate_limit", "path": "^/k/v1/records.json", "times": 1, "retry_after": 1}]})

    down = http.get("/k/v1/records.json", params={"app": 1})
    busy = http.get("/k/v1/records.json", params={"app": 1})

    assert (down.status_code, down.json()["code"]) == (503, "CB_UN01")
    assert (busy.status_code, busy.json()["code"]) == (429, "GAIA_TO04")
    assert busy.headers["Retry-After"] == "1"
    calls = http.get("/_sandbox/calls").json()["calls"]
    assert [(c["fault"], c["vendor_code"]) for c in calls] == [
        ("server_error", "CB_UN01"), ("rate_limit", "GAIA_TO04")]


class Receiver:
    """A webhook endpoint that answers slowly, to show deliveries never block the API."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()

    async def hook(self, request: Request) -> Response:
        body = await request.json()
        with self.lock:
            self.bodies.append(body)
            self.headers.append(dict(request.headers))
        await asyncio.sleep(0.2)
        return Response(status_code=200)


def test_webhooks_send_one_notification_per_record_without_blocking(
        served: tuple[KintoneEmulator, EmulatorServer], http: httpx.Client) -> None:
    emulator, _ = served
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    with EmulatorServer(app, name="receiver") as hook_server:
        http.post("/_sandbox/webhooks", json={"app": 4, "url": f"{hook_server.url}/hook"})
        started = time.perf_counter()
        added = http.post("/k/v1/records.json", json={"app": 4, "records": [
            {"連携ID": {"value": "a-1"}, "件名": {"value": "ウェビナー参加"}},
            {"連携ID": {"value": "a-2"}}]}).json()["ids"]
        elapsed = time.perf_counter() - started
        http.put("/k/v1/record.json", json={"app": 4, "id": added[0],
                                            "record": {"視聴率": {"value": "80"}}})
        http.request("DELETE", "/k/v1/records.json", json={"app": 4, "ids": [added[1]]})
        http.post("/k/v1/records.json", json={"app": 3, "records": [{}]})  # not subscribed
        assert emulator.webhooks.wait_idle(10)

    assert elapsed < 0.2  # two deliveries of 0.2 s each were not awaited
    kinds = [(b["type"], b.get("recordId") or b["record"]["$id"]["value"])
             for b in receiver.bodies]
    assert kinds == [("ADD_RECORD", added[0]), ("ADD_RECORD", added[1]),
                     ("UPDATE_RECORD", added[0]), ("DELETE_RECORD", added[1])]
    add = receiver.bodies[0]
    assert add["app"] == {"id": "4", "name": "活動履歴"}
    assert add["recordTitle"] == "ウェビナー参加"
    assert add["url"].endswith(f"/k/4/show#record={added[0]}")
    assert receiver.bodies[2]["record"]["$revision"]["value"] == "2"
    assert receiver.bodies[3]["deletedBy"]["code"] == "Administrator"
    assert not any(k.startswith("x-") and "sign" in k for h in receiver.headers for k in h)
    deliveries = http.get("/_sandbox/webhooks").json()["deliveries"]
    assert [d["status"] for d in deliveries] == [200] * 4


def test_launcher_starts_kintone_and_describes_it() -> None:
    sandbox = Sandbox(SandboxOptions(size=100), ports={"kintone": 0}).start(["kintone"])
    try:
        url = sandbox.urls["kintone"]
        response = httpx.get(f"{url}/k/v1/records.json", params={"app": 1, "totalCount": "true"},
                             headers=token_headers(1), trust_env=False)
        assert response.json()["totalCount"] == "20"
        assert url in sandbox.describe() and "api_tokens" in sandbox.describe()
    finally:
        sandbox.stop()
