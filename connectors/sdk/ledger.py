"""The API-call ledger: every HTTP call a connector makes, for quotas, reports and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ApiCall:
    """One HTTP exchange with a vendor (retries and token requests count separately).

    Attributes:
        connection: The connection name from the project config (``marketo``).
        method: HTTP method.
        path: URL path without the query string (query strings may hold tokens).
        status: HTTP status, or 0 when no response arrived (timeout, reset).
        duration_s: Wall time of the exchange.
        kind: ``read``, ``write``, ``auth`` or ``other``, as the connector declared it.
    """

    connection: str
    method: str
    path: str
    status: int
    duration_s: float
    kind: str = "other"


class Ledger(Protocol):
    """Anything that can record API calls."""

    def record(self, call: ApiCall) -> None: ...


class MemoryLedger:
    """A thread-safe in-memory ledger; the engine drains it into the state store per run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []

    def record(self, call: ApiCall) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self, connection: str | None = None) -> list[ApiCall]:
        """A copy of the recorded calls, optionally for one connection."""
        with self._lock:
            return [c for c in self._calls if connection is None or c.connection == connection]

    def counts(self) -> Counter[tuple[str, str]]:
        """Calls per (connection, kind)."""
        with self._lock:
            return Counter((c.connection, c.kind) for c in self._calls)

    def drain(self) -> list[ApiCall]:
        """Remove and return everything recorded so far."""
        with self._lock:
            calls, self._calls = self._calls, []
            return calls
