"""The Marketo emulator's custom activities, checked with marketorestpython and raw HTTP
(issue #5): types, Add Custom Activities with per-item results, and the activities read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from marketorestpython.client import MarketoClient

from sandbox.core import EmulatorServer
from sandbox.marketo import MarketoConfig, MarketoEmulator
from sandbox.marketo.custom_activities import (
    DEFAULT_CUSTOM_TYPES,
    AttributeDef,
    CustomActivityType,
)
from tests.connectors.marketo_fixtures import api_client, running

WEBINAR, VIDEO, DRAFT = 100001, 100002, 100003
DRAFT_TYPE = CustomActivityType(
    DRAFT, "renkeiFormDraft", "Form sent (draft)", AttributeDef("sourceId", "Source ID"),
    status="draft")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[MarketoEmulator, EmulatorServer]]:
    config = MarketoConfig(size=50, custom_activity_types=(*DEFAULT_CUSTOM_TYPES, DRAFT_TYPE))
    with running(config) as pair:
        yield pair


@pytest.fixture
def mk(served: tuple[MarketoEmulator, EmulatorServer]) -> Iterator[httpx.Client]:
    emulator, server = served
    emulator.reset()
    with api_client(emulator, server) as client:
        yield client


@pytest.fixture
def mrp(served: tuple[MarketoEmulator, EmulatorServer]) -> MarketoClient:
    emulator, server = served
    emulator.reset()
    creds = emulator.credentials()
    client = MarketoClient(creds["munchkin_id"], creds["client_id"], creds["client_secret"])
    client.host = server.url
    return client


def _activity(lead: Any, type_id: Any = WEBINAR, primary: Any = "zoom:w1:a",
              **attributes: Any) -> dict[str, Any]:
    return {"leadId": lead, "activityDate": "2026-09-10T14:03:00+09:00",
            "activityTypeId": type_id, "primaryAttributeValue": primary,
            "attributes": [{"apiName": k, "value": v} for k, v in attributes.items()]}


def test_marketorestpython_lists_adds_and_reads_back_custom_activities(
        mrp: MarketoClient) -> None:
    types = {t["apiName"]: t for t in mrp.execute(method="get_custom_activity_types")}
    assert types["renkeiWebinarAttended"]["id"] == WEBINAR
    assert types["renkeiVideoViewed"]["status"] == "approved"
    assert types["renkeiFormDraft"]["status"] == "draft"

    result = mrp.execute(method="add_custom_activities", input=[
        _activity(1, minutes=71.5, title="製造業DXセミナー"),
        _activity(9999),
        _activity(2, VIDEO, "brightcove:v1:b", percentViewed=90)])
    assert [r["status"] for r in result] == ["added", "skipped", "added"]
    assert result[1]["errors"] == [{"code": "1004", "message": "Lead not found"}]

    read = mrp.execute(method="get_lead_activities",
                       activityTypeIds=[str(WEBINAR), str(VIDEO)],
                       sinceDatetime="2020-01-01T00:00:00Z", leadIds="1,2")
    assert [(a["leadId"], a["marketoGUID"], a["primaryAttributeValue"]) for a in read] == [
        (1, result[0]["marketoGUID"], "zoom:w1:a"),
        (2, result[2]["marketoGUID"], "brightcove:v1:b")]
    webinar = read[0]
    assert webinar["activityDate"] == "2026-09-10T05:03:00Z"  # UTC, as the vendor renders it
    assert webinar["attributes"] == [{"name": "Minutes Attended", "value": 71.5},
                                     {"name": "Webinar Name", "value": "製造業DXセミナー"}]
    assert "primaryAttributeValueId" not in webinar
    assert read[1]["attributes"] == [{"name": "Percent Viewed", "value": 90.0}]


def test_each_item_is_checked_and_answered_in_order(mk: httpx.Client) -> None:
    body = mk.post("/rest/v1/activities/external.json", json={"input": [
        _activity(1, minutes="seventy"),                      # wrong type
        _activity(1, colour="red"),                           # no such attribute
        _activity(1, type_id=424242),                         # no such type
        _activity(1, type_id=DRAFT),                          # never approved
        {**_activity(1), "activityDate": None},               # required
        _activity("one"),                                     # leadId not an integer
        _activity(1, title="x" * 70_000),                     # attributes over 64 KB
        _activity(3, **{"Minutes Attended": 12}),             # by display name
    ]}).json()
    assert body["success"] is True
    answers = [(r["status"], r.get("errors", [{}])[0].get("code")) for r in body["result"]]
    assert answers == [("skipped", "1001"), ("skipped", "1006"), ("skipped", "1003"),
                       ("skipped", "1003"), ("skipped", "1002"), ("skipped", "1001"),
                       ("skipped", "1049"), ("added", None)]
    assert "not approved" in body["result"][3]["errors"][0]["message"]


def test_more_than_300_activities_or_no_input_refuse_the_call(mk: httpx.Client) -> None:
    too_many = mk.post("/rest/v1/activities/external.json",
                       json={"input": [_activity(1, primary=f"s{i}") for i in range(301)]}).json()
    assert too_many["success"] is False and too_many["errors"][0]["code"] == "1003"
    empty = mk.post("/rest/v1/activities/external.json", json={"input": []}).json()
    assert empty["errors"][0]["code"] == "701"


def test_activity_types_lists_approved_custom_types_and_describe_shows_attributes(
        mk: httpx.Client) -> None:
    listed = {t["id"]: t for t in mk.get("/rest/v1/activities/types.json").json()["result"]}
    assert {12, 13, 37, WEBINAR, VIDEO} <= set(listed) and DRAFT not in listed
    assert listed[WEBINAR]["primaryAttribute"] == {"name": "Source ID", "dataType": "string"}
    described = mk.get("/rest/v1/activities/external/type/renkeiVideoViewed/describe.json")
    item = described.json()["result"][0]
    assert [a["apiName"] for a in item["attributes"]] == ["title", "percentViewed",
                                                          "secondsViewed"]
    unknown = mk.get("/rest/v1/activities/external/type/nope/describe.json").json()
    assert unknown["success"] is False and unknown["errors"][0]["code"] == "1013"


def test_custom_activities_are_invisible_to_lead_changes_and_gone_after_reset(
        served: tuple[MarketoEmulator, EmulatorServer], mk: httpx.Client) -> None:
    emulator, _ = served
    mk.post("/rest/v1/activities/external.json", json={"input": [_activity(4)]})
    token = mk.get("/rest/v1/activities/pagingtoken.json",
                   params={"sinceDatetime": "2020-01-01T00:00:00Z"}).json()["nextPageToken"]
    changes = mk.get("/rest/v1/activities/leadchanges.json",
                     params={"nextPageToken": token, "fields": "email", "leadIds": "4"}).json()
    assert all(a["activityTypeId"] != WEBINAR for a in changes.get("result", []))
    assert len(emulator.custom.written()) == 1
    emulator.reset()
    assert emulator.custom.written() == []


def test_custom_types_come_from_the_sandbox_configuration() -> None:
    config = MarketoConfig.from_mapping({"size": 10, "custom_activity_types": [{
        "id": 100010, "api_name": "seminarBooth", "name": "Visited booth",
        "primary": {"api_name": "boothId", "name": "Booth"},
        "attributes": [{"api_name": "minutes", "name": "Minutes", "data_type": "integer"}]}]})
    emulator = MarketoEmulator(config)
    assert [t.api_name for t in emulator.custom.types.values()] == ["seminarBooth"]
    with pytest.raises(ValueError, match="dataType"):
        AttributeDef("x", "X", "money")
    with pytest.raises(ValueError, match="distinct"):
        MarketoEmulator(MarketoConfig(size=10, custom_activity_types=(DRAFT_TYPE, DRAFT_TYPE)))
