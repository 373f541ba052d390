"""The Marketo connector, against the Marketo emulator over HTTP, passes the whole suite."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.marketo import MarketoConnector
from connectors.sdk.conformance import ConformanceSuite
from sandbox.core import EmulatorServer, FaultRule
from sandbox.marketo import MarketoConfig, MarketoEmulator
from tests.connectors.marketo_fixtures import running


@pytest.fixture(scope="module")
def marketo() -> Iterator[tuple[MarketoEmulator, EmulatorServer]]:
    with running(MarketoConfig(size=25)) as pair:
        yield pair


class TestMarketoConformance(ConformanceSuite):
    connector_class = MarketoConnector

    @pytest.fixture
    def connector_config(self, marketo: tuple[MarketoEmulator, EmulatorServer]) -> dict[str, Any]:
        emulator, server = marketo
        emulator.faults.clear()
        creds = emulator.credentials()
        return {"base_url": server.url, "client_id": creds["client_id"],
                "client_secret": creds["client_secret"], "munchkin_id": f"conf-{uuid.uuid4()}",
                "page_size": 10, "timeout_s": 10, "retry_attempts": 3}

    @pytest.fixture
    def bad_credentials_config(self, connector_config: dict[str, Any]) -> dict[str, Any]:
        return {**connector_config, "client_secret": "wrong-marketo-secret-42"}

    @pytest.fixture
    def write_samples(self) -> dict[str, list[dict[str, Any]]]:
        run = uuid.uuid4().hex[:6]
        return {"leads": [{"email": f"conf-{run}-{n}@example.com", "firstName": f"Conf{n}",
                           "lastName": "適合"} for n in range(3)]}

    @pytest.fixture
    def inject_retriable_failure(
            self, marketo: tuple[MarketoEmulator, EmulatorServer]) -> Callable[[], None]:
        return lambda: marketo[0].faults.add(FaultRule("server_error", times=1))

    @pytest.fixture
    def inject_permanent_failure(
            self, marketo: tuple[MarketoEmulator, EmulatorServer]) -> Callable[[], None]:
        return lambda: marketo[0].faults.add(FaultRule("quota", times=1))

    @pytest.fixture
    def vendor_call_count(
            self, marketo: tuple[MarketoEmulator, EmulatorServer]) -> Callable[[], int]:
        return lambda: len(marketo[0].calls)
