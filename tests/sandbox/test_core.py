"""The sandbox core over real HTTP: server, TLS, call log, faults, /_sandbox API."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.core import (
    CallLog,
    EmulatorApp,
    EmulatorServer,
    FaultConfigError,
    FaultPlan,
    FaultRule,
    SandboxClient,
    TLSFiles,
    make_tls,
)


class ToyEmulator(EmulatorApp):
    """A minimal vendor: a JSON list endpoint, a blocking endpoint, vendor-style errors."""

    name = "toy"

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[str, dict[str, dict[str, Any]]] = {}
        self.reset()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/items", self._items, methods=["GET"]),
            Route("/api/blocking", self._blocking, methods=["GET"]),
            Route("/api/echo", self._echo, methods=["POST"]),
        ]

    def _items(self, request: Request) -> Response:
        items = list(self.store["item"].values())
        return JSONResponse({"success": True, "result": items})

    def _blocking(self, request: Request) -> Response:
        time.sleep(0.2)  # a sync handler: must run in the threadpool, not block the loop
        return JSONResponse({"success": True})

    async def _echo(self, request: Request) -> Response:
        return JSONResponse({"success": True, "got": await request.json()})

    def render_fault(self, rule: FaultRule, request: Request) -> Response | None:
        if rule.kind == "quota":  # Marketo style: HTTP 200 with an error code
            body = {"success": False, "errors": [{"code": "607", "message": "Daily quota reached"}]}
            return JSONResponse(body)
        return None

    def vendor_code(self, response_body: bytes, status: int) -> str | None:
        try:
            data = json.loads(response_body)
        except ValueError:
            return None
        if isinstance(data, dict) and data.get("errors"):
            return str(data["errors"][0]["code"])
        return None

    def credentials(self) -> dict[str, str]:
        return {"client_id": "toy-id", "client_secret": "toy-secret"}

    def list_records(
        self, obj: str, *, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        records = list(self.store[obj].values())
        return records[offset : offset + limit], len(records)

    def get_record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        return self.store[obj].get(record_id)

    def edit_record(self, obj: str, record_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        record = self.store[obj][record_id]
        record.update(changes, updatedAt="edited")
        return record

    def create_record(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        record_id = str(len(self.store[obj]) + 1)
        self.store[obj][record_id] = {"id": record_id, **values}
        return self.store[obj][record_id]

    def reset(self) -> None:
        super().reset()
        names = ["株式会社サクラ精機", "(株)ミドリ商事", "ｱｵｲ電機株式会社"]
        self.store = {
            "item": {str(i): {"id": str(i), "company": n * 40} for i, n in enumerate(names, 1)}
        }


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def served(tls: TLSFiles) -> Iterator[tuple[ToyEmulator, EmulatorServer]]:
    emulator = ToyEmulator()
    with EmulatorServer(emulator.asgi(), name="toy", tls=tls) as server:
        yield emulator, server


@pytest.fixture()
def toy(served: tuple[ToyEmulator, EmulatorServer]) -> Iterator[ToyEmulator]:
    emulator, _ = served
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture()
def http(served: tuple[ToyEmulator, EmulatorServer], tls: TLSFiles) -> Iterator[httpx.Client]:
    _, server = served
    context = ssl.create_default_context(cafile=str(tls.ca_path))
    with httpx.Client(base_url=server.url, verify=context, timeout=5.0) as client:
        yield client


@pytest.fixture()
def sandbox(served: tuple[ToyEmulator, EmulatorServer], tls: TLSFiles) -> Iterator[SandboxClient]:
    with SandboxClient(served[1].url, verify=tls.ca_path) as client:
        yield client


# -- server and TLS -----------------------------------------------------------------------


def test_server_picks_a_free_port_and_serves_plain_http() -> None:
    emulator = ToyEmulator()
    with EmulatorServer(emulator.asgi(), name="toy") as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        response = httpx.get(f"{server.url}/api/items")
        assert response.status_code == 200
        assert response.json()["result"][0]["company"].startswith("株式会社サクラ精機")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/api/items", timeout=1)


def test_https_is_trusted_with_the_sandbox_ca_only(
    served: tuple[ToyEmulator, EmulatorServer], tls: TLSFiles
) -> None:
    _, server = served
    assert server.url.startswith("https://127.0.0.1:")
    assert httpx.get(
        f"{server.url}/api/items", verify=ssl.create_default_context(cafile=str(tls.ca_path))
    ).is_success
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/api/items")  # the system trust store does not know the sandbox CA


def test_localhost_is_in_the_certificate(
    served: tuple[ToyEmulator, EmulatorServer], tls: TLSFiles
) -> None:
    url = served[1].url.replace("127.0.0.1", "localhost")
    assert httpx.get(
        f"{url}/api/items", verify=ssl.create_default_context(cafile=str(tls.ca_path))
    ).is_success


def test_two_servers_on_one_fixed_port_fail_clearly() -> None:
    first = EmulatorServer(ToyEmulator().asgi(), name="first")
    with first:
        second = EmulatorServer(ToyEmulator().asgi(), name="second", port=first.port)
        with pytest.raises(RuntimeError, match="second"):
            second.start()


def test_blocking_handlers_do_not_serialise_requests(
    toy: ToyEmulator, served: tuple[ToyEmulator, EmulatorServer], tls: TLSFiles
) -> None:
    import concurrent.futures

    context = ssl.create_default_context(cafile=str(tls.ca_path))
    url = f"{served[1].url}/api/blocking"
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: httpx.get(url, verify=context).status_code, range(8)))
    assert statuses == [200] * 8
    assert time.perf_counter() - started < 0.2 * 8 / 2  # serial would take 1.6 s


# -- call log -----------------------------------------------------------------------------


def test_calls_are_logged_with_status_and_without_secrets(
    toy: ToyEmulator, http: httpx.Client
) -> None:
    http.get(
        "/api/items", params={"access_token": "SECRET1", "batchSize": "2", "nextPageToken": "P1"}
    )
    http.get(
        "/api/items",
        params={"client_secret": "SECRET2", "password": "SECRET3", "userPassword": "S4"},
    )
    http.get("/api/nowhere")
    http.get("/_sandbox/calls")  # inspection calls are not logged
    calls = toy.calls.list()
    assert [(c.method, c.path, c.status) for c in calls] == [
        ("GET", "/api/items", 200),
        ("GET", "/api/items", 200),
        ("GET", "/api/nowhere", 404),
    ]
    assert calls[0].query == {"batchSize": "2", "nextPageToken": "P1"}
    assert calls[1].query == {}
    assert "SECRET" not in repr(calls) and all(c.duration_ms >= 0 and c.at > 0 for c in calls)
    assert calls[0].seq < calls[1].seq < calls[2].seq


def test_call_log_filters_and_counts() -> None:
    log = CallLog()
    log.record("get", "/rest/v1/leads.json", {}, 200)
    log.record("POST", "/rest/v1/leads.json", {"token": "x"}, 200)
    log.record("GET", "/services/data/v60.0/query", {}, 200)
    assert log.count() == 3
    assert log.count(path_prefix="/rest/") == 2
    assert log.count(path_prefix="/rest/", method="post") == 1
    assert [c.seq for c in log.list(since=1)] == [2, 3]
    assert [c.seq for c in log.list(path_prefix="/services")] == [3]
    log.clear()
    assert log.count() == 0
    assert log.record("GET", "/x", None, 200).seq == 4  # "since" stays valid across clear()


def test_vendor_code_is_logged(toy: ToyEmulator, http: httpx.Client) -> None:
    toy.faults.add(FaultRule("quota"))
    response = http.get("/api/items")
    assert response.status_code == 200 and response.json()["errors"][0]["code"] == "607"
    (call,) = toy.calls.list()
    assert (call.status, call.vendor_code, call.fault) == (200, "607", "quota")


# -- faults -------------------------------------------------------------------------------


def test_rate_limit_generic_rendering_has_retry_after(toy: ToyEmulator, http: httpx.Client) -> None:
    toy.faults.add(FaultRule("rate_limit", path="^/api/items$", retry_after=2))
    toy.faults.add(FaultRule("concurrency", retry_after=0.25))
    first = http.get("/api/items")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    second = http.get("/api/items")
    assert (second.status_code, second.headers["Retry-After"]) == (429, "0.25")
    assert http.get("/api/items").status_code == 200
    assert [c.fault for c in toy.calls.list()] == ["rate_limit", "concurrency", None]
    assert [c.status for c in toy.calls.list()] == [429, 429, 200]


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("server_error", None, 503),
        ("server_error", 500, 500),
        ("token_expired", None, 401),
        ("rate_limit", 403, 403),
    ],
)
def test_generic_status_faults(
    toy: ToyEmulator, http: httpx.Client, kind: str, status: int | None, expected: int
) -> None:
    toy.faults.add(FaultRule(kind, status=status))  # type: ignore[arg-type]
    assert http.get("/api/items").status_code == expected
    assert http.get("/api/items").status_code == 200


def test_fault_filters_on_method_and_path(toy: ToyEmulator, http: httpx.Client) -> None:
    toy.faults.add(FaultRule("server_error", path="/echo", method="post", times=None))
    assert http.get("/api/items").status_code == 200
    assert http.post("/api/echo", json={"a": 1}).status_code == 503
    assert http.post("/api/echo", json={"a": 1}).status_code == 503


def test_slow_answers_normally_after_the_delay(toy: ToyEmulator, http: httpx.Client) -> None:
    toy.faults.add(FaultRule("slow", delay_s=0.3))
    started = time.perf_counter()
    assert http.get("/api/items").status_code == 200
    assert time.perf_counter() - started >= 0.3
    assert toy.calls.list()[0].duration_ms >= 300


def test_timeout_makes_the_client_time_out(toy: ToyEmulator, http: httpx.Client) -> None:
    toy.faults.add(FaultRule("timeout"))  # 60 s by default: far past the client's patience
    with pytest.raises(httpx.ReadTimeout):
        http.get("/api/items", timeout=0.3)
    assert http.get("/api/items").status_code == 200
    deadline = time.monotonic() + 2
    while toy.calls.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # the timed-out call is logged once the server notices the client left
    assert sorted((c.status, c.fault) for c in toy.calls.list()) == [(200, None), (504, "timeout")]


def test_timeout_with_short_delay_answers_504(toy: ToyEmulator, http: httpx.Client) -> None:
    toy.faults.add(FaultRule("timeout", delay_s=0.2))
    assert http.get("/api/items").status_code == 504


def test_reset_drops_the_connection_without_a_response(
    toy: ToyEmulator, http: httpx.Client
) -> None:
    toy.faults.add(FaultRule("reset"))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.get("/api/items")
    assert http.get("/api/items").status_code == 200
    assert [(c.status, c.fault) for c in toy.calls.list()] == [(0, "reset"), (200, None)]


def test_reset_over_plain_http() -> None:
    emulator = ToyEmulator()
    emulator.faults.add(FaultRule("reset", method="POST"))
    with (
        EmulatorServer(emulator.asgi(), name="toy") as server,
        httpx.Client(base_url=server.url) as client,
    ):
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post("/api/echo", json={"x": "y"})
        assert client.post("/api/echo", json={"x": "y"}).json()["got"] == {"x": "y"}


def test_truncate_sends_half_the_announced_body(toy: ToyEmulator, http: httpx.Client) -> None:
    toy.faults.add(FaultRule("truncate"))
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
        http.get("/api/items")
    with http.stream("GET", "/api/items") as ok:
        assert ok.status_code == 200
    toy.faults.add(FaultRule("truncate"))
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError), http.stream("GET", "/api/items") as partial:
        expected = int(partial.headers["content-length"])
        for chunk in partial.iter_raw():
            received += chunk
    assert 0 < len(received) == expected // 2


def test_times_after_every(toy: ToyEmulator, http: httpx.Client) -> None:
    toy.faults.add(FaultRule("server_error", after=2, every=3, times=2))
    statuses = [http.get("/api/items").status_code for _ in range(12)]
    # calls 1-2 pass, then 3rd, 6th matching call after those fire, twice in all
    assert statuses == [200, 200, 503, 200, 200, 503] + [200] * 6
    (rule,) = toy.faults.rules()
    assert (rule.fired, rule.exhausted) == (2, True)


def test_fault_plan_semantics_without_http() -> None:
    plan = FaultPlan()
    plan.add(FaultRule("quota", path=r"^/a", times=None, every=2))
    plan.add(FaultRule("server_error", path=r"^/a", times=1))
    fired = [getattr(plan.match("GET", "/a/b"), "kind", None) for _ in range(5)]
    # the first rule wins when both are due; the second fires on the first call it gets
    assert fired == ["quota", "server_error", "quota", None, "quota"]
    assert plan.match("GET", "/other") is None


def test_fault_config_errors_are_clear() -> None:
    with pytest.raises(FaultConfigError, match="unknown fault kind 'explode'"):
        FaultPlan.from_config([{"kind": "explode"}])
    with pytest.raises(FaultConfigError, match=r"faults\[1\].*'tims'"):
        FaultPlan.from_config([{"kind": "slow"}, {"kind": "reset", "tims": 2}])
    with pytest.raises(FaultConfigError, match="no 'kind'"):
        FaultPlan.from_config([{"path": "/x"}])
    with pytest.raises(FaultConfigError, match="every"):
        FaultPlan.from_config([{"kind": "slow", "every": 0}])
    plan = FaultPlan.from_config(
        [{"kind": "rate_limit", "method": "get", "retry_after": 1, "times": None}]
    )
    assert plan.rules()[0].method == "GET"


# -- /_sandbox API ------------------------------------------------------------------------


def test_sandbox_api_calls_and_faults(
    toy: ToyEmulator, http: httpx.Client, sandbox: SandboxClient
) -> None:
    http.get("/api/items", params={"access_token": "T"})
    first = sandbox.calls()
    assert [(c.path, c.query) for c in first] == [("/api/items", {})]
    http.post("/api/echo", json={})
    assert [c.path for c in sandbox.calls(since=first[-1].seq)] == ["/api/echo"]
    assert [c.path for c in sandbox.calls(path_prefix="/api/e")] == ["/api/echo"]
    sandbox.clear_calls()
    assert sandbox.calls() == []

    rules = sandbox.add_fault(kind="rate_limit", path="/items", retry_after=1)
    assert rules[0]["kind"] == "rate_limit" and rules[0]["fired"] == 0
    assert http.get("/api/items").status_code == 429
    assert sandbox.faults()[0]["fired"] == 1
    response = http.post("/_sandbox/faults", json={"rules": [{"kind": "slow"}, {"kind": "quota"}]})
    assert response.status_code == 201 and len(response.json()["rules"]) == 3
    bad = http.post("/_sandbox/faults", json={"kind": "nope"})
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["error"]
    sandbox.clear_faults()
    assert sandbox.faults() == []


def test_sandbox_api_records(toy: ToyEmulator, sandbox: SandboxClient) -> None:
    records, total = sandbox.records("item", offset=1, limit=1)
    assert total == 3 and records[0]["id"] == "2"
    assert sandbox.record("item", "1")["company"].startswith("株式会社サクラ精機")  # type: ignore[index]
    assert sandbox.record("item", "999") is None
    assert sandbox.edit("item", "1", {"company": "株式会社サクラ"})["updatedAt"] == "edited"
    assert toy.store["item"]["1"]["company"] == "株式会社サクラ"
    created = sandbox.create("item", {"company": "ＡＢＣ商事"})
    assert sandbox.record("item", created["id"]) == created
    with pytest.raises(httpx.HTTPStatusError) as missing:
        sandbox.records("nosuchobject")
    assert missing.value.response.status_code == 404
    assert sandbox.credentials() == {"client_id": "toy-id", "client_secret": "toy-secret"}
    sandbox.add_fault(kind="slow")
    sandbox.reset()
    assert sandbox.records("item")[1] == 3 and sandbox.faults() == []


def test_sandbox_api_is_never_faulted(toy: ToyEmulator, sandbox: SandboxClient) -> None:
    sandbox.add_fault(kind="reset", times=None)
    assert sandbox.records("item")[1] == 3
    assert sandbox.calls() == []


def test_unimplemented_inspection_answers_501(tmp_path: Path) -> None:
    class Bare(EmulatorApp):
        name = "bare"

        def routes(self) -> list[BaseRoute]:
            return []

    with EmulatorServer(Bare().asgi(), name="bare") as server:
        assert httpx.get(f"{server.url}/_sandbox/records/x").status_code == 501
        assert httpx.get(f"{server.url}/_sandbox/credentials").json() == {}
