"""A real Prefect server for flow tests (session scope: it costs ~13 s to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


# Package scope: the server and its background services (which draw from the global
# `random`, upsetting hypothesis in later test packages) stop when tests/flows is done.
@pytest.fixture(scope="package")
def prefect_server() -> Iterator[None]:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    # The heartbeat thread makes every sync flow last >= 1 s; runs here are short.
    with prefect_test_harness(server_startup_timeout=90), \
            temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield
