"""Client-side limits per vendor account, shared by every connector instance in the process.

A vendor's limits belong to the account, not to one flow: Marketo allows 100 calls per 20 s
and 10 at once for the whole subscription. :func:`limiter_for` hands every connection that
names the same account the same :class:`AccountLimiter`, which waits exactly as long as the
window requires (never a blind sleep) and stops at the daily quota.

The daily quota here is this *process's* backstop, counted over a rolling 24 hours (a
long-lived worker is not stopped forever by yesterday's calls). Deployments run in separate
processes, so the budget every flow of an account shares lives in the state store:
:mod:`renkei.ops.budget` reads the API-call ledger there and pauses syncs by priority
before this backstop is ever reached. The rate window and the concurrency cap stay per
process: with N workers on one account, give each 1/N of the vendor's window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from connectors.sdk.errors import QuotaExhaustedError

_HOUR = 3600.0
_DAY_HOURS = 24


@dataclass(frozen=True)
class RatePolicy:
    """Limits of one vendor account.

    Attributes:
        calls: Calls allowed per ``window_s`` (0: unlimited).
        window_s: Length of the sliding window in seconds.
        concurrency: Calls allowed in flight at once (0: unlimited).
        daily_quota: Calls this process may make in any 24 hours (0: unlimited); the budget
            shared by every process is :mod:`renkei.ops.budget`'s.
    """

    calls: int = 0
    window_s: float = 1.0
    concurrency: int = 0
    daily_quota: int = 0


class AccountLimiter:
    """Sliding-window rate limit + concurrency cap + daily budget for one vendor account.

    Args:
        policy: The account's limits.
        clock: Monotonic clock (injectable for tests).
        sleep: Sleep function (injectable for tests).
    """

    def __init__(
        self,
        policy: RatePolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.policy = policy
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # One mutable [time] per call in the window: its start, moved to its end when it ends.
        self._starts: deque[list[float]] = deque()
        self._sem = threading.BoundedSemaphore(policy.concurrency) if policy.concurrency else None
        self._blocked_until = 0.0
        # Calls per hour over the last 24 hours: [hour number, calls], oldest first.
        self._hours: deque[list[int]] = deque()
        self.waited_s = 0.0

    @property
    def used_today(self) -> int:
        """Calls this process made in the last 24 hours (whole hours: at most an hour early)."""
        with self._lock:
            return self._used(self._clock())

    def _used(self, now: float) -> int:
        first = int(now // _HOUR) - _DAY_HOURS + 1
        while self._hours and self._hours[0][0] < first:
            self._hours.popleft()
        return sum(n for _, n in self._hours)

    def _count(self, now: float) -> None:
        hour = int(now // _HOUR)
        if self._hours and self._hours[-1][0] == hour:
            self._hours[-1][1] += 1
        else:
            self._hours.append([hour, 1])

    def _reserve(self) -> tuple[float, list[float] | None]:
        """Reserve a start time in the window; returns how long to wait, and the window entry."""
        with self._lock:
            now = self._clock()
            if self.policy.daily_quota and self._used(now) >= self.policy.daily_quota:
                raise QuotaExhaustedError(
                    f"daily API budget of {self.policy.daily_quota} calls is used up"
                )
            start = max(now, self._blocked_until)
            entry: list[float] | None = None
            if self.policy.calls:
                window = self.policy.window_s
                # A call stays in the window from its start until its answer came back (see
                # slot()): the vendor counts it on arrival, which is after our start (a token
                # fetch or a slow connection may come first) and before our answer.
                self._starts = deque(e for e in self._starts if e[0] > start - window)
                if len(self._starts) >= self.policy.calls:
                    # The call may start when the oldest of the last `calls` calls leaves the window.
                    times = sorted(e[0] for e in self._starts)
                    start = max(start, times[-self.policy.calls] + window)
                entry = [start]
                self._starts.append(entry)
            self._count(now)
            return start - now, entry

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one call slot for the duration of a request."""
        if self._sem is not None:
            self._sem.acquire()
        entry: list[float] | None = None
        try:
            wait, entry = self._reserve()
            if wait > 0:
                self.waited_s += wait
                self._sleep(wait)
            yield
        finally:
            if entry is not None:
                with self._lock:
                    entry[0] = max(entry[0], self._clock())
            if self._sem is not None:
                self._sem.release()

    def back_off(self, seconds: float) -> None:
        """The vendor said "slow down": no one sharing this account starts a call for a while."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)


_registry: dict[str, AccountLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(account: str, policy: RatePolicy) -> AccountLimiter:
    """The process-wide limiter of a vendor account (created on first use)."""
    with _registry_lock:
        limiter = _registry.get(account)
        if limiter is None:
            limiter = _registry[account] = AccountLimiter(policy)
        return limiter
