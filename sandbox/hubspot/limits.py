"""The portal's API limits: a rolling 10-second burst window and a daily quota.

Private apps get 100 calls per 10 s on Free/Starter and 190 on Professional/Enterprise
[C: HubSpot changelog "Increasing our API limits"]; the policy is named
``TEN_SECONDLY_ROLLING``, the daily one ``DAILY`` [S]. Every answer carries
``X-HubSpot-RateLimit-Max``, ``-Remaining`` and ``-Interval-Milliseconds`` [S] and, for
private apps, ``X-HubSpot-RateLimit-Daily`` and ``-Daily-Remaining`` [C: changelog
2018-11-06]. A refused call does not enter the window [U]; ``Retry-After`` says when the
oldest call leaves it [U: clients read it, HubSpot's docs do not promise it].
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BurstGate", "Refusal"]


@dataclass(frozen=True)
class Refusal:
    """Why a call was refused: the policy and the seconds until a retry can succeed."""

    policy: str
    retry_after_s: float


class BurstGate:
    """Admits calls within the burst window and the daily quota.

    Args:
        calls: Calls per window (0: unlimited).
        window_s: Window length (10 s).
        daily: Calls per day (0: unlimited).
        clock: Epoch seconds.

    Example:
        >>> gate = BurstGate(calls=1, window_s=10, daily=0)
        >>> gate.enter() is None, gate.enter().policy
        (True, 'TEN_SECONDLY_ROLLING')
    """

    def __init__(self, *, calls: int, window_s: float, daily: int,
                 clock: Callable[[], float] = time.time):
        self.calls, self.window_s, self.daily = calls, window_s, daily
        self._clock = clock
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self.used_today = 0
        self.refused = 0

    def enter(self) -> Refusal | None:
        """Count a call, or say why it is refused."""
        with self._lock:
            now = self._clock()
            while self._window and self._window[0] <= now - self.window_s:
                self._window.popleft()
            if self.daily and self.used_today >= self.daily:
                self.refused += 1
                return Refusal("DAILY", 86400 - now % 86400)
            if self.calls and len(self._window) >= self.calls:
                self.refused += 1
                return Refusal("TEN_SECONDLY_ROLLING", self._window[0] + self.window_s - now)
            self._window.append(now)
            self.used_today += 1
            return None

    def headers(self) -> dict[str, str]:
        """The ``X-HubSpot-RateLimit-*`` headers as of now."""
        with self._lock:
            remaining = max(self.calls - len(self._window), 0) if self.calls else 0
            out = {"X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window_s * 1000)),
                   "X-HubSpot-RateLimit-Max": str(self.calls),
                   "X-HubSpot-RateLimit-Remaining": str(remaining)}
            if self.daily:
                out["X-HubSpot-RateLimit-Daily"] = str(self.daily)
                out["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                    max(self.daily - self.used_today, 0))
            return out

    @staticmethod
    def retry_after(refusal: Refusal) -> str:
        """``Retry-After`` in whole seconds (at least 1)."""
        return str(max(1, math.ceil(refusal.retry_after_s)))

    def reset(self) -> None:
        with self._lock:
            self._window.clear()
            self.used_today = 0
            self.refused = 0
