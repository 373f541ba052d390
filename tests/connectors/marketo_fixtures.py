"""Helpers shared by the Marketo emulator and connector tests: a running emulator, a connector.

Each connector gets a fresh account name for the process-wide limiter registry, so a test's
small limits never leak into another test that happens to reuse the same port.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from connectors.marketo import MarketoConnector
from connectors.sdk import ConnectorContext, MemoryLedger
from sandbox.core import EmulatorServer
from sandbox.marketo import MarketoConfig, MarketoEmulator

__all__ = ["api_client", "make_connector", "running", "token_for"]


@contextmanager
def running(config: MarketoConfig | None = None) -> Iterator[tuple[MarketoEmulator, EmulatorServer]]:
    """A Marketo emulator served on a free loopback port."""
    emulator = MarketoEmulator(config or MarketoConfig(size=100))
    with EmulatorServer(emulator.asgi(), name="marketo") as server:
        yield emulator, server


def make_connector(emulator: MarketoEmulator, server: EmulatorServer, *,
                   ledger: MemoryLedger | None = None, **overrides: Any) -> MarketoConnector:
    """A connector for the emulator, with its own limiter account and ledger."""
    creds = emulator.credentials()
    config: dict[str, Any] = {
        "base_url": server.url, "client_id": creds["client_id"],
        "client_secret": creds["client_secret"], "munchkin_id": f"test-{uuid.uuid4()}",
        "timeout_s": 10,
    }
    config.update(overrides)
    return MarketoConnector(config, context=ConnectorContext("marketo-test",
                                                             ledger=ledger or MemoryLedger()))


def token_for(emulator: MarketoEmulator, server: EmulatorServer) -> str:
    """An access token from the emulator's Identity endpoint."""
    creds = emulator.credentials()
    response = httpx.get(f"{server.url}/identity/oauth/token", params={
        "grant_type": "client_credentials", "client_id": creds["client_id"],
        "client_secret": creds["client_secret"]})
    response.raise_for_status()
    return str(response.json()["access_token"])


def api_client(emulator: MarketoEmulator, server: EmulatorServer) -> httpx.Client:
    """An httpx client with a valid bearer token, rooted at the emulator."""
    return httpx.Client(base_url=server.url, timeout=10,
                        headers={"Authorization": f"Bearer {token_for(emulator, server)}"})
