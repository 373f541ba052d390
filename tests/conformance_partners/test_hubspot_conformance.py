"""The HubSpot connector, against the HubSpot emulator over HTTP, passes the whole kit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.hubspot import HubSpotConnector
from connectors.sdk.conformance import ConformanceSuite
from sandbox.core import EmulatorServer, FaultRule
from sandbox.hubspot import HubSpotConfig, HubSpotEmulator


@pytest.fixture(scope="module")
def hubspot_portal() -> Iterator[tuple[HubSpotEmulator, EmulatorServer]]:
    emulator = HubSpotEmulator(HubSpotConfig(size=120, burst_calls=0))
    with EmulatorServer(emulator.asgi(), name="hubspot") as server:
        yield emulator, server


class TestHubSpotConformance(ConformanceSuite):
    connector_class = HubSpotConnector

    @pytest.fixture
    def connector_config(
            self, hubspot_portal: tuple[HubSpotEmulator, EmulatorServer]) -> dict[str, Any]:
        emulator, server = hubspot_portal
        emulator.faults.clear()
        return {"access_token": emulator.config.access_token, "base_url": server.url,
                "portal_id": f"conf-{uuid.uuid4()}", "page_size": 20, "index_lag_s": 0,
                "timeout_s": 10, "retry_attempts": 3}

    @pytest.fixture
    def bad_credentials_config(self, connector_config: dict[str, Any]) -> dict[str, Any]:
        return {**connector_config, "access_token": "pat-na1-wrong-hubspot-token-42"}

    @pytest.fixture
    def write_samples(self) -> dict[str, list[dict[str, Any]]]:
        run = uuid.uuid4().hex[:6]
        return {"contacts": [{"email": f"conf-{run}-{n}@example.com", "firstname": f"Conf{n}",
                              "lastname": "適合"} for n in range(3)],
                "companies": [{"name": f"適合{run}{n}株式会社", "domain": f"c{run}{n}.example.jp"}
                              for n in range(2)]}

    @pytest.fixture
    def inject_retriable_failure(
            self, hubspot_portal: tuple[HubSpotEmulator, EmulatorServer]) -> Callable[[], None]:
        return lambda: hubspot_portal[0].faults.add(FaultRule("server_error", times=1))

    @pytest.fixture
    def inject_permanent_failure(
            self, hubspot_portal: tuple[HubSpotEmulator, EmulatorServer]) -> Callable[[], None]:
        return lambda: hubspot_portal[0].faults.add(FaultRule("server_error", status=403,
                                                              times=1))

    @pytest.fixture
    def vendor_call_count(
            self, hubspot_portal: tuple[HubSpotEmulator, EmulatorServer]) -> Callable[[], int]:
        return lambda: len(hubspot_portal[0].calls)
