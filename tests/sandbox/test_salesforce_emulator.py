"""The Salesforce emulator, driven by simple-salesforce itself (unchanged) over real HTTPS.

simple-salesforce always logs in at ``https://login.salesforce.com``; a transport adapter on
the ``requests.Session`` sends those calls to the emulator (the library is not touched).
"""

from __future__ import annotations

import gc
import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from sandbox.core.faults import FaultRule
from sandbox.core.tls import TLSFiles, make_tls
from sandbox.salesforce import FailurePattern, SalesforceEmulator, SalesforceSettings
from sandbox.salesforce.ids import make_id, to_18
from sandbox.salesforce.soql import SoqlError, parse
from sandbox.salesforce.testing import RedirectAdapter, redirecting_session, running_emulator

# -- fixtures -------------------------------------------------------------------------------


def close_client(session: requests.Session) -> None:
    """Close every client connection before the server stops.

    A response kept alive by a reference cycle (pytest.raises keeps the traceback, whose
    frames hold simple-salesforce's ``response``) keeps its socket open even after
    ``session.close()``; the server then stops with a TLS connection it cannot finish
    closing, and asyncio reports an unclosed transport (a ResourceWarning, an error here).
    """
    gc.collect()
    session.close()
    time.sleep(0.05)  # let the server see the close before it shuts down


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls(tmp_path_factory.mktemp("sf-tls"))


class Env:
    """A running emulator and a simple-salesforce client logged in by SOAP."""

    def __init__(self, emulator: SalesforceEmulator, url: str, tls: TLSFiles):
        self.emu, self.url, self.tls = emulator, url, tls
        self.creds = emulator.settings.credentials
        self.session = redirecting_session(url, tls.ca_path)
        self._sf: Salesforce | None = None

    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            self._sf = Salesforce(username=self.creds.username, password=self.creds.password,
                                  security_token=self.creds.security_token, session=self.session)
        return self._sf


def _env(settings: SalesforceSettings, tmp: Path, tls: TLSFiles) -> Iterator[Env]:
    with running_emulator(settings, tmp, tls=tls) as (emulator, server, files):
        env = Env(emulator, server.url, files)
        yield env
        close_client(env.session)


