"""A real ``prefect server start`` per test module, for the deploy and automation tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def prefect_api(home: Path, *, heartbeats: bool = True) -> Iterator[str]:
    """Start a Prefect server (all services on) and point this process's client at it.

    Args:
        home: PREFECT_HOME of the server.
        heartbeats: False turns flow heartbeats off: they make every sync flow last ≥ 1 s.
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )

    from renkei.demo import PrefectServer

    server = PrefectServer(home=home, port=free_port())
    try:
        url = f"{server.start()}/api"
        updates: dict[object, object] = {PREFECT_API_URL: url}
        if not heartbeats:
            updates[PREFECT_FLOWS_HEARTBEAT_FREQUENCY] = None
        with temporary_settings(updates=updates):  # type: ignore[arg-type]
            yield url
    finally:
        server.stop()
