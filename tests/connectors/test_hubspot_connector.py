"""The HubSpot connector against the HubSpot emulator over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.hubspot import HubSpotConnector
from connectors.sdk import (
    AccessDeniedError,
    AuthenticationError,
    ConnectorContext,
    ErrorCategory,
    MemoryLedger,
    RateLimitedError,
    VendorUnavailableError,
    WriteMode,
    WriteOp,
)
from sandbox.core import EmulatorServer, FaultRule
from sandbox.hubspot import HubSpotConfig, HubSpotEmulator


@pytest.fixture(scope="module")
def portal() -> Iterator[tuple[HubSpotEmulator, EmulatorServer]]:
    emulator = HubSpotEmulator(HubSpotConfig(size=600, burst_calls=0))
    with EmulatorServer(emulator.asgi(), name="hubspot") as server:
        yield emulator, server


def connect(portal: tuple[HubSpotEmulator, EmulatorServer], **overrides: Any) -> HubSpotConnector:
    emulator, server = portal
    config: dict[str, Any] = {"access_token": emulator.config.access_token,
                              "base_url": server.url, "portal_id": f"t-{uuid.uuid4()}",
                              "index_lag_s": 0, "timeout_s": 10, **overrides}
    return HubSpotConnector(config, context=ConnectorContext("hubspot-test",
                                                             ledger=MemoryLedger()))


@pytest.fixture
def hubspot(portal: tuple[HubSpotEmulator, EmulatorServer]) -> Iterator[HubSpotConnector]:
    portal[0].reset()
    with connect(portal, page_size=50) as connector:
        yield connector


def read_ids(connector: HubSpotConnector, stream: str,
             state: dict[str, Any] | None = None) -> list[str]:
    return [r["id"] for page in connector.read(stream, state) for r in page.records]


def test_full_read_delivers_every_contact_once_in_cursor_order(hubspot: HubSpotConnector) -> None:
    pages = list(hubspot.read("contacts", None))
    records = [r for p in pages for r in p.records]
    assert len(records) == len({r["id"] for r in records}) == 600
    stamps = [r["lastmodifieddate"] for r in records]
    assert stamps == sorted(stamps)
    assert records[0]["email"] and "properties" not in records[0]
    assert read_ids(hubspot, "contacts", pages[-1].state) == []


def test_many_records_on_one_instant_are_walked_by_id_without_loss(
        hubspot: HubSpotConnector, portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    emulator = portal[0]
    first = read_ids(hubspot, "contacts")
    state = list(hubspot.read("contacts", None))[-1].state
    instant = emulator.store.now_ms()  # an edit after the first read
    tied = [int(i) for i in first[:170]]  # 170 ties with page_size 50: four slices by id
    emulator.touch("contacts", tied, instant)
    emulator.calls.clear()
    again = read_ids(hubspot, "contacts", state)
    assert sorted(map(int, again)) == sorted(tied)
    tie_queries = [c for c in emulator.calls.list() if c.path.endswith("/search")]
    assert len(tie_queries) >= 4


def test_resuming_from_a_page_state_continues_right_after_it(hubspot: HubSpotConnector) -> None:
    pages = list(hubspot.read("contacts", None))
    middle = len(pages) // 2
    earlier = {r["id"] for p in pages[:middle + 1] for r in p.records}
    resumed = read_ids(hubspot, "contacts", pages[middle].state)
    assert set(resumed) == {r["id"] for p in pages[middle + 1:] for r in p.records}
    assert not earlier & set(resumed)


def test_deals_and_engagements_carry_their_contacts(hubspot: HubSpotConnector) -> None:
    deals = [r for p in hubspot.read("deals", None) for r in p.records]
    assert len(deals) == 60 and all(d["contact_ids"] for d in deals)
    engagements = [r for p in hubspot.read("engagements", None) for r in p.records]
    assert {e["engagement_type"] for e in engagements} == {"calls", "meetings", "notes", "emails"}
    stamps = [e["hs_lastmodifieddate"] for e in engagements]
    assert stamps == sorted(stamps), "merged types never go back in time"


def test_writes_give_one_result_per_op_in_order(hubspot: HubSpotConnector) -> None:
    existing = hubspot.fetch("contacts", ["1001", "1002"])
    taken = existing[1]["email"]
    results = hubspot.write("contacts", [
        WriteOp(WriteMode.UPSERT, {"email": existing[0]["email"], "jobtitle": "係長"}),
        WriteOp(WriteMode.UPSERT, {"email": "brand.new@example.co.jp", "lastname": "新井"}),
        WriteOp(WriteMode.UPSERT, {"email": "broken-address", "lastname": "誤"}),
        WriteOp(WriteMode.UPDATE, {"jobtitle": "課長"}, id="1002"),
        WriteOp(WriteMode.UPDATE, {"jobtitle": "課長"}, id="987654"),
        WriteOp(WriteMode.CREATE, {"email": "created@example.co.jp"}),
        WriteOp(WriteMode.CREATE, {"email": taken}),
    ])
    assert [(r.ok, r.created) for r in results] == [
        (True, False), (True, True), (False, False), (True, False), (False, False),
        (True, True), (False, False)]
    assert results[0].id == "1001" and results[3].id == "1002"
    assert results[2].error is not None and results[2].error.category is ErrorCategory.VALIDATION
    assert results[4].error is not None and results[4].error.category is ErrorCategory.NOT_FOUND
    duplicate = results[6].error
    assert duplicate is not None and duplicate.category is ErrorCategory.DUPLICATE
    assert "Existing ID: 1002" in duplicate.message
    assert hubspot.fetch("contacts", ["1002"])[0]["jobtitle"] == "課長"


def test_bad_token_is_an_authentication_error(
        portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    with connect(portal, access_token="pat-na1-wrong-token") as connector, \
            pytest.raises(AuthenticationError) as caught:
        connector.check()
    assert "wrong-token" not in str(caught.value) + repr(connector)


def test_403_is_access_denied(hubspot: HubSpotConnector,
                              portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    portal[0].faults.add(FaultRule("server_error", status=403, times=1))
    with pytest.raises(AccessDeniedError):
        hubspot.check()


def test_429_and_5xx_are_retried_honouring_retry_after(
        hubspot: HubSpotConnector, portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    emulator = portal[0]
    emulator.faults.add(FaultRule("rate_limit", path="/search", retry_after=0.2, times=1))
    emulator.faults.add(FaultRule("server_error", path="/search", times=1))
    emulator.calls.clear()
    assert len(read_ids(hubspot, "companies")) == len(list(emulator.store.live("companies")))
    statuses = [c.status for c in emulator.calls.list() if c.path.endswith("/search")]
    assert statuses[:3] == [429, 502, 200]


def test_exhausted_retries_surface_classified_errors(
        portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    portal[0].reset()
    with connect(portal, retry_attempts=1) as connector:
        portal[0].faults.add(FaultRule("rate_limit", retry_after=1, times=1))
        with pytest.raises(RateLimitedError) as limited:
            connector.check()
        assert limited.value.retry_after == 1
        portal[0].faults.add(FaultRule("server_error", times=1))
        with pytest.raises(VendorUnavailableError):
            connector.check()
