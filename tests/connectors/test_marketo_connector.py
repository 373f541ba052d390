"""The Marketo connector: against the emulator over real HTTP, and respx for edge cases."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from connectors.marketo import MarketoClassifier, MarketoConnector
from connectors.sdk import (
    AccessDeniedError,
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    ErrorCategory,
    MemoryLedger,
    ProtocolError,
    QuotaExhaustedError,
    RateLimitedError,
    TokenExpiredError,
    VendorUnavailableError,
    WriteMode,
    WriteOp,
)
from sandbox.core import EmulatorServer, SandboxClient
from sandbox.marketo import LimitConfig, MarketoConfig, MarketoEmulator, RecordRule
from tests.connectors.marketo_fixtures import make_connector, running


def _read_all(connector: MarketoConnector, state: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    records: list[dict[str, Any]] = []
    last = state or {}
    for page in connector.read("leads", state):
        records += page.records
        last = page.state
    return records, last


@pytest.fixture()
def small() -> Iterator[tuple[MarketoEmulator, EmulatorServer]]:
    with running(MarketoConfig(size=100)) as pair:
        yield pair


# -- stream and check -------------------------------------------------------------------------

def test_stream_schema_comes_from_describe_once(small: Any) -> None:
    emulator, server = small
    with make_connector(emulator, server) as connector:
        connector.check()
        spec = connector.stream("leads")
        connector.streams()
        assert spec.primary_key == ("id",) and spec.cursor_field == "updatedAt"
        assert spec.page_size == 300 and spec.write_batch_size == 300
        assert spec.fields["lastNameKana"]["maxLength"] == 255
        assert spec.fields["email"]["format"] == "email"
        assert spec.fields["updatedAt"]["readOnly"] is True
        assert spec.writable_fields is not None and "updatedAt" not in spec.writable_fields
        assert emulator.calls.count(path_prefix="/rest/v1/leads/describe.json") == 1


def test_unknown_configured_field_is_a_configuration_error(small: Any) -> None:
    with make_connector(*small, fields=["email", "nope"]) as connector, \
            pytest.raises(ConfigurationError, match="nope"):
        connector.streams()


# -- incremental read -------------------------------------------------------------------------

def test_first_read_yields_every_lead_once_with_every_field() -> None:
    with running(MarketoConfig(size=700)) as (emulator, server), \
            make_connector(emulator, server) as connector:
        pages = list(connector.read("leads", None))
        ids = [r["id"] for p in pages for r in p.records]
        assert sorted(ids) == list(range(1, 701))
        fields = set(connector.stream("leads").fields)
        assert all(set(r) == fields for p in pages for r in p.records)
        assert all(p.state["next_page_token"] for p in pages)


def test_incremental_read_sees_api_and_ui_changes_then_nothing_new(small: Any) -> None:
    emulator, server = small
    with make_connector(emulator, server) as connector:
        _, state = _read_all(connector, None)
        results = connector.write("leads", [
            WriteOp(WriteMode.CREATE, {"email": "new@renkei.example.jp", "lastName": "新規"}),
            WriteOp(WriteMode.UPDATE, {"title": "取締役"}, id="3"),
        ])
        assert [r.ok for r in results] == [True, True]
        emulator.edit_record("leads", "5", {"firstName": "花子"})
        with SandboxClient(server.url) as sandbox:
            sandbox.edit("leads", "6", {"renkeiLifecycleStage": "sql"})
        changed, state = _read_all(connector, state)
        by_id = {r["id"]: r for r in changed}
        assert sorted(by_id) == sorted([int(results[0].id or 0), 3, 5, 6])
        assert by_id[3]["title"] == "取締役" and by_id[5]["firstName"] == "花子"
        assert by_id[6]["renkeiLifecycleStage"] == "sql"
        again, _ = _read_all(connector, state)
        assert again == []


def test_resume_after_each_committed_page_loses_and_repeats_nothing() -> None:
    with running(MarketoConfig(size=650)) as (emulator, server), \
            make_connector(emulator, server, page_size=200) as connector:
        first = next(iter(connector.read("leads", None)))  # then the run "crashes"
        rest, _ = _read_all(connector, first.state)
        ids = [r["id"] for r in first.records] + [r["id"] for r in rest]
        assert sorted(ids) == list(range(1, 651))


def test_page_whose_changes_are_covered_still_advances_state(small: Any) -> None:
    emulator, server = small
    with make_connector(emulator, server) as first:
        _, state = _read_all(first, None)
    with make_connector(emulator, server, page_size=1, include_deleted=False) as connector:
        emulator.edit_record("leads", "8", {"title": "一"})
        emulator.edit_record("leads", "8", {"city": "札幌市"})
        pages = list(connector.read("leads", state))
        assert [len(p.records) for p in pages] == [1, 0]
        assert pages[0].records[0]["city"] == "札幌市"
        assert pages[1].state["next_page_token"] != pages[0].state["next_page_token"]


def test_deleted_leads_arrive_as_tombstones(small: Any) -> None:
    emulator, server = small
    with make_connector(emulator, server) as connector:
        _, state = _read_all(connector, None)
        emulator.store.delete(42)
        pages = list(connector.read("leads", state))
        assert [d for p in pages for d in p.deleted] == ["42"]


def test_watch_fields_limit_what_counts_as_a_change(small: Any) -> None:
    emulator, server = small
    with make_connector(emulator, server, watch_fields=["title"]) as connector:
        _, state = _read_all(connector, None)
        emulator.edit_record("leads", "10", {"city": "那覇市"})
        emulator.edit_record("leads", "11", {"title": "係長"})
        changed, _ = _read_all(connector, state)
        assert [r["id"] for r in changed] == [11]


# -- auth, limits, quota ----------------------------------------------------------------------

def test_token_expiry_mid_run_refreshes_and_continues() -> None:
    with running(MarketoConfig(size=650)) as (emulator, server), \
            make_connector(emulator, server, page_size=300) as connector:
        pages = connector.read("leads", None)
        ids = [r["id"] for r in next(pages).records]
        emulator.expire_token()
        ids += [r["id"] for p in pages for r in p.records]
        assert sorted(ids) == list(range(1, 651))
        codes = [c.vendor_code for c in emulator.calls.list(path_prefix="/rest/")]
        assert codes.count("602") == 1
        assert emulator.calls.count(path_prefix="/identity/") == 2


def test_token_past_its_lifetime_is_renewed_before_the_call() -> None:
    with running(MarketoConfig(size=100, token_lifetime_s=1)) as (emulator, server), \
            make_connector(emulator, server) as connector:
        connector.check()
        time.sleep(1.05)
        connector.check()
        assert emulator.calls.count(path_prefix="/identity/") == 2
        assert all(c.vendor_code is None for c in emulator.calls.list(path_prefix="/rest/"))


def test_606_backs_off_for_the_window_and_retries() -> None:
    config = MarketoConfig(size=100, limits=LimitConfig(rate_calls=2, rate_window_s=0.5))
    with running(config) as (emulator, server), \
            make_connector(emulator, server, rate_limit_window_s=0.5) as connector:
        records, _ = _read_all(connector, None)  # the connector believes it may send 100
        assert len(records) == 100
        codes = [c.vendor_code for c in emulator.calls.list(path_prefix="/rest/")]
        assert "606" in codes and codes[-1] is None


def test_limiter_keeps_within_the_vendor_window_so_no_606() -> None:
    config = MarketoConfig(size=100, limits=LimitConfig(rate_calls=3, rate_window_s=0.4))
    with running(config) as (emulator, server), \
            make_connector(emulator, server, rate_limit_calls=3, rate_limit_window_s=0.4) as connector:
        records, _ = _read_all(connector, None)
        assert len(records) == 100
        assert [c.vendor_code for c in emulator.calls.list()].count("606") == 0


def test_615_from_a_busy_account_is_retried() -> None:
    config = MarketoConfig(size=100, latency_s=0.15, limits=LimitConfig(concurrency=1))
    with running(config) as (emulator, server):
        connectors = [make_connector(emulator, server, concurrency=0) for _ in range(3)]
        for connector in connectors:  # a slot frees within one latency: wait a little more
            connector.api.classifier.concurrency_wait_s = 0.35
        errors: list[ConnectorError] = []

        def run(connector: MarketoConnector) -> None:
            try:
                connector.check()
            except ConnectorError as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(c,)) for c in connectors]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for connector in connectors:
            connector.close()
        assert errors == []
        assert "615" in [c.vendor_code for c in emulator.calls.list()]


def test_607_raises_quota_exhausted_without_a_retry_storm() -> None:
    config = MarketoConfig(size=700, limits=LimitConfig(daily_quota=3))
    with running(config) as (emulator, server), make_connector(emulator, server) as connector:
        with pytest.raises(QuotaExhaustedError):
            _read_all(connector, None)
        codes = [c.vendor_code for c in emulator.calls.list(path_prefix="/rest/")]
        assert codes == [None, None, None, "607"]


def test_local_daily_budget_stops_before_the_vendor_does(small: Any) -> None:
    with make_connector(*small, daily_quota=2) as connector:
        with pytest.raises(QuotaExhaustedError):
            _read_all(connector, None)
        assert small[0].calls.count(path_prefix="/rest/") == 2


def test_server_errors_are_retried(small: Any) -> None:
    emulator, server = small
    with SandboxClient(server.url) as sandbox, make_connector(emulator, server) as connector:
        sandbox.add_fault(kind="server_error", path="leadchanges", times=1)
        sandbox.add_fault(kind="server_error", path="leads.json", times=1, status=200)
        records, _ = _read_all(connector, None)
        assert len(records) == 100
        assert [r["fired"] for r in sandbox.faults()] == [1, 1]


# -- writes -------------------------------------------------------------------------------------

def test_upsert_of_1000_leads_is_exactly_four_calls_and_idempotent(small: Any) -> None:
    emulator, server = small
    ledger = MemoryLedger()
    ops = [WriteOp(WriteMode.CREATE, {"email": f"bulk{i}@renkei.example.jp", "lastName": "一括",
                                      "leadScore": i}, ref=f"lead:{i}") for i in range(1000)]
    with make_connector(emulator, server, ledger=ledger, hub_id_field="renkeiHubId") as connector:
        connector.streams()
        before = emulator.calls.last_seq
        results = connector.write("leads", ops)
        assert all(r.ok and r.created for r in results)
        writes = [c for c in ledger.calls() if c.kind == "write"]
        logged = emulator.calls.list(since=before, path_prefix="/rest/v1/leads.json")
        assert len(writes) == len(logged) == 4
        assert len(ledger.calls()) == emulator.calls.last_seq  # every call, token included
        again = connector.write("leads", ops)
        assert [r.id for r in again] == [r.id for r in results]
        assert not any(r.created for r in again) and emulator.store.count == 1100
        assert emulator.store.get(int(results[7].id or 0))["renkeiHubId"] == "lead:7"


def test_per_record_failures_are_mapped_in_order() -> None:
    config = MarketoConfig(size=100, record_rules=(
        RecordRule(r"@reject\.invalid$", "1003", "Invalid data"),
        RecordRule(r"@busy\.example$", "1029", "Too many jobs in queue")))
    with running(config) as (emulator, server), make_connector(emulator, server) as connector:
        connector.write("leads", [])  # nothing to write: no call
        emulator.store.sync("createDuplicate", "email", [{"email": "twin@example.jp"}] * 2)
        results = connector.write("leads", [
            WriteOp(WriteMode.CREATE, {"email": "ok@example.jp"}),
            WriteOp(WriteMode.CREATE, {"email": "x@reject.invalid"}),
            WriteOp(WriteMode.CREATE, {"email": "not an email"}),
            WriteOp(WriteMode.UPDATE, {"title": "x"}, id="99999"),
            WriteOp(WriteMode.CREATE, {"email": "twin@example.jp"}),
            WriteOp(WriteMode.CREATE, {"email": "f@example.jp", "nope": 1}),
            WriteOp(WriteMode.CREATE, {"email": "later@busy.example"}),
            WriteOp(WriteMode.CREATE, {"lastName": "メールなし"}),
            WriteOp(WriteMode.UPDATE, {"updatedAt": "2020-01-01T00:00:00Z"}, id="1"),
            WriteOp(WriteMode.UPDATE, {"title": "x" * 300}, id="2"),
        ])
        assert results[0].ok and results[0].created
        got = [(r.error.category, r.error.code, r.error.retriable) if r.error else None
               for r in results[1:]]
        assert got == [
            (ErrorCategory.VALIDATION, "1003", False),
            (ErrorCategory.VALIDATION, "1003", False),
            (ErrorCategory.NOT_FOUND, "1004", False),
            (ErrorCategory.DUPLICATE, "1007", False),
            (ErrorCategory.VALIDATION, "1006", False),
            (ErrorCategory.RATE_LIMIT, "1029", True),
            (ErrorCategory.VALIDATION, None, False),
            (ErrorCategory.VALIDATION, None, False),
            (ErrorCategory.VALIDATION, "1003", False),
        ]
        assert results[5].error is not None and results[5].error.fields == ("nope",)
        assert emulator.calls.count(path_prefix="/rest/v1/leads.json", method="POST") == 2


# -- secrets ----------------------------------------------------------------------------------

def test_secrets_never_appear_in_errors_reprs_or_logs(small: Any, caplog: pytest.LogCaptureFixture) -> None:
    emulator, server = small
    secret = emulator.credentials()["client_secret"]
    caplog.set_level(logging.DEBUG)
    with make_connector(emulator, server) as good:
        _read_all(good, None)
        token = emulator.tokens.issue()[0]
        seen = repr(good) + repr(good.config) + repr(good.api) + repr(good.api.auth)
    with make_connector(emulator, server, client_secret=secret + "-wrong") as bad:
        with pytest.raises(AuthenticationError) as caught:
            bad.check()
        seen += str(caught.value) + repr(caught.value) + repr(bad.config)
    calls = "".join(str(c.to_dict()) for c in emulator.calls.list())
    for text in (seen, caplog.text, calls):
        assert secret not in text and token not in text


# -- unit tests of edge cases (respx) ---------------------------------------------------------

BASE = "https://123-ABC-456.mktorest.com"


def _respx_connector(**overrides: Any) -> MarketoConnector:
    config = {"base_url": BASE, "client_id": "cid", "client_secret": "csecret",
              "munchkin_id": f"respx-{time.perf_counter_ns()}", "retry_attempts": 2, **overrides}
    return MarketoConnector(config)


def _ok(**body: Any) -> httpx.Response:
    return httpx.Response(200, json={"requestId": "1#1", "success": True, **body})


def _err(code: str, message: str = "x") -> httpx.Response:
    return httpx.Response(200, json={"requestId": "1#1", "success": False,
                                     "errors": [{"code": code, "message": message}]})


DESCRIBE = [{"id": 1, "displayName": "Id", "dataType": "integer", "rest": {"name": "id", "readOnly": True}},
            {"id": 25, "displayName": "Email", "dataType": "email", "length": 255,
             "rest": {"name": "email", "readOnly": False}},
            {"id": 51, "displayName": "Updated", "dataType": "datetime",
             "rest": {"name": "updatedAt", "readOnly": True}},
            {"id": 99, "displayName": "SOAP only", "dataType": "string"}]


@pytest.mark.parametrize(("code", "error"), [
    ("601", TokenExpiredError), ("602", TokenExpiredError), ("603", AccessDeniedError),
    ("604", VendorUnavailableError), ("606", RateLimitedError), ("607", QuotaExhaustedError),
    ("608", VendorUnavailableError), ("609", ProtocolError), ("610", ConfigurationError),
    ("611", VendorUnavailableError), ("612", ProtocolError), ("615", RateLimitedError),
    ("713", VendorUnavailableError), ("1006", ConfigurationError), ("701", ProtocolError),
])
def test_classifier_maps_vendor_codes(code: str, error: type[Exception]) -> None:
    request = httpx.Request("GET", f"{BASE}/rest/v1/leads.json")
    response = _err(code, "msg")
    response.request = request
    found = MarketoClassifier(rate_window_s=20)(response)
    assert type(found) is error and found.vendor_code == code
    if code == "606":
        assert isinstance(found, RateLimitedError) and found.retry_after == 20


def test_classifier_http_levels() -> None:
    for status, error in ((413, ProtocolError), (414, ProtocolError), (503, VendorUnavailableError)):
        response = httpx.Response(status, request=httpx.Request("POST", f"{BASE}/rest/v1/leads.json"))
        assert type(MarketoClassifier()(response)) is error
    ok = _ok(result=[])
    ok.request = httpx.Request("GET", f"{BASE}/x")
    assert MarketoClassifier()(ok) is None


@respx.mock(assert_all_mocked=True)
def test_601_in_the_body_fetches_a_new_token_once(respx_mock: respx.MockRouter) -> None:
    identity = respx_mock.post(f"{BASE}/identity/oauth/token").mock(side_effect=[
        httpx.Response(200, json={"access_token": "t1", "expires_in": 3600}),
        httpx.Response(200, json={"access_token": "t2", "expires_in": 3600})])
    describe = respx_mock.get(f"{BASE}/rest/v1/leads/describe.json").mock(
        side_effect=[_err("601"), _ok(result=DESCRIBE)])
    with _respx_connector() as connector:
        assert set(connector.stream("leads").fields) == {"id", "email", "updatedAt"}
    assert identity.call_count == 2 and describe.call_count == 2
    assert describe.calls[1].request.headers["Authorization"] == "Bearer t2"
    assert b"client_secret=csecret" in identity.calls[0].request.content
    assert "csecret" not in str(identity.calls[0].request.url)


@respx.mock(assert_all_mocked=True)
def test_bad_credentials_are_not_retried(respx_mock: respx.MockRouter) -> None:
    identity = respx_mock.post(f"{BASE}/identity/oauth/token").mock(return_value=httpx.Response(
        401, json={"error": "invalid_client", "error_description": "Bad client credentials"}))
    with _respx_connector() as connector, pytest.raises(AuthenticationError):
        connector.check()
    assert identity.call_count == 1


@respx.mock(assert_all_mocked=True)
def test_empty_and_short_activity_pages_keep_paging(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{BASE}/identity/oauth/token").mock(
        return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 3600}))
    respx_mock.get(f"{BASE}/rest/v1/leads/describe.json").mock(return_value=_ok(result=DESCRIBE))
    respx_mock.get(f"{BASE}/rest/v1/activities/pagingtoken.json").mock(return_value=_ok(nextPageToken="T0"))
    changes = respx_mock.get(f"{BASE}/rest/v1/activities/leadchanges.json").mock(side_effect=[
        _ok(nextPageToken="T1", moreResult=True),  # no result key at all
        _ok(nextPageToken="T2", moreResult=True, result=[
            {"id": 5, "leadId": 7, "activityDate": "2024-01-01T00:00:00+0000", "activityTypeId": 13,
             "fields": [{"id": 25, "name": "email", "newValue": "a@b.jp", "oldValue": None}]}]),
        _ok(nextPageToken="T3", moreResult=False, result=[])])
    leads = respx_mock.get(f"{BASE}/rest/v1/leads.json").mock(
        return_value=_ok(result=[{"id": 7, "updatedAt": "2024-01-01T00:00:00Z"}]))
    with _respx_connector(include_deleted=False) as connector:
        pages = list(connector.read("leads", None))
    assert [p.state["next_page_token"] for p in pages] == ["T1", "T2", "T3"]
    assert [p.records for p in pages][1] == [{"id": 7, "email": None, "updatedAt": "2024-01-01T00:00:00Z"}]
    assert changes.calls[0].request.url.params["nextPageToken"] == "T0"
    assert leads.calls[0].request.url.params["filterValues"] == "7"


@respx.mock(assert_all_mocked=True)
def test_long_queries_go_as_post_with_method_get(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{BASE}/identity/oauth/token").mock(
        return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 3600}))
    route = respx_mock.post(f"{BASE}/rest/v1/leads.json").mock(return_value=_ok(result=[]))
    with _respx_connector() as connector:
        connector.api.leads_by_id(list(range(10_000_000, 10_000_300)), ["email"] * 600)
    form = dict(httpx.QueryParams(route.calls[0].request.content.decode()))
    assert form["_method"] == "GET" and form["filterType"] == "id"


@respx.mock(assert_all_mocked=True)
def test_result_count_mismatch_fails_the_batch(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{BASE}/identity/oauth/token").mock(
        return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 3600}))
    respx_mock.get(f"{BASE}/rest/v1/leads/describe.json").mock(return_value=_ok(result=DESCRIBE))
    respx_mock.post(f"{BASE}/rest/v1/leads.json").mock(return_value=_ok(result=[{"id": 1, "status": "created"}]))
    with _respx_connector() as connector, pytest.raises(ProtocolError):
        connector.write("leads", [WriteOp(WriteMode.CREATE, {"email": f"{i}@x.jp"}) for i in range(2)])


def test_base_url_must_be_the_instance_root() -> None:
    with pytest.raises(ConfigurationError):
        MarketoConnector({"base_url": f"{BASE}/rest", "client_id": "c", "client_secret": "s"})
    with pytest.raises(ConfigurationError) as caught:
        MarketoConnector({"base_url": BASE, "client_id": "c", "client_secret": 12345})
    assert "12345" not in str(caught.value)
