"""The Marketo emulator over real HTTP: auth, envelope, leads, activities, limits, faults.

The last tests drive it with the vendor-independent client library marketorestpython,
unchanged but for ``mc.host`` (REFERENCE.md section 0): that is the test of its fidelity.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sandbox.core import SandboxClient
from sandbox.marketo import LimitConfig, MarketoConfig, MarketoEmulator, RecordRule
from sandbox.marketo.activities import encode_token
from tests.connectors.marketo_fixtures import api_client, running, token_for


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[MarketoEmulator, Any]]:
    """One emulator for the read-mostly tests (each test that writes uses fresh emails)."""
    with running(MarketoConfig(size=300)) as pair:
        yield pair


@pytest.fixture()
def api(shared: tuple[MarketoEmulator, Any]) -> Iterator[httpx.Client]:
    with api_client(*shared) as client:
        yield client


def _now() -> str:
    """The current second as an ISO datetime: a paging token from it sees only what follows."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _errors(response: httpx.Response) -> list[str]:
    body = response.json()
    assert response.status_code == 200 and body["success"] is False
    return [e["code"] for e in body["errors"]]


# -- Identity ---------------------------------------------------------------------------------

def test_identity_returns_the_same_token_with_its_remaining_lifetime(shared: Any) -> None:
    emulator, server = shared
    creds = emulator.credentials()
    params = {"grant_type": "client_credentials", "client_id": creds["client_id"],
              "client_secret": creds["client_secret"]}
    first = httpx.get(f"{server.url}/identity/oauth/token", params=params).json()
    second = httpx.post(f"{server.url}/identity/oauth/token", data=params).json()
    assert first["token_type"] == "bearer" and first["access_token"].endswith(":int")
    assert second["access_token"] == first["access_token"]
    assert 0 < second["expires_in"] <= first["expires_in"] <= 3600


