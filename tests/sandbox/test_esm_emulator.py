"""The esm emulator: bearer token, required time zone, both documented path prefixes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.core import EmulatorServer
from sandbox.esm import EsmConfig, EsmEmulator
from sandbox.launcher import _SPECS as SPECS
from sandbox.launcher import load_emulators


@pytest.fixture(scope="module")
def esm() -> Iterator[tuple[EsmEmulator, httpx.Client]]:
    emulator = EsmEmulator(EsmConfig(size=100))
    with EmulatorServer(emulator.asgi(), name="esm") as server, \
            httpx.Client(base_url=server.url) as client:
        yield emulator, client


def headers(emulator: EsmEmulator, zone: str | None = "Asia/Tokyo") -> dict[str, str]:
    out = {"Authorization": f"Bearer {emulator.config.api_token}"}
    if zone:
        out["X-ESM-TIMEZONE"] = zone
    return out


@pytest.mark.parametrize("prefix", ["esm-api", "sheet-fs"])
def test_both_documented_prefixes_serve_the_same_record(
        esm: tuple[EsmEmulator, httpx.Client], prefix: str) -> None:
    emulator, client = esm
    first = min(emulator.store.rows["businesscard"])
    answer = client.get(f"/{prefix}/renkei-sandbox/pub/esms/v1/sheet/businesscard/{first}",
                        headers=headers(emulator))
    assert answer.status_code == 200
    assert answer.json()["business_cards.business_card.email"] == \
        emulator.store.rows["businesscard"][first]["email"]


def test_the_time_zone_header_is_required_and_applied(
        esm: tuple[EsmEmulator, httpx.Client]) -> None:
    emulator, client = esm
    url = "/esm-api/renkei-sandbox/pub/esms/v1/sheet/customer/2"
    missing = client.get(url, headers=headers(emulator, None))
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MISSING_TIMEZONE"
    jst = client.get(url, headers=headers(emulator)).json()["customers.customer.updated_at"]
    utc = client.get(url, headers=headers(emulator, "UTC")).json()[
        "customers.customer.updated_at"]
    assert (jst, utc) == ("2026/01/05 09:00:00", "2026/01/05 00:00:00")


def test_a_wrong_token_and_an_oversized_page_are_refused(
        esm: tuple[EsmEmulator, httpx.Client]) -> None:
    emulator, client = esm
    url = "/esm-api/renkei-sandbox/pub/esms/v1/search/businesscard"
    bad = client.post(url, json={}, headers={**headers(emulator), "Authorization": "Bearer x"})
    assert bad.status_code == 401
    big = client.post(url, json={"page_size": 101}, headers=headers(emulator))
    assert big.status_code == 400
    ok = client.post(url, json={"page_size": 10, "page": 3}, headers=headers(emulator)).json()
    assert ok["total"] == 25 and len(ok["ids"]) == 5 and "records" not in ok


def test_the_launcher_knows_esm_on_its_own_port() -> None:
    load_emulators(["sandbox.esm"])
    assert SPECS["esm"].default_port == 18092 and not SPECS["esm"].tls
