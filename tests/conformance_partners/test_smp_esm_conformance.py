"""The conformance kit against the SMP and eセールスマネージャー connectors on their emulators."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.esm import EsmConnector
from connectors.sdk.conformance import ConformanceSuite
from connectors.smp import SmpConnector
from sandbox.core import EmulatorServer, FaultRule
from sandbox.esm import EsmConfig, EsmEmulator
from sandbox.smp import SmpConfig, SmpEmulator


@pytest.fixture(scope="module")
def smp_sandbox() -> Iterator[tuple[SmpEmulator, str]]:
    emulator = SmpEmulator(SmpConfig(size=120))
    with EmulatorServer(emulator.asgi(), name="smp") as server:
        yield emulator, server.url


@pytest.fixture(scope="module")
def esm_sandbox() -> Iterator[tuple[EsmEmulator, str]]:
    emulator = EsmEmulator(EsmConfig(size=120))
    with EmulatorServer(emulator.asgi(), name="esm") as server:
        yield emulator, server.url


class TestSmpConformance(ConformanceSuite):
    connector_class = SmpConnector

    @pytest.fixture
    def connector_config(self, smp_sandbox: tuple[SmpEmulator, str]) -> dict[str, Any]:
        emulator, url = smp_sandbox
        emulator.reset()
        return {"base_url": url, **emulator.credentials(), "page_size": 25}

    @pytest.fixture
    def bad_credentials_config(self, connector_config: dict[str, Any]) -> dict[str, Any]:
        return {**connector_config, "password": "wrong-smp-password-0000"}

    @pytest.fixture
    def write_samples(self) -> dict[str, list[dict[str, Any]]]:
        return {"visitors": [{"Mail": "conf-a@example.co.jp", "Name1": "試験"},
                             {"Mail": "conf-b@example.co.jp", "Name1": "確認"}]}

    @pytest.fixture
    def inject_retriable_failure(self, smp_sandbox: tuple[SmpEmulator, str]) -> Callable[[],
                                                                                      None]:
        return lambda: smp_sandbox[0].faults.add(FaultRule("server_error", path="/visitor"))

    @pytest.fixture
    def inject_permanent_failure(self, smp_sandbox: tuple[SmpEmulator, str]) -> Callable[[],
                                                                                      None]:
        return lambda: smp_sandbox[0].faults.add(FaultRule("server_error", status=403))

    @pytest.fixture
    def vendor_call_count(self, smp_sandbox: tuple[SmpEmulator, str]) -> Callable[[], int]:
        return lambda: len(smp_sandbox[0].calls)


class TestEsmConformance(ConformanceSuite):
    connector_class = EsmConnector
    streams = ("businesscards", "customers")  # activities start empty in the sandbox

    @pytest.fixture
    def connector_config(self, esm_sandbox: tuple[EsmEmulator, str]) -> dict[str, Any]:
        emulator, url = esm_sandbox
        emulator.reset()
        return {"base_url": url, **emulator.credentials(), "page_size": 5}

    @pytest.fixture
    def bad_credentials_config(self, connector_config: dict[str, Any]) -> dict[str, Any]:
        return {**connector_config, "api_token": "wrong-esm-token-0000"}

    @pytest.fixture
    def write_samples(self) -> dict[str, list[dict[str, Any]]]:
        return {"businesscards": [{"last_name": "試験", "email": "conf-a@example.co.jp"},
                                  {"last_name": "確認", "email": "conf-b@example.co.jp"}]}

    @pytest.fixture
    def inject_retriable_failure(self, esm_sandbox: tuple[EsmEmulator, str]) -> Callable[[],
                                                                                      None]:
        return lambda: esm_sandbox[0].faults.add(FaultRule("server_error", path="/search"))

    @pytest.fixture
    def inject_permanent_failure(self, esm_sandbox: tuple[EsmEmulator, str]) -> Callable[[],
                                                                                      None]:
        return lambda: esm_sandbox[0].faults.add(FaultRule("server_error", status=403))

    @pytest.fixture
    def vendor_call_count(self, esm_sandbox: tuple[EsmEmulator, str]) -> Callable[[], int]:
        return lambda: len(esm_sandbox[0].calls)