def test_identity_refuses_bad_credentials_with_401(shared: Any) -> None:
    emulator, server = shared
    response = httpx.get(f"{server.url}/identity/oauth/token", params={
        "grant_type": "client_credentials", "client_id": emulator.credentials()["client_id"],
        "client_secret": "wrong"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_expired_token_gets_602_and_identity_then_mints_a_new_one() -> None:
    with running(MarketoConfig(size=100, token_lifetime_s=0.6)) as (emulator, server):
        token = token_for(emulator, server)
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{server.url}/rest/v1/leads/describe.json", headers=headers).json()["success"]
        time.sleep(0.65)
        expired = httpx.get(f"{server.url}/rest/v1/leads/describe.json", headers=headers)
        assert _errors(expired) == ["602"]
        assert token_for(emulator, server) != token


def test_token_in_header_or_legacy_query_parameter_and_601_without_one(shared: Any) -> None:
    emulator, server = shared
    token = token_for(emulator, server)
    url = f"{server.url}/rest/v1/leads/describe.json"
    assert httpx.get(url, params={"access_token": token}).json()["success"] is True
    assert _errors(httpx.get(url)) == ["601"]
    assert _errors(httpx.get(url, headers={"Authorization": "Bearer nope"})) == ["601"]


# -- envelope and HTTP-level errors -----------------------------------------------------------

def test_unknown_path_is_610_and_wrong_method_is_605(api: httpx.Client) -> None:
    assert _errors(api.get("/rest/v1/nothing.json")) == ["610"]
    assert _errors(api.post("/rest/v1/leads/describe.json", json={})) == ["605"]


def test_payload_over_limit_is_413_and_long_uri_is_414(api: httpx.Client) -> None:
    big = {"input": [{"email": f"x{i}@big.example.jp", "address": "あ" * 2000} for i in range(200)]}
    assert api.post("/rest/v1/leads.json", json=big).status_code == 413
    ids = ",".join(str(i) for i in range(1, 2000))
    assert api.get("/rest/v1/leads.json", params={"filterType": "id", "filterValues": ids}).status_code == 414


def test_bad_json_is_609_and_bad_content_type_612(api: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    assert _errors(api.post("/rest/v1/leads.json", content=b"{nope", headers=headers)) == ["609"]
    assert _errors(api.post("/rest/v1/leads.json", content=b"x",
                            headers={"Content-Type": "text/csv"})) == ["612"]


# -- describe and queries ---------------------------------------------------------------------

def test_describe_reports_types_lengths_and_read_only(api: httpx.Client) -> None:
    fields = {f["rest"]["name"]: f for f in api.get("/rest/v1/leads/describe.json").json()["result"]}
    assert fields["email"]["dataType"] == "email" and fields["email"]["length"] == 255
    assert fields["updatedAt"]["rest"]["readOnly"] is True
    assert fields["leadScore"]["dataType"] == "integer" and "length" not in fields["leadScore"]
    assert fields["lastNameKana"]["dataType"] == "string"
    searchable = api.get("/rest/v1/leads/describe2.json").json()["result"][0]["searchableFields"]
    assert ["email"] in searchable and ["id"] in searchable


def test_get_leads_by_id_default_fields_and_nulls_left_out(api: httpx.Client) -> None:
    body = api.get("/rest/v1/leads.json", params={"filterType": "id", "filterValues": "1,2,999"}).json()
    assert [r["id"] for r in body["result"]] == [1, 2]
    assert set(body["result"][0]) == {"id", "email", "updatedAt", "createdAt", "firstName", "lastName"}
    assert body["result"][0]["createdAt"].endswith("Z") and "moreResult" not in body
    chosen = api.get("/rest/v1/leads.json", params={
        "filterType": "id", "filterValues": "1", "fields": "lastNameKana,fax,company"}).json()
    assert set(chosen["result"][0]) == {"id", "lastNameKana", "company"}  # fax is null


def test_get_leads_pages_with_next_page_token(api: httpx.Client) -> None:
    params: dict[str, Any] = {"filterType": "id", "filterValues": ",".join(map(str, range(1, 8))),
                              "batchSize": 3}
    seen: list[int] = []
    while True:
        body = api.get("/rest/v1/leads.json", params=params).json()
        seen += [r["id"] for r in body["result"]]
        if not body.get("moreResult"):
            break
        params["nextPageToken"] = body["nextPageToken"]
    assert seen == list(range(1, 8))


def test_get_leads_refuses_bad_filters(api: httpx.Client) -> None:
    too_many = ",".join(str(i) for i in range(1, 302))
    response = api.post("/rest/v1/leads.json", data={"_method": "GET", "filterType": "id",
                                                      "filterValues": too_many})
    assert _errors(response) == ["1003"]
    assert _errors(api.get("/rest/v1/leads.json", params={
        "filterType": "company", "filterValues": "x"})) == ["1011"]
    assert _errors(api.get("/rest/v1/leads.json", params={
        "filterType": "id", "filterValues": "1", "fields": "nope"})) == ["1006"]
    assert _errors(api.get("/rest/v1/leads.json")) == ["701"]


def test_method_override_in_body_or_query_with_repeated_fields(api: httpx.Client) -> None:
    in_body = api.post("/rest/v1/leads.json", data={
        "_method": "GET", "filterType": "id", "filterValues": "3", "fields": ["email", "title"]})
    in_query = api.post("/rest/v1/leads.json", params={"_method": "GET"},
                        data={"filterType": "id", "filterValues": "3", "fields": "email,title"})
    assert in_body.json()["result"] == in_query.json()["result"]
    assert set(in_body.json()["result"][0]) == {"id", "email", "title"}


def test_email_lookup_is_case_insensitive(api: httpx.Client, shared: Any) -> None:
    email = shared[0].store.get(5)["email"]
    body = api.get("/rest/v1/leads.json", params={"filterType": "email",
                                                   "filterValues": email.upper()}).json()
    assert [r["id"] for r in body["result"]] == [5]


# -- sync leads ---------------------------------------------------------------------------------

def _sync(api: httpx.Client, records: list[dict[str, Any]], **body: Any) -> list[dict[str, Any]]:
    response = api.post("/rest/v1/leads.json", json={"input": records, **body})
    assert response.json()["success"] is True, response.text
    result: list[dict[str, Any]] = response.json()["result"]
    return result


def test_sync_actions_and_reasons_in_input_order(api: httpx.Client, shared: Any) -> None:
    existing = shared[0].store.get(7)["email"]
    result = _sync(api, [{"email": "sync-a@actions.example.jp"}, {"email": existing}],
                   action="createOnly")
    assert result[0]["status"] == "created"
    assert result[1] == {"status": "skipped", "reasons": [{"code": "1005", "message": "Lead already exists"}]}
    result = _sync(api, [{"email": "nobody@actions.example.jp"}, {"email": existing, "title": "部長"}],
                   action="updateOnly")
    assert result[0]["reasons"][0]["code"] == "1004" and result[1] == {"id": 7, "status": "updated"}
    result = _sync(api, [{"id": 7, "city": "横浜市"}], action="updateOnly", lookupField="id")
    assert result == [{"id": 7, "status": "updated"}]
    assert _sync(api, [{"id": 7, "email": existing}], action="createOnly")[0]["reasons"][0]["code"] == "1003"


def test_create_duplicate_then_lookup_matches_several_1007(api: httpx.Client) -> None:
    email = "twins@dup.example.jp"
    assert [r["status"] for r in _sync(api, [{"email": email}, {"email": email}],
                                       action="createDuplicate")] == ["created", "created"]
    assert _sync(api, [{"email": email, "title": "x"}])[0]["reasons"][0]["code"] == "1007"


def test_field_validation_per_record(api: httpx.Client) -> None:
    result = _sync(api, [
        {"email": "not-an-email"},
        {"email": "メール@example.jp"},
        {"email": "long@valid.example.jp", "title": "x" * 256},
        {"email": "int@valid.example.jp", "leadScore": "many"},
        {"email": "field@valid.example.jp", "nope": 1},
        {"email": "ro@valid.example.jp", "createdAt": "2020-01-01T00:00:00Z"},
        {"email": "ok@valid.example.jp", "leadScore": "12", "renkeiEmailOptIn": "true"},
        {"email": "victim@reject.invalid"},
    ], **{"asyncProcessing ": False})  # marketorestpython's key with a trailing space is ignored
    codes = [r.get("reasons", [{}])[0].get("code") for r in result]
    assert codes == ["1003", "1003", "1003", "1001", "1006", "1003", None, "1003"]
    assert result[6]["status"] == "created"


def test_empty_string_and_null_clear_a_field(api: httpx.Client, shared: Any) -> None:
    _sync(api, [{"id": 9, "title": ""}, {"id": 10, "title": None}], action="updateOnly",
          lookupField="id")
    assert shared[0].store.get(9)["title"] is None and shared[0].store.get(10)["title"] is None


def test_more_than_300_records_is_refused(api: httpx.Client) -> None:
    records = [{"email": f"n{i}@many.example.jp"} for i in range(301)]
    assert _errors(api.post("/rest/v1/leads.json", json={"input": records})) == ["1003"]


# -- activities -------------------------------------------------------------------------------

def _changes(api: httpx.Client, token: str, fields: str) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    while True:
        body = api.get("/rest/v1/activities/leadchanges.json",
                       params={"nextPageToken": token, "fields": fields}).json()
        assert "nextPageToken" in body and "moreResult" in body
        items += body.get("result", [])
        token = body["nextPageToken"]
        if not body["moreResult"]:
            return items, token


def test_every_seeded_lead_has_a_new_lead_activity_at_created_at(api: httpx.Client, shared: Any) -> None:
    token = api.get("/rest/v1/activities/pagingtoken.json",
                    params={"sinceDatetime": "2000-01-01T00:00:00+09:00"}).json()["nextPageToken"]
    items, _ = _changes(api, token, "email")
    news = [a for a in items if a["activityTypeId"] == 12 and a["leadId"] <= 300]
    assert len({a["leadId"] for a in news}) == 300
    dates = [a["activityDate"] for a in items]
    assert dates == sorted(dates) and all(d.endswith("Z") and "." not in d for d in dates)
    lead = shared[0].store.get(news[0]["leadId"])
    assert news[0]["activityDate"] == lead["createdAt"]


def test_lead_changes_report_api_and_ui_edits_of_watched_fields_only(api: httpx.Client, shared: Any) -> None:
    emulator = shared[0]
    before = emulator.store.get(20)
    token = api.get("/rest/v1/activities/pagingtoken.json",
                    params={"sinceDatetime": _now()}).json()["nextPageToken"]
    _sync(api, [{"id": 20, "title": "常務", "city": "大阪市"}], action="updateOnly", lookupField="id")
    with SandboxClient(shared[1].url) as sandbox:
        sandbox.edit("leads", "20", {"firstName": "花子"})
    items, after = _changes(api, token, "title,firstName")
    mine = [a for a in items if a["leadId"] == 20]
    assert [(a["fields"][0]["name"], a["fields"][0]["oldValue"], a["fields"][0]["newValue"])
            for a in mine] == [("title", before["title"], "常務"), ("firstName", before["firstName"], "花子")]
    reasons = [a["attributes"][0]["value"] for a in mine]
    assert reasons == ["Web service API", "Changed by user"]
    assert emulator.store.get(20)["updatedAt"] >= mine[-1]["activityDate"]
    again, _ = _changes(api, after, "title,firstName")
    assert again == []


def test_empty_activity_page_omits_result_but_keeps_token(api: httpx.Client) -> None:
    body = api.get("/rest/v1/activities/leadchanges.json",
                   params={"nextPageToken": encode_token(10**9), "fields": "email"}).json()
    assert body["success"] is True and "result" not in body
    assert body["moreResult"] is False and body["nextPageToken"]
    assert _errors(api.get("/rest/v1/activities/leadchanges.json",
                           params={"nextPageToken": "garbage!", "fields": "email"})) == ["1003"]
    assert _errors(api.get("/rest/v1/activities/pagingtoken.json",
                           params={"sinceDatetime": "yesterday"})) == ["704"]


def test_short_pages_while_more_results_remain() -> None:
    with running(MarketoConfig(size=100, scan_limit=40)) as (emulator, server), \
            api_client(emulator, server) as api:
        token = encode_token(0)
        body = api.get("/rest/v1/activities/leadchanges.json",
                       params={"nextPageToken": token, "fields": "email", "batchSize": 300}).json()
        assert len(body["result"]) == 40 and body["moreResult"] is True


def test_deleted_leads_are_reported_and_gone(api: httpx.Client, shared: Any) -> None:
    token = api.get("/rest/v1/activities/pagingtoken.json",
                    params={"sinceDatetime": _now()}).json()["nextPageToken"]
    result = api.post("/rest/v1/leads/delete.json", json={"input": [{"id": 250}, {"id": 99999}]}).json()
    assert [r["status"] for r in result["result"]] == ["deleted", "skipped"]
    body = api.get("/rest/v1/activities/deletedleads.json", params={"nextPageToken": token}).json()
    assert [(a["leadId"], a["activityTypeId"]) for a in body["result"]] == [(250, 37)]
    assert api.get("/rest/v1/lead/250.json").json()["result"] == []


def test_activity_types_list_the_three_types(api: httpx.Client) -> None:
    ids = {t["id"] for t in api.get("/rest/v1/activities/types.json").json()["result"]}
    assert {12, 13, 37} <= ids


# -- limits and faults ------------------------------------------------------------------------

def test_rate_window_606_then_room_again_after_the_window() -> None:
    config = MarketoConfig(size=100, limits=LimitConfig(rate_calls=3, rate_window_s=0.5))
    with running(config) as (emulator, server), api_client(emulator, server) as api:
        codes = [api.get("/rest/v1/leads/describe.json").json().get("errors", [{}])[0].get("code")
                 for _ in range(4)]
        assert codes == [None, None, None, "606"]
        time.sleep(0.55)
        assert api.get("/rest/v1/leads/describe.json").json()["success"] is True


def test_concurrency_limit_615_is_enforced_for_real() -> None:
    config = MarketoConfig(size=100, latency_s=0.3, limits=LimitConfig(concurrency=2))
    with running(config) as (emulator, server):
        token = token_for(emulator, server)
        codes: list[str | None] = []

        def call() -> None:
            body = httpx.get(f"{server.url}/rest/v1/leads/describe.json",
                             headers={"Authorization": f"Bearer {token}"}).json()
            codes.append(body.get("errors", [{}])[0].get("code"))

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes, key=str) == ["615", "615", None, None]


def test_daily_quota_607_and_token_errors_do_not_count() -> None:
    with running(MarketoConfig(size=100, limits=LimitConfig(daily_quota=2))) as (emulator, server), \
            api_client(emulator, server) as api:
        for _ in range(3):
            httpx.get(f"{server.url}/rest/v1/leads/describe.json", headers={"Authorization": "Bearer x"})
        assert emulator.gate.used_today == 0
        assert api.get("/rest/v1/leads/describe.json").json()["success"] is True
        assert api.get("/rest/v1/leads/describe.json").json()["success"] is True
        assert _errors(api.get("/rest/v1/leads/describe.json")) == ["607"]
        assert [c.vendor_code for c in emulator.calls.list(path_prefix="/rest")][-1] == "607"


def test_faults_render_as_marketo_codes(shared: Any, api: httpx.Client) -> None:
    emulator = shared[0]
    with SandboxClient(shared[1].url) as sandbox:
        for kind, code in (("rate_limit", "606"), ("quota", "607"), ("concurrency", "615"),
                           ("token_expired", "602")):
            sandbox.add_fault(kind=kind, path="describe", times=1)
            assert _errors(api.get("/rest/v1/leads/describe.json")) == [code]
        sandbox.add_fault(kind="server_error", path="describe", times=1)
        assert api.get("/rest/v1/leads/describe.json").status_code == 503
        sandbox.add_fault(kind="server_error", path="describe", times=1, status=200)
        assert _errors(api.get("/rest/v1/leads/describe.json")) == ["608"]
        assert [c.vendor_code for c in emulator.calls.list()][-1] == "608"
        assert sandbox.faults() and all(r["fired"] == 1 for r in sandbox.faults())


def test_configured_record_rule_and_server_error_code() -> None:
    config = MarketoConfig(size=100, server_error_code="604",
                           record_rules=(RecordRule(r"@busy\.example$", "1029", "Too many jobs in queue"),))
    with running(config) as (emulator, server), api_client(emulator, server) as api:
        result = _sync(api, [{"email": "a@busy.example"}, {"email": "b@fine.example.jp"}])
        assert result[0]["reasons"][0]["code"] == "1029" and result[1]["status"] == "created"
        with SandboxClient(server.url) as sandbox:
            sandbox.add_fault(kind="server_error", path="leads", times=1)
        assert _errors(api.get("/rest/v1/leads.json", params={"filterType": "id",
                                                               "filterValues": "1"})) == ["604"]


# -- scale and inspection ---------------------------------------------------------------------

def test_a_million_leads_start_at_once_and_build_on_demand() -> None:
    started = time.perf_counter()
    emulator = MarketoEmulator(MarketoConfig(size=1_000_000))
    lead = emulator.store.get(999_999)
    assert time.perf_counter() - started < 2.0
    assert lead is not None and lead["id"] == 999_999 and lead["email"]
    assert emulator.store.count == 1_000_000 and emulator.store.get(1_000_001) is None


def test_inspection_api_lists_edits_and_resets() -> None:
    with running(MarketoConfig(size=100)) as (emulator, server), \
            SandboxClient(server.url) as sandbox:
        records, total = sandbox.records("leads", offset=98, limit=10)
        assert total == 100 and [r["id"] for r in records] == [99, 100]
        sandbox.create("leads", {"email": "ui@example.jp", "lastName": "画面"})
        assert emulator.store.count == 101
        emulator.reset()
        assert emulator.store.count == 100 and sandbox.record("leads", "101") is None


# -- fidelity: the vendor's client library, unchanged -----------------------------------------

def test_marketorestpython_works_unchanged() -> None:
    client_module = pytest.importorskip("marketorestpython.client")
    with running(MarketoConfig(size=100)) as (emulator, server):
        creds = emulator.credentials()
        mc = client_module.MarketoClient(creds["munchkin_id"], creds["client_id"],
                                         creds["client_secret"], max_retry_time=5)
        mc.host = server.url
        mc.authenticate()
        leads = mc.get_multiple_leads_by_filter_type("id", "1,2,3", fields="email,lastNameKana")
        assert [lead["id"] for lead in leads] == [1, 2, 3] and "lastNameKana" in leads[0]
        since = _now()
        token = mc.get_paging_token(sinceDatetime=since)
        result = mc.create_update_leads([{"email": "mrp@example.jp", "lastName": "試験"}],
                                        action="createOrUpdate", lookupField="email",
                                        asyncProcessing=False)
        assert result[0]["status"] == "created"
        mc.create_update_leads([{"id": 2, "title": "社長"}], action="updateOnly", lookupField="id")
        changes = mc.get_lead_changes(fields="title", nextPageToken=token)
        assert [(c["leadId"], c["activityTypeId"]) for c in changes] == [(101, 12), (2, 13)]
        assert mc.get_lead_changes(fields=["title"], sinceDatetime=since) == changes
        assert any(f["rest"]["name"] == "email" for f in mc.describe())
        assert mc.get_deleted_leads(sinceDatetime="2099-01-01") == []
        assert mc.execute(method="get_lead_by_id", id=2, fields=["title"])[0]["title"] == "社長"
