"""Marketo incremental reads in one paged read of Get Lead Activities (issue #10 a).

After a first (catch-up) read, a read follows New Lead, Change Data Value and Delete Lead
activities in one ``activities.json`` read: nothing new costs one call, deletes still arrive
in ``Page.deleted``, and states saved by the two-endpoint reader are migrated without losing
a change or a delete. Against the emulator over real HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from connectors.marketo import MarketoConnector
from connectors.sdk import Page
from sandbox.core import EmulatorServer
from sandbox.marketo import MarketoConfig, MarketoEmulator
from sandbox.marketo.schema import FIELD_BY_NAME
from tests.connectors.marketo_fixtures import api_client, make_connector, running

Pair = tuple[MarketoEmulator, EmulatorServer]


@pytest.fixture()
def small() -> Iterator[Pair]:
    with running(MarketoConfig(size=100)) as pair:
        yield pair


def _drain(connector: MarketoConnector, state: dict[str, Any] | None) -> tuple[list[Page], dict[str, Any]]:
    pages = list(connector.read("leads", state))
    return pages, (pages[-1].state if pages else dict(state or {}))


def _rest_paths(emulator: MarketoEmulator, since: int) -> list[str]:
    return [c.path for c in emulator.calls.list(since=since) if c.path.startswith("/rest/")]


def _ids(pages: list[Page]) -> list[int]:
    return sorted(r["id"] for p in pages for r in p.records)


def _deleted(pages: list[Page]) -> list[str]:
    return [d for p in pages for d in p.deleted]


def test_rerun_with_nothing_new_costs_one_activities_call(small: Pair) -> None:
    emulator, server = small
    with make_connector(emulator, server) as connector:
        _, state = _drain(connector, None)
        assert state["activity_types"] == [12, 13, 37]
        mark = emulator.calls.last_seq
        pages, again = _drain(connector, state)
        assert _rest_paths(emulator, mark) == ["/rest/v1/activities.json"]
        assert [p.records for p in pages] == [[]] and _deleted(pages) == []
        assert again["next_page_token"] and again["activity_types"] == [12, 13, 37]


def test_changes_and_deletes_arrive_in_the_same_read(small: Pair) -> None:
    emulator, server = small
    with make_connector(emulator, server) as connector:
        _, state = _drain(connector, None)
        emulator.edit_record("leads", "5", {"title": "部長"})
        emulator.edit_record("leads", "9", {"city": "仙台市"})
        emulator.store.delete(9)  # changed, then deleted: a tombstone, no record
        emulator.store.delete(42)
        mark = emulator.calls.last_seq
        pages, _ = _drain(connector, state)
        assert _ids(pages) == [5] and _deleted(pages) == ["9", "42"]
        assert pages[0].records[0]["title"] == "部長"
        assert _rest_paths(emulator, mark) == ["/rest/v1/activities.json", "/rest/v1/leads.json"]


def test_changes_of_unwatched_fields_fetch_nothing(small: Pair) -> None:
    emulator, server = small
    with make_connector(emulator, server, watch_fields=["title"]) as connector:
        _, state = _drain(connector, None)
        emulator.edit_record("leads", "10", {"city": "那覇市"})
        mark = emulator.calls.last_seq
        pages, _ = _drain(connector, state)
        assert _ids(pages) == [] and _rest_paths(emulator, mark) == ["/rest/v1/activities.json"]


def test_steady_read_resumes_after_each_committed_page(small: Pair) -> None:
    emulator, server = small
    with make_connector(emulator, server) as first_read:
        _, state = _drain(first_read, None)
    with make_connector(emulator, server, page_size=2) as connector:
        for lead in range(20, 27):
            emulator.edit_record("leads", str(lead), {"title": f"課長{lead}"})
        emulator.store.delete(30)
        first = next(iter(connector.read("leads", state)))  # then the run "crashes"
        rest, _ = _drain(connector, first.state)
        ids = [r["id"] for r in first.records] + [r["id"] for p in rest for r in p.records]
        assert len(first.records) == 2 and sorted(ids) == list(range(20, 27))  # none twice
        assert first.deleted + _deleted(rest) == ["30"]


def test_old_two_token_state_migrates_without_losing_changes_or_deletes(small: Pair) -> None:
    emulator, server = small
    with make_connector(emulator, server) as connector:
        _, steady = _drain(connector, None)
        # The two-endpoint reader's state after a complete run: both tokens at the end.
        old = {"next_page_token": steady["next_page_token"],
               "deleted_page_token": steady["next_page_token"],
               "last_activity_at": steady["last_activity_at"]}
        emulator.edit_record("leads", "7", {"title": "主任"})
        emulator.store.delete(8)
        pages, migrated = _drain(connector, old)
        assert _ids(pages) == [7] and _deleted(pages) == ["8"]
        assert migrated["activity_types"] == [12, 13, 37]
        assert "deleted_page_token" not in migrated
        emulator.edit_record("leads", "11", {"title": "係長"})
        mark = emulator.calls.last_seq
        pages, _ = _drain(connector, migrated)
        assert _ids(pages) == [11]
        assert _rest_paths(emulator, mark)[0] == "/rest/v1/activities.json"


def test_old_state_stopped_before_its_deletes_still_reports_them(small: Pair) -> None:
    emulator, server = small
    with make_connector(emulator, server) as connector:
        _, steady = _drain(connector, None)
        before = steady["next_page_token"]
        emulator.store.delete(12)
        emulator.edit_record("leads", "13", {"title": "専務"})
        # The old reader had committed its change pages (token past the delete and the
        # edit) but not its Get Deleted Leads pages (token still before the delete).
        _, after, _ = connector.api.lead_changes(before, ["title"], 300)
        old = {"next_page_token": after, "deleted_page_token": before,
               "last_activity_at": steady["last_activity_at"]}
        pages, migrated = _drain(connector, old)
        assert _deleted(pages) == ["12"] and _ids(pages) == []
        assert migrated["activity_types"] == [12, 13, 37]


def test_turning_deletes_on_reads_them_from_the_start_again(small: Pair) -> None:
    emulator, server = small
    emulator.store.delete(3)
    with make_connector(emulator, server, include_deleted=False) as connector:
        _, state = _drain(connector, None)
        assert state["activity_types"] == [12, 13]
    with make_connector(emulator, server) as connector:
        pages, state = _drain(connector, state)
        assert _deleted(pages) == ["3"] and state["activity_types"] == [12, 13, 37]


def test_emulator_lists_deletes_and_field_changes_in_get_lead_activities(small: Pair) -> None:
    emulator, server = small
    with api_client(emulator, server) as api:
        token = api.get("/rest/v1/activities/pagingtoken.json",
                        params={"sinceDatetime": "2000-01-01T00:00:00Z"}).json()["nextPageToken"]
        token = api.get("/rest/v1/activities.json", params={
            "nextPageToken": token, "activityTypeIds": "13,37"}).json()["nextPageToken"]
        emulator.edit_record("leads", "4", {"title": "次長"})
        emulator.store.delete(6)
        body = api.get("/rest/v1/activities.json", params={
            "nextPageToken": token, "activityTypeIds": "13,37"}).json()
    change, delete = body["result"]
    title = FIELD_BY_NAME["title"]
    assert change["activityTypeId"] == 13 and change["leadId"] == 4
    assert (change["primaryAttributeValueId"], change["primaryAttributeValue"]) == (
        title.id, title.display)
    assert {"name": "New Value", "value": "次長"} in change["attributes"]
    assert "fields" not in change  # that shape is Get Lead Changes'
    assert delete["activityTypeId"] == 37 and delete["leadId"] == 6
    assert delete["primaryAttributeValueId"] == 6 and delete["attributes"] == []
    assert body["moreResult"] is False


# -- an edge the emulator never shows: a change item that names its field only by name ------

_BASE = "https://123-ABC-456.mktorest.com"


def _ok(**body: Any) -> httpx.Response:
    return httpx.Response(200, json={"requestId": "1#1", "success": True, **body})


@respx.mock(assert_all_mocked=True)
def test_change_without_a_field_id_is_matched_by_display_name(
        respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{_BASE}/identity/oauth/token").mock(
        return_value=httpx.Response(200, json={"access_token": "t", "expires_in": 3600}))
    respx_mock.get(f"{_BASE}/rest/v1/leads/describe.json").mock(return_value=_ok(result=[
        {"id": 1, "displayName": "Id", "dataType": "integer",
         "rest": {"name": "id", "readOnly": True}},
        {"id": 25, "displayName": "Email Address", "dataType": "email",
         "rest": {"name": "email", "readOnly": False}},
        {"id": 30, "displayName": "Job Title", "dataType": "string",
         "rest": {"name": "title", "readOnly": False}}]))
    activities = respx_mock.get(f"{_BASE}/rest/v1/activities.json").mock(return_value=_ok(
        nextPageToken="T1", moreResult=False, result=[
            {"id": 1, "leadId": 7, "activityDate": "2024-01-01T00:00:00Z", "activityTypeId": 13,
             "primaryAttributeValue": "Email Address", "attributes": []},
            {"id": 2, "leadId": 8, "activityDate": "2024-01-01T00:00:01Z", "activityTypeId": 13,
             "primaryAttributeValue": "Job Title", "attributes": []}]))
    leads = respx_mock.get(f"{_BASE}/rest/v1/leads.json").mock(
        return_value=_ok(result=[{"id": 7, "email": "a@b.jp"}]))
    connector = MarketoConnector({"base_url": _BASE, "client_id": "c", "client_secret": "s",
                                  "munchkin_id": f"respx-{uuid.uuid4()}",
                                  "watch_fields": ["email"]})
    with connector:
        [page] = connector.read("leads", {"next_page_token": "T0",
                                          "activity_types": [12, 13, 37]})
    assert activities.calls[0].request.url.params["activityTypeIds"] == "12,13,37"
    assert leads.calls[0].request.url.params["filterValues"] == "7"
    assert [r["id"] for r in page.records] == [7]
    assert page.state == {"next_page_token": "T1", "last_activity_at": "2024-01-01T00:00:01Z",
                          "activity_types": [12, 13, 37]}
