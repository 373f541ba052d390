"""kintone's limits: concurrent requests per domain and requests per app per day.

* Concurrency [S: cybozu.dev vendor page; the SonicGarden failure injector, which says it
  mimics production]: 100 requests at once per domain; the excess answers 429 GAIA_TO04
  "APIの同時リクエスト数が上限を超えています。" with ``X-Cybozu-Error: GAIA_TO04``,
  ``X-ConcurrencyLimit-Limit`` and ``X-ConcurrencyLimit-Running``.
* Daily requests [S: cybozu.dev, r3it]: 10,000 per app per day (standard course), reset at
  09:00 JST (= 00:00 UTC). Going over sends the administrator a notice; calls keep working,
  so the sandbox only counts (``GET /_sandbox/usage``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.kintone.errors import error_body

if TYPE_CHECKING:
    from sandbox.core.calls import CallLog

__all__ = ["ConcurrencyGate", "DailyUsage"]


class DailyUsage:
    """Requests per app for the current kintone day (days turn at 00:00 UTC)."""

    def __init__(self, limit: int = 10_000, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> None:
        self.limit = limit
        self._clock = clock
        self._day = ""
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()

    def _roll(self) -> None:
        day = self._clock().astimezone(UTC).date().isoformat()
        if day != self._day:
            self._day, self._counts = day, {}

    def count(self, app_id: int) -> int:
        """Count one request against ``app_id``; returns the app's count today."""
        with self._lock:
            self._roll()
            self._counts[app_id] = self._counts.get(app_id, 0) + 1
            return self._counts[app_id]

    def set_count(self, app_id: int, used: int) -> None:
        """Pretend ``used`` requests were made today (for quota tests)."""
        with self._lock:
            self._roll()
            self._counts[app_id] = used

    def snapshot(self) -> dict[str, Any]:
        """``{"day", "limit", "apps": {"1": {"count", "over_limit"}}}``."""
        with self._lock:
            self._roll()
            return {"day": self._day, "limit": self.limit, "apps": {
                str(a): {"count": n, "over_limit": n > self.limit}
                for a, n in sorted(self._counts.items())}}

    def reset(self) -> None:
        """Forget today's counts."""
        with self._lock:
            self._day, self._counts = "", {}


class ConcurrencyGate:
    """ASGI wrapper that refuses API calls beyond ``limit`` in flight at once.

    It sits outside the sandbox middleware, so time spent in an injected ``slow`` fault
    counts as in flight, as it would on a busy kintone; refused calls are still logged.

    Args:
        app: The emulator's ASGI app (sandbox middleware included); set before serving.
        limit: Concurrent requests allowed (kintone: 100).
        calls: The call log to record refusals in.
    """

    def __init__(self, app: ASGIApp | None, limit: int, calls: CallLog) -> None:
        self.app = app
        self.limit = limit
        self.calls = calls
        self.running = 0
        self.peak = 0
        self.rejected = 0
        self._lock = threading.Lock()

    def stats(self) -> dict[str, int]:
        """Limit, running now, peak, and refusals so far."""
        with self._lock:
            return {"limit": self.limit, "running": self.running, "peak": self.peak,
                    "rejected": self.rejected}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("ConcurrencyGate.app is not set")
        if scope["type"] != "http" or not scope.get("path", "").startswith("/k/"):
            await self.app(scope, receive, send)
            return
        with self._lock:
            over = self.running >= self.limit
            if over:
                self.rejected += 1
                running = self.running + 1
            else:
                self.running += 1
                self.peak = max(self.peak, self.running)
        if over:
            await self._refuse(scope, send, running)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self.running -= 1

    async def _refuse(self, scope: Scope, send: Send, running: int) -> None:
        started = time.time()
        body = json.dumps(error_body("GAIA_TO04", "APIの同時リクエスト数が上限を超えています。"),
                          ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json;charset=utf-8"),
                   (b"content-length", str(len(body)).encode()),
                   (b"x-cybozu-error", b"GAIA_TO04"),
                   (b"x-concurrencylimit-limit", str(self.limit).encode()),
                   (b"x-concurrencylimit-running", str(running).encode())]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        self.calls.record(scope["method"], scope["path"], query, 429, "GAIA_TO04", at=started)
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
