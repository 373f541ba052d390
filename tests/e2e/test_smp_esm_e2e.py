"""SMP and eセールスマネージャー connectors against their emulators over real HTTP (issue #7)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.esm import EsmConnector
from connectors.sdk import (
    AuthenticationError,
    ConnectorContext,
    ErrorCategory,
    MemoryLedger,
    RetriableError,
    WriteMode,
    WriteOp,
)
from connectors.smp import SmpConnector
from sandbox.core import EmulatorServer, FaultRule
from sandbox.esm import EsmConfig, EsmEmulator
from sandbox.smp import SmpConfig, SmpEmulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def smp_server() -> Iterator[tuple[SmpEmulator, str]]:
    emulator = SmpEmulator(SmpConfig(size=300))
    with EmulatorServer(emulator.asgi(), name="smp") as server:
        yield emulator, server.url


@pytest.fixture(scope="module")
def esm_server() -> Iterator[tuple[EsmEmulator, str]]:
    emulator = EsmEmulator(EsmConfig(size=300))
    with EmulatorServer(emulator.asgi(), name="esm") as server:
        yield emulator, server.url


@pytest.fixture
def smp(smp_server: tuple[SmpEmulator, str]) -> Iterator[tuple[SmpEmulator, SmpConnector]]:
    emulator, url = smp_server
    emulator.reset()
    config = {"base_url": url, **emulator.credentials(), "page_size": 120}
    with SmpConnector(config, context=ConnectorContext("smp", MemoryLedger())) as connector:
        yield emulator, connector


@pytest.fixture
def esm(esm_server: tuple[EsmEmulator, str]) -> Iterator[tuple[EsmEmulator, EsmConnector]]:
    emulator, url = esm_server
    emulator.reset()
    config = {"base_url": url, **emulator.credentials(), "page_size": 20}
    with EsmConnector(config, context=ConnectorContext("esm", MemoryLedger())) as connector:
        yield emulator, connector


def read(connector: Any, stream: str, state: Any = None) -> tuple[list[dict[str, Any]], Any]:
    records: list[dict[str, Any]] = []
    for page in connector.read(stream, state):
        records += page.records
        state = page.state
    return records, state


def ledger_calls(connector: Any) -> int:
    ledger = connector.context.ledger
    assert isinstance(ledger, MemoryLedger)
    return len(ledger.calls())


# -- SMP --------------------------------------------------------------------------------------

def test_smp_reads_every_visitor_then_only_changes(smp: tuple[SmpEmulator, Any]) -> None:
    emulator, connector = smp
    records, state = read(connector, "visitors")
    assert sorted(int(r["Id"]) for r in records) == list(range(1, 301))
    assert records[0]["Mail"] == emulator.store.visitors[int(records[0]["Id"])]["Mail"]
    # 300 visitors in pages of 120: 3 searches, plus the token call.
    assert emulator.calls.count(path_prefix="/services/rest/visitor") == 3
    assert read(connector, "visitors", state)[0] == []
    emulator.edit_record("visitor", "7", {"Position": "統括本部長"})
    changed, _ = read(connector, "visitors", state)
    assert [(r["Id"], r["Position"]) for r in changed] == [("7", "統括本部長")]
    assert ledger_calls(connector) == len(emulator.calls)


def test_smp_upserts_in_batches_of_100_with_per_record_results(
        smp: tuple[SmpEmulator, Any]) -> None:
    emulator, connector = smp
    existing = emulator.store.visitors[5]["Mail"]
    ops = [WriteOp(WriteMode.UPSERT, {"Mail": f"new{i}@example.co.jp", "Name1": "新規"})
           for i in range(148)]
    ops.insert(10, WriteOp(WriteMode.UPSERT, {"Mail": "x@reject.invalid"}))
    ops.insert(20, WriteOp(WriteMode.UPSERT, {"Mail": existing, "Position": "課長"}))
    before = emulator.calls.count(path_prefix="/services/rest/visitor", method="PUT")
    results = connector.write("visitors", ops)
    assert emulator.calls.count(path_prefix="/services/rest/visitor", method="PUT") == before + 2
    assert len(results) == 150
    assert results[10].error is not None and results[10].error.category == \
        ErrorCategory.VALIDATION and not results[10].ok
    assert results[20].ok and results[20].id == "5" and not results[20].created
    assert emulator.store.visitors[5]["Position"] == "課長"
    created = [r for r in results if r.ok and r.created]
    assert len(created) == 148
    assert emulator.store.visitors[int(created[0].id or 0)]["Mail"] == "new0@example.co.jp"
    update = connector.write("visitors", [WriteOp(WriteMode.UPDATE, {"Name2": "花子"}, id="3")])
    assert update[0].ok and emulator.store.visitors[3]["Name2"] == "花子"


def test_smp_survives_token_expiry_5xx_and_rate_limits(smp: tuple[SmpEmulator, Any]) -> None:
    emulator, connector = smp
    connector.check()
    emulator.expire_tokens()
    emulator.faults.add(FaultRule("server_error", path="/visitor", times=1))
    emulator.faults.add(FaultRule("rate_limit", path="/visitor", after=1, times=1,
                                  retry_after=0.05))
    records, _ = read(connector, "visitors")
    assert len(records) == 300
    codes = [c.vendor_code for c in emulator.calls.list() if c.vendor_code]
    assert {"TOKEN_EXPIRED", "SERVICE_UNAVAILABLE", "TOO_MANY_REQUESTS"} <= set(codes)


def test_smp_wrong_secret_key_is_an_authentication_error(
        smp_server: tuple[SmpEmulator, str]) -> None:
    emulator, url = smp_server
    config = {"base_url": url, **emulator.credentials(), "secret_key": "wrong-secret-key"}
    with SmpConnector(config) as connector, pytest.raises(AuthenticationError) as caught:
        connector.check()
    assert not isinstance(caught.value, RetriableError)
    assert "wrong-secret-key" not in str(caught.value) + repr(connector)


# -- eセールスマネージャー -------------------------------------------------------------------

def test_esm_reads_business_cards_page_by_page_then_only_changes(
        esm: tuple[EsmEmulator, Any]) -> None:
    emulator, connector = esm
    records, state = read(connector, "businesscards")
    assert len(records) == 75 == len(emulator.store.rows["businesscard"])
    assert {"email", "last_name", "updated_at"} <= set(records[0])  # prefix stripped
    assert emulator.calls.count(path_prefix="/esm-api/renkei-sandbox/pub/esms/v1/search") == 4
    assert read(connector, "businesscards", state)[0] == []
    emulator.edit_record("businesscard", records[3]["id"], {"position": "統括本部長"})
    changed, _ = read(connector, "businesscards", state)
    assert [(r["id"], r["position"]) for r in changed] == [(records[3]["id"], "統括本部長")]
    assert len(read(connector, "customers")[0]) == 30
    assert ledger_calls(connector) == len(emulator.calls)


def test_esm_writes_one_record_per_call_with_per_record_results(
        esm: tuple[EsmEmulator, Any]) -> None:
    emulator, connector = esm
    first = emulator.list_records("businesscard", offset=0, limit=1)[0][0]["id"]
    ops = [WriteOp(WriteMode.CREATE, {"last_name": "山田", "email": "yamada@example.co.jp"}),
           WriteOp(WriteMode.CREATE, {"email": "no-last-name@example.co.jp"}),
           WriteOp(WriteMode.UPDATE, {"position": "課長"}, id=first),
           WriteOp(WriteMode.UPDATE, {"position": "課長"}, id="999999")]
    results = connector.write("businesscards", ops)
    assert [r.ok for r in results] == [True, False, True, False]
    assert results[1].error is not None and results[1].error.category == ErrorCategory.VALIDATION
    assert results[3].error is not None and results[3].error.category == ErrorCategory.NOT_FOUND
    assert results[0].created and results[2].id == first and not results[2].created
    stored = emulator.get_record("businesscard", str(results[0].id))
    assert stored is not None and stored["business_cards.business_card.email"] == \
        "yamada@example.co.jp"
    assert emulator.calls.count(path_prefix="/esm-api/renkei-sandbox/pub/esms/v1/sheet") == 4


def test_esm_rate_limit_is_retried_and_a_bad_token_is_not(
        esm: tuple[EsmEmulator, Any], esm_server: tuple[EsmEmulator, str]) -> None:
    emulator, connector = esm
    emulator.faults.add(FaultRule("rate_limit", path="/search", times=1, retry_after=0.05))
    assert len(read(connector, "businesscards")[0]) == 75
    config = {"base_url": esm_server[1], "tenant": "renkei-sandbox", "api_token": "bad-token"}
    before = len(emulator.calls)
    with EsmConnector(config) as bad, pytest.raises(AuthenticationError):
        bad.check()
    assert len(emulator.calls) == before + 1  # refused once, not retried
