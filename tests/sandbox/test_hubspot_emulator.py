"""The HubSpot emulator over real HTTP, and the real hubspot-api-client against it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
)
from hubspot.crm.contacts.exceptions import UnauthorizedException

from sandbox.core import EmulatorServer, FaultRule
from sandbox.hubspot import HubSpotConfig, HubSpotEmulator
from sandbox.launcher import EMULATORS, load_emulators


@pytest.fixture(scope="module")
def portal() -> Iterator[tuple[HubSpotEmulator, EmulatorServer]]:
    emulator = HubSpotEmulator(HubSpotConfig(size=250, burst_calls=0))
    with EmulatorServer(emulator.asgi(), name="hubspot") as server:
        yield emulator, server


@pytest.fixture
def api(portal: tuple[HubSpotEmulator, EmulatorServer]) -> Iterator[httpx.Client]:
    emulator, server = portal
    emulator.reset()
    with httpx.Client(base_url=server.url, timeout=10, headers={
            "Authorization": f"Bearer {emulator.config.access_token}"}) as client:
        yield client


def _search(api: httpx.Client, **body: object) -> httpx.Response:
    return api.post("/crm/v3/objects/contacts/search", json=body)


def test_missing_or_wrong_token_gets_hubspots_401_body(
        portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    for headers in ({}, {"Authorization": "Bearer pat-na1-wrong"}):
        response = httpx.get(f"{portal[1].url}/crm/v3/objects/contacts", headers=headers)
        body = response.json()
        assert response.status_code == 401
        assert body["category"] == "INVALID_AUTHENTICATION" and body["status"] == "error"
        assert body["correlationId"] and "Authentication credentials not found" in body["message"]


def test_list_pages_with_after_and_repeated_properties(api: httpx.Client) -> None:
    seen: list[str] = []
    params: list[tuple[str, str]] = [("limit", "100"), ("properties", "email"),
                                     ("properties", "firstname")]
    after = None
    while True:
        body = api.get("/crm/v3/objects/contacts",
                       params=params + ([("after", after)] if after else [])).json()
        seen += [r["id"] for r in body["results"]]
        assert {"email", "firstname", "lastmodifieddate"} <= set(body["results"][0]["properties"])
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
    assert len(seen) == len(set(seen)) == 250
    assert api.get("/crm/v3/objects/contacts", params={"limit": 101}).status_code == 400


def test_search_operators_sorts_and_limits(api: httpx.Client) -> None:
    first = api.get("/crm/v3/objects/contacts", params={"limit": 3, "properties": "email"}).json()
    emails = [r["properties"]["email"] for r in first["results"]]
    found = _search(api, filterGroups=[{"filters": [
        {"propertyName": "email", "operator": "IN", "values": [e.upper() for e in emails]}]}],
        sorts=[{"propertyName": "hs_object_id", "direction": "DESCENDING"}]).json()
    assert [r["id"] for r in found["results"]] == sorted((r["id"] for r in first["results"]),
                                                         key=int, reverse=True)
    assert found["total"] == 3
    ids = [int(r["id"]) for r in first["results"]]
    between = _search(api, filterGroups=[{"filters": [
        {"propertyName": "hs_object_id", "operator": "BETWEEN", "value": str(ids[0]),
         "highValue": str(ids[1])}]}]).json()
    assert between["total"] == 2
    none = _search(api, filterGroups=[{"filters": [
        {"propertyName": "hs_lead_status", "operator": "HAS_PROPERTY"}]}]).json()
    assert none["total"] == 0
    assert _search(api, limit=201).status_code == 400
    past = _search(api, after="10000")
    assert past.status_code == 400 and past.json()["category"] == "VALIDATION_ERROR"
    assert _search(api, filterGroups=[{"filters": [
        {"propertyName": "nope", "operator": "EQ", "value": "x"}]}]).status_code == 400


def test_batch_upsert_reports_new_and_per_input_errors_with_207(api: httpx.Client) -> None:
    existing = api.get("/crm/v3/objects/contacts/1001", params={"properties": "email"}).json()
    body = {"inputs": [
        {"idProperty": "email", "id": existing["properties"]["email"],
         "properties": {"jobtitle": "部長"}},
        {"idProperty": "email", "id": "new.person@example.co.jp", "properties": {"lastname": "新"}},
        {"idProperty": "email", "id": "not-an-email", "properties": {}}]}
    response = api.post("/crm/v3/objects/contacts/batch/upsert", json=body)
    data = response.json()
    assert response.status_code == 207 and data["numErrors"] == 1
    assert [(r["id"] == "1001", r["new"]) for r in data["results"]] == [(True, False),
                                                                         (False, True)]
    assert data["errors"][0]["context"]["ids"] == ["not-an-email"]
    ok = api.post("/crm/v3/objects/contacts/batch/upsert", json={"inputs": body["inputs"][:2]})
    assert ok.status_code == 200 and ok.json()["status"] == "COMPLETE"
    too_many = {"inputs": [{"idProperty": "email", "id": f"x{n}@example.com", "properties": {}}
                           for n in range(101)]}
    assert api.post("/crm/v3/objects/contacts/batch/upsert", json=too_many).status_code == 400


def test_duplicate_create_is_a_409_conflict_naming_the_existing_id(api: httpx.Client) -> None:
    email = api.get("/crm/v3/objects/contacts/1002").json()["properties"]["email"]
    single = api.post("/crm/v3/objects/contacts", json={"properties": {"email": email.upper()}})
    batch = api.post("/crm/v3/objects/contacts/batch/create", json={"inputs": [
        {"properties": {"email": "fresh@example.com"}}, {"properties": {"email": email}}]})
    for response in (single, batch):
        assert response.status_code == 409
        assert response.json()["category"] == "CONFLICT"
        assert response.json()["message"].endswith("Existing ID: 1002")
    assert _search(api, filterGroups=[{"filters": [
        {"propertyName": "email", "operator": "EQ", "value": "fresh@example.com"}]}]
    ).json()["total"] == 0, "a refused batch create creates nothing"


def test_modified_dates_move_on_change_only(api: httpx.Client,
                                            portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    before = api.get("/crm/v3/objects/contacts/1003").json()
    title = api.get("/crm/v3/objects/contacts/1003", params={"properties": "jobtitle"}
                    ).json()["properties"]["jobtitle"]
    same = api.patch("/crm/v3/objects/contacts/1003", json={"properties": {"jobtitle": title}})
    assert same.json()["properties"]["lastmodifieddate"] == before["properties"]["lastmodifieddate"]
    changed = api.post("/crm/v3/objects/contacts/batch/update", json={"inputs": [
        {"id": "1003", "properties": {"jobtitle": "社長"}}, {"id": "999999", "properties": {}}]})
    assert changed.status_code == 207
    assert changed.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    after = changed.json()["results"][0]["properties"]
    assert after["lastmodifieddate"] > before["properties"]["lastmodifieddate"]
    deal = api.get("/crm/v3/objects/deals", params={"limit": 1}).json()["results"][0]
    assert deal["properties"]["hs_lastmodifieddate"]


def test_associations_v4_batch_read_links_deals_to_contacts(api: httpx.Client) -> None:
    deal = api.get("/crm/v3/objects/deals", params={"limit": 1}).json()["results"][0]["id"]
    body = api.post("/crm/v4/associations/deals/contacts/batch/read",
                    json={"inputs": [{"id": deal}]}).json()
    target = body["results"][0]["to"][0]
    assert target["associationTypes"][0]["typeId"] == 3
    back = api.get(f"/crm/v4/objects/contacts/{target['toObjectId']}/associations/deals").json()
    assert int(deal) in [r["toObjectId"] for r in back["results"]]


def test_burst_limit_answers_429_with_hubspot_body_and_headers() -> None:
    emulator = HubSpotEmulator(HubSpotConfig(size=0, burst_calls=2, burst_window_s=10))
    with EmulatorServer(emulator.asgi(), name="hubspot") as server, httpx.Client(
            base_url=server.url, headers={
                "Authorization": f"Bearer {emulator.config.access_token}"}) as client:
        answers = [client.get("/crm/v3/objects/contacts") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].headers["X-HubSpot-RateLimit-Remaining"] == "0"
    limited = answers[2]
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert limited.json()["errorType"] == "RATE_LIMIT"
    assert limited.headers["X-HubSpot-RateLimit-Max"] == "2"
    assert 1 <= int(limited.headers["Retry-After"]) <= 10


def test_faults_render_the_hubspot_way(api: httpx.Client,
                                       portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    portal[0].faults.add(FaultRule("rate_limit", retry_after=2))
    portal[0].faults.add(FaultRule("server_error"))
    limited, broken = api.get("/crm/v3/objects/contacts"), api.get("/crm/v3/objects/contacts")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert broken.status_code == 502 and broken.json()["status"] == "error"
    assert [c.vendor_code for c in portal[0].calls.list()[-2:]] == ["TEN_SECONDLY_ROLLING",
                                                                    "INTERNAL_ERROR"]


def test_launcher_knows_the_hubspot_emulator() -> None:
    load_emulators(["sandbox.hubspot"])
    assert "hubspot" in EMULATORS


def test_real_hubspot_client_lists_searches_upserts_and_reads(
        portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    emulator, server = portal
    emulator.reset()
    client = HubSpot(access_token=emulator.config.access_token, host=server.url)
    contacts = client.crm.contacts
    page = contacts.basic_api.get_page(limit=100, properties=["email", "firstname"])
    assert len(page.results) == 100 and page.paging.next.after
    assert len(contacts.get_all(properties=["email"])) == 250
    found = contacts.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT",
                                     "value": "0"}]}],
        sorts=["lastmodifieddate"], properties=["email"], limit=200))
    assert found.total == 250 and len(found.results) == 200 and found.paging.next.after == "200"
    upserted = contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        {"idProperty": "email", "id": "client.new@example.co.jp", "properties": {"lastname": "新"}},
        {"idProperty": "email", "id": page.results[0].properties["email"],
         "properties": {"firstname": "花子"}}]))
    assert [r.new for r in upserted.results] == [True, False]
    read = contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[{"id": page.results[0].id}, {"id": "404404"}], properties=["firstname"],
        properties_with_history=[]))
    assert read.results[0].properties["firstname"] == "花子"
    assert read.errors[0].category == "OBJECT_NOT_FOUND"
    with pytest.raises(UnauthorizedException):
        HubSpot(access_token="pat-na1-wrong", host=server.url).crm.contacts.basic_api.get_page()
