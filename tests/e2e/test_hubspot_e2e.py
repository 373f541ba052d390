"""HubSpot end to end over real HTTP: a window past the 10,000-result search cap, batch
upserts, and the burst limit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.hubspot import HubSpotConnector
from connectors.sdk import ConnectorContext, MemoryLedger, WriteMode, WriteOp
from sandbox.core import EmulatorServer
from sandbox.hubspot import HubSpotConfig, HubSpotEmulator
from sandbox.seed import ANCHOR

pytestmark = pytest.mark.e2e

SIZE = 12_000


@pytest.fixture(scope="module")
def big_portal() -> Iterator[tuple[HubSpotEmulator, EmulatorServer]]:
    emulator = HubSpotEmulator(HubSpotConfig(size=SIZE, burst_calls=0))
    with EmulatorServer(emulator.asgi(), name="hubspot") as server:
        yield emulator, server


def connect(emulator: HubSpotEmulator, server: EmulatorServer, ledger: MemoryLedger,
            **overrides: Any) -> HubSpotConnector:
    config = {"access_token": emulator.config.access_token, "base_url": server.url,
              "portal_id": f"e2e-{uuid.uuid4()}", "index_lag_s": 0, **overrides}
    return HubSpotConnector(config, context=ConnectorContext("hubspot", ledger=ledger))


def test_a_window_of_more_than_10000_changes_is_read_whole_and_once(
        big_portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    emulator, server = big_portal
    emulator.reset()
    base = emulator.store.now_ms() - 60_000
    ids = sorted(r.id for r in emulator.store.live("contacts"))
    changed = ids[:10_800]
    for offset, record_id in enumerate(changed[:10_500]):  # distinct instants, one minute
        emulator.touch("contacts", [record_id], base + offset * 5)
    emulator.touch("contacts", changed[10_500:], base + 30_000)  # 300 edited in one instant
    since = {"contacts": [int(ANCHOR.timestamp() * 1000), None]}  # after every seeded record

    with httpx.Client(base_url=server.url, headers={
            "Authorization": f"Bearer {emulator.config.access_token}"}) as raw:
        window = {"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate",
                                                 "operator": "GT", "value": str(since["contacts"][0])}]}],
                  "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                  "limit": 200}
        tail = raw.post("/crm/v3/objects/contacts/search", json={**window, "after": "9900"})
        past = raw.post("/crm/v3/objects/contacts/search", json={**window, "after": "10000"})
    assert tail.json()["total"] == 10_800 and len(tail.json()["results"]) == 100
    assert "paging" not in tail.json() and past.status_code == 400, \
        "offset paging of this window stops at 10,000: the connector must not rely on it"

    emulator.calls.clear()
    with connect(emulator, server, MemoryLedger()) as connector:
        got = [r["id"] for page in connector.read("contacts", since) for r in page.records]
    assert len(got) == len(set(got)), "no record delivered twice"
    assert sorted(map(int, got)) == changed, "every changed record, and only those"
    searches = [c for c in emulator.calls.list() if c.path.endswith("/search")]
    assert all(c.status == 200 for c in searches)
    assert len(searches) <= 10_800 // 200 + 5


def test_250_contacts_upserted_in_3_calls(
        big_portal: tuple[HubSpotEmulator, EmulatorServer]) -> None:
    emulator, server = big_portal
    emulator.reset()
    existing = [r.props["email"] for r in list(emulator.store.live("contacts"))[:50]]
    emails = existing + [f"webinar{n}@example.co.jp" for n in range(200)]
    ops = [WriteOp(WriteMode.UPSERT, {"email": e, "lead_source": "ウェビナー"}) for e in emails]
    ledger = MemoryLedger()
    with connect(emulator, server, ledger) as connector:
        connector.streams()
        emulator.calls.clear()
        results = connector.write("contacts", ops)
    assert all(r.ok for r in results)
    assert [r.created for r in results] == [False] * 50 + [True] * 200
    upserts = [c for c in emulator.calls.list() if c.path.endswith("/batch/upsert")]
    assert len(upserts) == 3 == sum(1 for c in ledger.calls() if c.kind == "write")


def _small_portal(burst: int) -> HubSpotEmulator:
    return HubSpotEmulator(HubSpotConfig(size=100, burst_calls=burst, burst_window_s=1.0))


def test_429s_are_retried_within_the_budget() -> None:
    emulator = _small_portal(burst=5)
    ledger = MemoryLedger()
    with EmulatorServer(emulator.asgi(), name="hubspot") as server, \
            connect(emulator, server, ledger, page_size=20, burst_calls=100) as connector:
        got = [r["id"] for page in connector.read("contacts", None) for r in page.records]
    calls = emulator.calls.list()
    limited = [c for c in calls if c.status == 429]
    assert len(got) == len(set(got)) == 100
    assert limited, "the connector was told it may go faster than the portal allows"
    ok = [c for c in calls if c.status == 200]
    # the 7 property definitions, then 100 contacts in slices of 20 and the empty tail
    assert sum(1 for c in ok if c.path.endswith("/search")) == 6
    assert sum(1 for c in ok if "/properties/" in c.path) == 7
    assert len(calls) == len(ledger.calls()) <= 2 * len(ok), "at most one 429 per call"


def test_a_limiter_set_to_the_burst_limit_never_meets_a_429() -> None:
    emulator = _small_portal(burst=5)
    with EmulatorServer(emulator.asgi(), name="hubspot") as server, \
            connect(emulator, server, MemoryLedger(), page_size=20, burst_calls=5,
                    burst_window_s=1.0) as connector:
        assert len([r for p in connector.read("contacts", None) for r in p.records]) == 100
    assert {c.status for c in emulator.calls.list()} == {200}