@pytest.fixture(scope="module")
def big(tls: TLSFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """5,000 seeded leads: read-only tests only."""
    yield from _env(SalesforceSettings(size=5000), tmp_path_factory.mktemp("sf-big"), tls)


@pytest.fixture
def env(tls: TLSFiles, tmp_path: Path) -> Iterator[Env]:
    """A fresh org of 300 leads per test."""
    yield from _env(SalesforceSettings(size=300), tmp_path, tls)


OrgFactory = Callable[..., Env]


@pytest.fixture
def make_org(tls: TLSFiles, tmp_path: Path) -> Iterator[OrgFactory]:
    """Start an org with the given settings; stopped after the test (not inside it, where
    pytest.raises may still hold a response and its open connection)."""
    started = itertools.count()
    with ExitStack() as stack:
        def start(**settings: object) -> Env:
            where = tmp_path / f"org{next(started)}"
            return stack.enter_context(contextmanager(_env)(
                SalesforceSettings(**settings), where, tls))  # type: ignore[arg-type]
        yield start


# -- login ----------------------------------------------------------------------------------


def test_soap_login_with_security_token_points_the_client_at_the_emulator(env: Env) -> None:
    sf = env.sf
    assert sf.sf_instance == env.url.removeprefix("https://")
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 300


def test_soap_login_failure_raises_invalid_login(env: Env) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        Salesforce(username=env.creds.username, password="wrong", security_token="x",
                   session=env.session)
    assert info.value.code == "INVALID_LOGIN"


def test_oauth_password_and_client_credentials_flows(env: Env) -> None:
    by_password = Salesforce(username=env.creds.username, password=env.creds.password,
                             consumer_key=env.creds.client_id,
                             consumer_secret=env.creds.client_secret, session=env.session)
    by_client = Salesforce(consumer_key=env.creds.client_id,
                           consumer_secret=env.creds.client_secret, domain="renkei.my",
                           session=env.session)
    for sf in (by_password, by_client):
        assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 75


def test_oauth_errors_use_the_oauth_error_shape(env: Env) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as info:
        Salesforce(consumer_key=env.creds.client_id, consumer_secret="nope", domain="x.my",
                   session=env.session)
    assert info.value.code == "invalid_client"
    response = env.session.post(f"{env.url}/services/oauth2/token",
                                data={"grant_type": "magic", "client_id": "a"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_token_response_has_no_expires_in_and_names_the_instance(env: Env) -> None:
    body = env.session.post(f"{env.url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": env.creds.client_id,
        "client_secret": env.creds.client_secret}).json()
    assert body["instance_url"] == env.url and "expires_in" not in body
    assert {"access_token", "id", "token_type", "issued_at", "signature"} <= set(body)


def test_expired_session_answers_a_json_array_and_the_client_logs_in_again(env: Env) -> None:
    sf = env.sf
    old = sf.session_id
    env.emu.sessions.expire_all()
    raw = env.session.get(f"{env.url}/services/data/v59.0/limits/",
                          headers={"Authorization": f"Bearer {old}"})
    assert raw.status_code == 401
    assert raw.json() == [{"message": "Session expired or invalid",
                           "errorCode": "INVALID_SESSION_ID"}]
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 300
    assert sf.session_id != old


def test_session_lifetime_is_configurable(make_org: OrgFactory) -> None:
    env = make_org(size=100, session_lifetime_s=0.2)
    sf = Salesforce(instance_url=env.url, session_id=env.emu.sessions.issue("u"),
                    session=env.session)
    sf.query("SELECT COUNT() FROM Lead")
    time.sleep(0.3)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT COUNT() FROM Lead")


# -- query ----------------------------------------------------------------------------------


def test_query_pages_through_root_relative_next_records_urls(big: Env) -> None:
    first = big.sf.query("SELECT Id, Email FROM Lead ORDER BY SystemModstamp, Id")
    assert first["totalSize"] == 5000 and not first["done"] and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    everything = big.sf.query_all("SELECT Id, Email FROM Lead")
    ids = [r["Id"] for r in everything["records"]]
    assert len(ids) == len(set(ids)) == 5000
    assert all(len(i) == 18 and i.startswith("00Q") and to_18(i[:15]) == i for i in ids)


def test_query_all_iter_and_batch_size_header(big: Env) -> None:
    calls_before = big.emu.calls.last_seq
    rows = list(big.sf.query_all_iter("SELECT Id FROM Contact",
                                      headers={"Sforce-Query-Options": "batchSize=200"}))
    assert len(rows) == 1250
    pages = [c for c in big.emu.calls.list(since=calls_before) if "/query" in c.path]
    assert len(pages) == 7  # ceil(1250 / 200)


def test_batch_size_is_clamped_to_200_at_least(big: Env) -> None:
    body = big.sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(body["records"]) == 200


def test_where_order_limit_offset_and_count(big: Env) -> None:
    sf = big.sf
    hot = sf.query_all("SELECT Id, Rating, Lead_Score__c FROM Lead WHERE Rating = 'hot'")
    assert hot["totalSize"] > 0 and all(r["Rating"] == "Hot" for r in hot["records"])
    top = sf.query("SELECT Id, Lead_Score__c FROM Lead WHERE Lead_Score__c != null "
                   "ORDER BY Lead_Score__c DESC, Id LIMIT 5 OFFSET 1")["records"]
    scores = [r["Lead_Score__c"] for r in top]
    assert len(top) == 5 and scores == sorted(scores, reverse=True)
    count = sf.query("SELECT COUNT() FROM Lead WHERE (Rating = 'Hot' OR Rating = 'Warm') "
                     "AND Status NOT IN ('Closed - Converted')")
    assert count["records"] == [] and 0 < count["totalSize"] < 5000
    tokyo = sf.query(format_soql("SELECT Id FROM Lead WHERE State = {} AND Email LIKE {}",
                                 "東京都", "%.co.jp"))
    assert tokyo["totalSize"] > 0


def test_format_soql_quoting_round_trips(env: Env) -> None:
    name = "O'Brien \\ \"quoted\""
    env.sf.Lead.create({"LastName": name, "Company": "株式会社テスト"})
    found = env.sf.query(format_soql("SELECT LastName FROM Lead WHERE LastName = {}", name))
    assert [r["LastName"] for r in found["records"]] == [name]
    like = env.sf.query(format_soql("SELECT Id FROM Lead WHERE LastName LIKE '{:like}%'",
                                    "O'Brien \\"))
    assert like["totalSize"] == 1


def test_datetime_filters_and_the_incremental_query_shape(big: Env) -> None:
    since = datetime(2026, 10, 1, tzinfo=UTC)
    soql = format_soql("SELECT Id, SystemModstamp FROM Lead WHERE SystemModstamp >= {} "
                       "ORDER BY SystemModstamp, Id", since)
    rows = big.sf.query_all(soql)["records"]
    stamps = [r["SystemModstamp"] for r in rows]
    assert stamps == sorted(stamps) and 0 < len(rows) < 5000
    assert all(s >= "2026-10-01T00:00:00.000+0000" for s in stamps)
    assert stamps[0].endswith("+0000") and "." in stamps[0]


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT Foo FROM Lead", "INVALID_FIELD"),
    ("SELECT Id FROM Leed", "INVALID_TYPE"),
    ("SELECT Id FORM Lead", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE Email = 'a' AND Phone = 'b' OR Title = 'c'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Lead WHERE CreatedDate > '2024-01-01'", "INVALID_FIELD"),
    ("SELECT Id FROM Lead OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE"),
])
def test_bad_queries_answer_400_with_the_salesforce_code(big: Env, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        big.sf.query(soql)
    assert info.value.content[0]["errorCode"] == code


def test_invalid_field_message_points_at_the_column(big: Env) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        big.sf.query("SELECT Id, Nope__c FROM Lead")
    message = info.value.content[0]["message"]
    assert "ERROR at Row:1:Column:12" in message and "No such column 'Nope__c'" in message


# -- sObject rows ---------------------------------------------------------------------------


def test_crud_through_sftype(env: Env) -> None:
    sf = env.sf
    created = sf.Lead.create({"LastName": "山田", "FirstName": "太郎", "Company": "株式会社サンプル",
                              "Email": "taro.yamada@sample.co.jp"})
    assert created["success"] and created["id"].startswith("00Q") and len(created["id"]) == 18
    record = sf.Lead.get(created["id"])
    assert record["Status"] == "Open - Not Contacted"  # the picklist default
    assert record["Name"] == "山田 太郎" and record["IsDeleted"] is False
    assert record["CreatedDate"] == record["SystemModstamp"]
    assert sf.Lead.update(created["id"], {"Title": "部長"}) == 204
    updated = sf.Lead.get(created["id"])
    assert updated["Title"] == "部長" and updated["SystemModstamp"] > record["SystemModstamp"]
    assert sf.Lead.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Lead.get(created["id"])
    assert info.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    deleted = sf.query_all(format_soql("SELECT Id, IsDeleted FROM Lead WHERE Id = {}",
                                       created["id"]), include_deleted=True)
    assert deleted["records"][0]["IsDeleted"] is True
    assert sf.query(format_soql("SELECT COUNT() FROM Lead WHERE Id = {}",
                                created["id"]))["totalSize"] == 0


def test_upsert_and_get_by_external_id(env: Env) -> None:
    sf = env.sf
    assert sf.Lead.upsert("Renkei_Id__c/lead:42", {"LastName": "佐藤", "Company": "A社"}) == 201
    raw = sf.Lead.upsert("Renkei_Id__c/lead:42", {"Title": "課長"}, raw_response=True)
    assert raw.status_code == 200 and raw.json()["created"] is False
    assert sf.Lead.get_by_custom_id("Renkei_Id__c", "lead:42")["Title"] == "課長"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.upsert("Email/x@y.jp", {"LastName": "a"})  # not an external id field


def test_record_validation_errors(env: Env) -> None:
    sf = env.sf
    cases = [
        ({"FirstName": "x"}, "REQUIRED_FIELD_MISSING", ["LastName", "Company"]),
        ({"LastName": "x" * 81, "Company": "c"}, "STRING_TOO_LONG", ["LastName"]),
        ({"LastName": "x", "Company": "c", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS",
         ["Email"]),
        ({"LastName": "x", "Company": "c", "Rating": "Lukewarm"},
         "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Rating"]),
        ({"LastName": "x", "Company": "c", "Name": "y"}, "INVALID_FIELD_FOR_INSERT_UPDATE",
         ["Name"]),
    ]
    for values, code, fields in cases:
        with pytest.raises(SalesforceMalformedRequest) as info:
            sf.Lead.create(values)
        assert info.value.content[0]["errorCode"] == code
        assert info.value.content[0]["fields"] == fields
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Lead.create({"LastName": "x", "Company": "c", "Nope__c": 1})
    assert info.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_duplicate_rule_matches_lead_email_ignoring_case(env: Env) -> None:
    existing = env.sf.query("SELECT Id, Email FROM Lead LIMIT 1")["records"][0]
    with pytest.raises(SalesforceMalformedRequest) as info:
        env.sf.Lead.create({"LastName": "x", "Company": "c", "Email": existing["Email"].upper()})
    error = info.value.content[0]
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    matches = error["duplicateResult"]["matchResults"][0]["matchRecords"]
    assert matches[0]["record"]["Id"] == existing["Id"]


def test_duplicate_rule_follows_created_changed_and_deleted_leads(env: Env) -> None:
    sf = env.sf
    first = sf.Lead.create({"LastName": "x", "Company": "c", "Email": "dup-a@example.co.jp"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Lead.create({"LastName": "y", "Company": "c", "Email": "DUP-A@example.co.jp"})
    assert info.value.content[0]["errorCode"] == "DUPLICATES_DETECTED"
    sf.Lead.update(first, {"Email": "dup-b@example.co.jp"})  # its old email is free again
    second = sf.Lead.create({"LastName": "y", "Company": "c", "Email": "dup-a@example.co.jp"})
    with pytest.raises(SalesforceMalformedRequest):
        sf.Lead.create({"LastName": "z", "Company": "c", "Email": "Dup-B@example.co.jp"})
    sf.Lead.delete(first)  # a deleted lead holds no email
    assert sf.Lead.create({"LastName": "z", "Company": "c", "Email": "dup-b@example.co.jp"})["success"]
    assert second["success"]


def test_duplicate_rule_can_be_turned_off(make_org: OrgFactory) -> None:
    env = make_org(size=100, duplicate_rule=False)
    email = env.sf.query("SELECT Email FROM Lead LIMIT 1")["records"][0]["Email"]
    assert env.sf.Lead.create({"LastName": "x", "Company": "c", "Email": email})["success"]


# -- sObject Collections --------------------------------------------------------------------


def _leads(n: int, start: int = 0, **extra: object) -> list[dict[str, object]]:
    return [{"attributes": {"type": "Lead"}, "LastName": f"テスト{i}", "Company": "株式会社テスト",
             "Email": f"t{i}@test.co.jp", **extra} for i in range(start, start + n)]


def test_collections_create_update_delete(env: Env) -> None:
    sf = env.sf
    created = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": False, "records": _leads(3) + [
                             {"attributes": {"type": "Lead"}, "LastName": "no company"}]})
    assert [r["success"] for r in created] == [True, True, True, False]
    assert created[3]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    ids = [r["id"] for r in created[:3]]
    updated = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Lead"}, "id": ids[0], "Title": "部長"},
        {"attributes": {"type": "Lead"}, "id": make_id("00Q", 999_999), "Title": "x"}]})
    assert updated[0] == {"id": ids[0], "success": True, "errors": []}
    assert updated[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    deleted = sf.restful("composite/sobjects", method="DELETE",
                         params={"ids": ",".join(ids[:2])})
    assert [r["success"] for r in deleted] == [True, True]
    again = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Lead"}, "id": ids[0], "Title": "x"}]})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_collections_upsert_reports_created(env: Env) -> None:
    records = [{**r, "Renkei_Id__c": f"lead:{i}"} for i, r in enumerate(_leads(3))]
    first = env.sf.restful("composite/sobjects/Lead/Renkei_Id__c", method="PATCH",
                           json={"allOrNone": False, "records": records})
    assert [r["created"] for r in first] == [True, True, True]
    second = env.sf.restful("composite/sobjects/Lead/Renkei_Id__c", method="PATCH",
                            json={"allOrNone": False, "records": records})
    assert [r["created"] for r in second] == [False, False, False]
    assert [r["id"] for r in second] == [r["id"] for r in first]
    twice = env.sf.restful("composite/sobjects/Lead/Renkei_Id__c", method="PATCH", json={
        "records": [records[0], records[0]]})
    assert [r["errors"][0]["statusCode"] for r in twice] == ["DUPLICATE_EXTERNAL_ID"] * 2


def test_collections_all_or_none_rolls_everything_back(env: Env) -> None:
    before = env.sf.query("SELECT COUNT() FROM Lead")["totalSize"]
    records = _leads(2) + [{"attributes": {"type": "Lead"}, "LastName": "no company"}]
    result = env.sf.restful("composite/sobjects", method="POST",
                            json={"allOrNone": True, "records": records})
    codes = [r["errors"][0]["statusCode"] for r in result]
    assert codes == ["ALL_OR_NONE_OPERATION_ROLLED_BACK"] * 2 + ["REQUIRED_FIELD_MISSING"]
    assert env.sf.query("SELECT COUNT() FROM Lead")["totalSize"] == before


def test_collections_refuse_more_than_200_records(env: Env) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        env.sf.restful("composite/sobjects", method="POST",
                       json={"allOrNone": False, "records": _leads(201)})
    assert info.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_records_of_one_request_are_not_duplicates_of_each_other(env: Env) -> None:
    records = _leads(1) + _leads(1)  # the same email twice in one request
    result = env.sf.restful("composite/sobjects", method="POST",
                            json={"allOrNone": False, "records": records})
    assert [r["success"] for r in result] == [True, True]
    later = env.sf.restful("composite/sobjects", method="POST",
                           json={"allOrNone": False, "records": _leads(1)})
    assert later[0]["errors"][0]["statusCode"] == "DUPLICATES_DETECTED"


def test_failure_patterns_reject_matching_records_a_set_number_of_times(
        make_org: OrgFactory) -> None:
    locked = FailurePattern("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this "
                            "record", field="LastName", pattern="^LOCK", times=1)
    env = make_org(size=100, failures=[locked])
    body = {"allOrNone": False, "records": [
        {"attributes": {"type": "Lead"}, "LastName": "LOCKED", "Company": "c"}]}
    first = env.sf.restful("composite/sobjects", method="POST", json=body)
    assert first[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert env.sf.restful("composite/sobjects", method="POST", json=body)[0]["success"]


# -- describe, limits, headers, faults ------------------------------------------------------


def test_describe_global_and_object(big: Env) -> None:
    names = {o["name"]: o["keyPrefix"] for o in big.sf.describe()["sobjects"]}
    assert names == {"Lead": "00Q", "Contact": "003", "Account": "001", "Opportunity": "006",
                     "OpportunityContactRole": "00K", "Task": "00T"}
    fields = {f["name"]: f for f in big.sf.Lead.describe()["fields"]}
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["length"] == 80
    assert fields["Renkei_Id__c"]["externalId"] and fields["Renkei_Id__c"]["unique"]
    status = fields["Status"]
    assert status["restrictedPicklist"] and any(p["defaultValue"] for p in status["picklistValues"])
    assert not fields["SystemModstamp"]["createable"] and not fields["Id"]["updateable"]
    assert {"LastNameKana__c", "FirstNameKana__c", "Department__c"} <= set(fields)


def test_every_rest_response_carries_the_limit_header(big: Env) -> None:
    sf = big.sf
    sf.query("SELECT COUNT() FROM Lead")
    usage = sf.api_usage["api-usage"]
    assert usage.total == 100_000 and usage.used >= 1
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 100_000
    versions = big.session.get(f"{big.url}/services/data/")
    assert "Sforce-Limit-Info" not in versions.headers
    assert any(v["version"] == "59.0" for v in versions.json())


def test_daily_api_limit_is_enforced(make_org: OrgFactory) -> None:
    env = make_org(size=100, daily_api_limit=3)
    for _ in range(3):
        env.sf.query("SELECT COUNT() FROM Lead")
    with pytest.raises(SalesforceRefusedRequest) as info:
        env.sf.query("SELECT COUNT() FROM Lead")
    assert info.value.content == [{"message": "TotalRequests Limit exceeded.",
                                   "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


@pytest.mark.parametrize(("kind", "status", "code", "message"), [
    ("rate_limit", 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    ("concurrency", 403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
    ("server_error", 503, "SERVER_UNAVAILABLE", None),
])
def test_faults_render_as_salesforce_errors(env: Env, kind: str, status: int, code: str,
                                            message: str | None) -> None:
    env.sf.query("SELECT COUNT() FROM Lead")
    env.emu.faults.add(FaultRule(kind, path="/query"))  # type: ignore[arg-type]
    response = env.session.get(f"{env.url}/services/data/v59.0/query/",
                               params={"q": "SELECT Id FROM Lead"},
                               headers={"Authorization": f"Bearer {env.sf.session_id}"})
    assert response.status_code == status
    body = response.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code
    assert message is None or body[0]["message"] == message
    assert env.emu.calls.list()[-1].vendor_code == code


def test_token_expired_fault_ends_the_session_and_the_client_recovers(env: Env) -> None:
    sf = env.sf
    env.emu.faults.add(FaultRule("token_expired", path="/query"))
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 300
    assert [c.status for c in env.emu.calls.list()[-3:]] == [401, 200, 200]


def test_server_error_500_is_a_general_error(env: Env) -> None:
    env.emu.faults.add(FaultRule("server_error", path="/sobjects", status=500))
    with pytest.raises(SalesforceGeneralError) as info:
        env.sf.Lead.describe()
    assert info.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"


# -- sandbox inspection and scale -----------------------------------------------------------


def test_a_ui_edit_moves_system_modstamp_and_shows_in_incremental_queries(env: Env) -> None:
    first = env.sf.query("SELECT Id, SystemModstamp FROM Lead ORDER BY SystemModstamp LIMIT 1")
    record = first["records"][0]
    edited = env.emu.edit_record("Lead", record["Id"], {"Title": "営業部長"})
    assert edited["SystemModstamp"] > record["SystemModstamp"]
    assert edited["LastModifiedDate"] == edited["SystemModstamp"]
    newest = env.sf.query("SELECT Id, Title FROM Lead ORDER BY SystemModstamp DESC LIMIT 1")
    assert newest["records"][0] == {**newest["records"][0], "Id": record["Id"], "Title": "営業部長"}
    page = env.session.get(f"{env.url}/_sandbox/records/Lead", params={"limit": 2}).json()
    assert page["total"] == 300 and len(page["records"]) == 2


def test_updated_and_deleted_resources(env: Env) -> None:
    sf = env.sf
    start = datetime.now(UTC) - timedelta(minutes=1)
    lead = sf.Lead.create({"LastName": "a", "Company": "b"})["id"]
    gone = sf.Lead.create({"LastName": "c", "Company": "d"})["id"]
    sf.Lead.delete(gone)
    end = datetime.now(UTC) + timedelta(minutes=1)
    assert sf.Lead.updated(start, end)["ids"] == [lead]
    assert [d["id"] for d in sf.Lead.deleted(start, end)["deletedRecords"]] == [gone]


def test_a_million_leads_start_at_once_and_page_without_regenerating_all(
        make_org: OrgFactory) -> None:
    started = time.perf_counter()
    env = make_org(size=1_000_000, duplicate_rule=False)
    soql = "SELECT Id, SystemModstamp FROM Lead WHERE SystemModstamp >= 2026-10-25T00:00:00Z"
    body = env.sf.query(soql)
    assert body["totalSize"] > 10_000 and len(body["records"]) == 2000
    assert env.sf.query_more(body["nextRecordsUrl"], identifier_is_url=True)["records"]
    assert time.perf_counter() - started < 10


def test_seed_is_deterministic(make_org: OrgFactory) -> None:
    rows = [make_org(size=100, seed=7).sf.query_all("SELECT Id, LastName, Email, Company FROM Lead")
            for _ in range(2)]
    assert rows[0] == rows[1]


# -- units ----------------------------------------------------------------------------------


def test_ids_have_the_case_safe_checksum() -> None:
    assert to_18("001D000000IqhSL") == "001D000000IqhSLIAZ"  # Salesforce's documented example
    assert to_18("bad id") is None
    assert make_id("00Q", 1) < make_id("00Q", 62) < make_id("00Q", 3844)


def test_soql_parser_shapes() -> None:
    q = parse("select Id, Email from Lead where (Email like '%@a.jp' or Email = null) "
              "and CreatedDate >= 2024-01-01T00:00:00+09:00 order by Email desc nulls first "
              "limit 10 offset 5")
    assert q.sobject == "Lead" and q.fields == ("Id", "Email") and q.limit == 10
    assert q.order_by[0].descending and not q.order_by[0].nulls_last
    with pytest.raises(SoqlError) as info:
        parse("SELECT Id FROM Lead WHERE")
    assert info.value.code == "MALFORMED_QUERY" and "ERROR at Row:1:Column:26" in info.value.message


def test_redirect_adapter_leaves_other_hosts_alone() -> None:
    adapter = RedirectAdapter("https://127.0.0.1:1")
    request = requests.Request("GET", "https://example.com/x").prepare()
    with pytest.raises(requests.exceptions.ConnectionError):
        adapter.send(request, timeout=0.01)
    assert adapter.redirected == 0 and request.url == "https://example.com/x"


def test_vendor_code_parses_json_arrays_and_soap_faults() -> None:
    emu = SalesforceEmulator(SalesforceSettings(size=100))
    assert emu.vendor_code(json.dumps([{"errorCode": "X", "message": ""}]).encode(), 400) == "X"
    assert emu.vendor_code(b"<x><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode></x>", 500) \
        == "INVALID_LOGIN"
    assert emu.vendor_code(b'{"error":"invalid_client"}', 400) == "invalid_client"
    assert date.today()  # the emulator's clock is the real one by default
