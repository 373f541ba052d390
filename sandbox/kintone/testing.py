"""Helpers to run the kintone emulator in tests and point clients at it.

Example:
    >>> with running_emulator(KintoneSettings(size=100)) as (emulator, server):  # doctest: +SKIP
    ...     headers = token_headers(1)
    ...     httpx.get(f"{server.url}/k/v1/records.json", params={"app": 1}, headers=headers)
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager

from sandbox.core.server import EmulatorServer
from sandbox.kintone.app import KintoneEmulator, KintoneSettings
from sandbox.kintone.auth import API_TOKENS, LOGIN, PASSWORD

__all__ = ["password_headers", "running_emulator", "token_headers"]


@contextmanager
def running_emulator(settings: KintoneSettings | None = None
                     ) -> Iterator[tuple[KintoneEmulator, EmulatorServer]]:
    """Serve a fresh emulator over plain HTTP on a free loopback port for the ``with`` block."""
    emulator = KintoneEmulator(settings or KintoneSettings(size=100))
    try:
        with EmulatorServer(emulator.asgi(), name="kintone", port=0) as server:
            yield emulator, server
    finally:
        emulator.close()


def token_headers(*apps: int) -> dict[str, str]:
    """``X-Cybozu-API-Token`` with the sandbox tokens of ``apps``, comma-joined."""
    return {"X-Cybozu-API-Token": ",".join(API_TOKENS[a] for a in apps)}


def password_headers(login: str = LOGIN, password: str = PASSWORD) -> dict[str, str]:
    """``X-Cybozu-Authorization`` for password authentication."""
    raw = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"X-Cybozu-Authorization": raw}
