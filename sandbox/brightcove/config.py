"""Every knob of the Brightcove emulator, and the clock tests can move."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

__all__ = ["BrightcoveConfig", "EmulatorClock"]


class EmulatorClock:
    """The emulator's notion of now, in epoch seconds, that a test can move forward.

    Args:
        start_s: Epoch seconds at creation.
        frozen: Stay at ``start_s`` (plus :meth:`advance`) instead of following real time;
            tests freeze it so token expiry and late analytics are deterministic.

    Example:
        >>> clock = EmulatorClock(1_000.0, frozen=True)
        >>> clock.advance(301); clock.now()
        1301.0
    """

    def __init__(self, start_s: float, *, frozen: bool = False) -> None:
        self._start = start_s
        self._frozen = frozen
        self._origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Epoch seconds."""
        with self._lock:
            running = 0.0 if self._frozen else time.monotonic() - self._origin
            return self._start + running + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never back: tokens and settled data only age)."""
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, got {seconds}")
        with self._lock:
            self._offset += seconds

    def today(self) -> date:
        """The current UTC date."""
        return datetime.fromtimestamp(self.now(), UTC).date()


def _today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class BrightcoveConfig:
    """Configuration of one emulated Video Cloud account.

    Attributes:
        size: People of :mod:`sandbox.seed` the viewers are drawn from (100 .. 1,000,000).
        seed: Seed of :mod:`sandbox.seed` and of the view data.
        account_id: The Video Cloud account id.
        client_id: The API credential's client id.
        client_secret: Its secret.
        token_ttl_s: Access token lifetime (Brightcove: 300 s).
        today: The account's "today": seeded views fall on the 21 days up to it.
        clock: The emulator clock; by default it starts at 03:00 UTC on ``today`` and
            follows real time.
        settle_days: Days a view's numbers keep growing after the view (late data).
    """

    size: int = 2000
    seed: int = 42
    account_id: str = "6415818926001"
    client_id: str = "bc-renkei-sandbox-4d1f"
    client_secret: str = "bc-sandbox-secret-8e2a7c"
    token_ttl_s: int = 300
    today: date = field(default_factory=_today)
    clock: EmulatorClock | None = None
    settle_days: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.size <= 1_000_000:
            raise ValueError(f"Brightcove sandbox size must be 1..1,000,000, got {self.size:,}")
        if self.token_ttl_s <= 0 or self.settle_days < 0:
            raise ValueError("token_ttl_s must be > 0 and settle_days >= 0")
        if self.clock is None:
            start = datetime(self.today.year, self.today.month, self.today.day, 3, tzinfo=UTC)
            object.__setattr__(self, "clock", EmulatorClock(start.timestamp()))

    @property
    def now(self) -> float:
        """The clock's epoch seconds."""
        assert self.clock is not None
        return self.clock.now()
