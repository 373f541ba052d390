"""The subscription's API limits, enforced for real: rate window, concurrency, daily quota.

Facts relied on (``rest-api.md``, ``error-codes.md``, ``marketo-integration-best-practices.md``)
[C]: 100 calls per 20 s per instance (606 "Max rate limit '%s' exceeded with in '%s' secs"),
10 calls in flight at once (615 "Concurrent access limit reached"), a daily quota of usually
50,000 calls resetting at 12:00 AM CST (607 "Daily quota reached"); calls failing with 601,
602, 604, 605, 608 or 611 count against neither the quota nor the rate limit.

Choices where the docs are silent [U]: a call refused with 606 or 615 does not enter the rate
window (so a well-behaved client recovers once the window slides), but every call that is not
starred above counts against the daily quota, refused ones included.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["NOT_COUNTED", "LimitConfig", "LimitGate", "Refusal"]

NOT_COUNTED = frozenset({"601", "602", "604", "605", "608", "611"})
"""Codes whose calls count against neither the quota nor the rate window."""

_CST_OFFSET_S = -6 * 3600


@dataclass(frozen=True)
class LimitConfig:
    """Limit knobs (small values make tests fast).

    Attributes:
        rate_calls: Calls allowed per ``rate_window_s`` (0: unlimited).
        rate_window_s: Length of the sliding window.
        concurrency: Calls in flight at once (0: unlimited).
        daily_quota: Calls per day (0: unlimited).
    """

    rate_calls: int = 100
    rate_window_s: float = 20.0
    concurrency: int = 10
    daily_quota: int = 50_000


@dataclass(frozen=True)
class Refusal:
    """Why the gate refused a call: the vendor code and message."""

    code: str
    message: str


class LimitGate:
    """Admits or refuses API calls as the subscription's limits say.

    Args:
        config: The limits.
        clock: Wall clock in epoch seconds (the quota day follows US Central Standard Time).

    Example:
        >>> gate = LimitGate(LimitConfig(rate_calls=1, rate_window_s=60))
        >>> gate.enter() is None, gate.enter().code
        (True, '606')
    """

    def __init__(self, config: LimitConfig, clock: Callable[[], float] | None = None):
        import time

        self.config = config
        self._clock = clock or time.time
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self._in_flight = 0
        self._day = self._day_of(self._clock())
        self.used_today = 0

    @staticmethod
    def _day_of(ts: float) -> int:
        return int((ts + _CST_OFFSET_S) // 86400)

    def enter(self) -> Refusal | None:
        """Try to start a call. On ``None`` the caller must :meth:`leave` when done.

        Checks in this order: daily quota (607), rate window (606), concurrency (615).
        """
        cfg = self.config
        with self._lock:
            now = self._clock()
            day = self._day_of(now)
            if day != self._day:
                self._day, self.used_today = day, 0
            if cfg.daily_quota and self.used_today >= cfg.daily_quota:
                return Refusal("607", "Daily quota reached")
            if cfg.rate_calls:
                while self._window and self._window[0] <= now - cfg.rate_window_s:
                    self._window.popleft()
                if len(self._window) >= cfg.rate_calls:
                    return Refusal("606", f"Max rate limit '{cfg.rate_calls}' exceeded with in "
                                          f"'{cfg.rate_window_s:g}' secs")
            if cfg.concurrency and self._in_flight >= cfg.concurrency:
                return Refusal("615", "Concurrent access limit reached")
            self._in_flight += 1
            if cfg.rate_calls:
                self._window.append(now)
            return None

    def leave(self, code: str | None) -> None:
        """End an admitted call; ``code`` is the vendor error it answered, if any."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if code in NOT_COUNTED and self._window:
                self._window.pop()  # the starred codes do not count against the rate limit

    def count(self, code: str | None) -> None:
        """Count a finished call against the daily quota unless its code is exempt."""
        if code in NOT_COUNTED:
            return
        with self._lock:
            self.used_today += 1

    def reset(self) -> None:
        """Forget every call (a new day, an empty window, nothing in flight)."""
        with self._lock:
            self._window.clear()
            self._in_flight = 0
            self.used_today = 0

    def snapshot(self) -> dict[str, float]:
        """Current usage, for the inspection endpoint."""
        with self._lock:
            return {"used_today": self.used_today, "in_flight": self._in_flight,
                    "window_calls": len(self._window)}
