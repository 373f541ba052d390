"""The SMP emulator speaks the documented protocol: signed calls, search limits, XML."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.core import EmulatorServer
from sandbox.launcher import _SPECS as SPECS
from sandbox.launcher import load_emulators
from sandbox.smp import SmpConfig, SmpEmulator, sign


@pytest.fixture(scope="module")
def smp() -> Iterator[tuple[SmpEmulator, httpx.Client]]:
    emulator = SmpEmulator(SmpConfig(size=100))
    with EmulatorServer(emulator.asgi(), name="smp") as server, \
            httpx.Client(base_url=server.url + "/services/rest") as client:
        yield emulator, client


def signed(emulator: SmpEmulator, params: dict[str, str]) -> dict[str, str]:
    return {**params, "api_sig": sign(params, emulator.config.secret_key)}


def token(emulator: SmpEmulator, client: httpx.Client) -> str:
    key = emulator.config.api_key
    sig = sign({"api_key": key, "password": emulator.config.password},
               emulator.config.secret_key)
    answer = client.get("/authentication", params={"api_key": key, "api_sig": sig})
    assert answer.status_code == 200
    text = answer.text
    return text[text.index("<Token>") + 7:text.index("</Token>")]


def test_search_needs_a_valid_signature(smp: tuple[SmpEmulator, httpx.Client]) -> None:
    emulator, client = smp
    params = {"api_key": emulator.config.api_key, "token": token(emulator, client),
              "limit": "10"}
    assert client.get("/visitor", params=signed(emulator, params)).status_code == 200
    tampered = {**signed(emulator, params), "limit": "11"}
    answer = client.get("/visitor", params=tampered)
    assert answer.status_code == 401 and "INVALID_SIGNATURE" in answer.text


def test_a_password_in_the_url_is_refused(smp: tuple[SmpEmulator, httpx.Client]) -> None:
    emulator, client = smp
    params = {"api_key": emulator.config.api_key, "password": emulator.config.password}
    assert client.get("/authentication", params=signed(emulator, params)).status_code == 401


def test_limit_over_1000_is_refused_and_count_reports_totals(
        smp: tuple[SmpEmulator, httpx.Client]) -> None:
    emulator, client = smp
    base = {"api_key": emulator.config.api_key, "token": token(emulator, client)}
    too_many = client.get("/visitor", params=signed(emulator, {**base, "limit": "1001"}))
    assert too_many.status_code == 400
    page = client.get("/visitor", params=signed(emulator, {**base, "limit": "30", "offset": "90",
                                                           "count": "1"}))
    assert 'count="10"' in page.text and 'countAll="100"' in page.text


def test_the_launcher_knows_smp_on_its_own_port() -> None:
    load_emulators(["sandbox.smp"])
    assert SPECS["smp"].default_port == 18091 and not SPECS["smp"].tls
