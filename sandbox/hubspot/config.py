"""Every knob of the HubSpot emulator, with the vendor's values as defaults."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HubSpotConfig"]


@dataclass(frozen=True)
class HubSpotConfig:
    """Configuration of one emulated portal.

    Attributes:
        size: Seeded contacts (0 .. 1,000,000); companies, deals and engagements scale with it.
        seed: Seed of :mod:`sandbox.seed`.
        portal_id: The account (hub) id.
        access_token: The private app's static token.
        burst_calls: Calls per burst window (Free/Starter private app: 100).
        burst_window_s: The burst window (10 s).
        daily_quota: Calls per day (Free/Starter: 250,000; 0: unlimited).
        clock: Wall clock in epoch seconds.
    """

    size: int = 2000
    seed: int = 42
    portal_id: int = 24_681_357
    access_token: str = "pat-na1-8f3e2b1c-renkei-sandbox-0d9a"
    burst_calls: int = 100
    burst_window_s: float = 10.0
    daily_quota: int = 250_000
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not 0 <= self.size <= 1_000_000:
            raise ValueError(f"HubSpot sandbox size must be 0..1,000,000, got {self.size:,}")
        if self.burst_calls < 0 or self.burst_window_s <= 0 or self.daily_quota < 0:
            raise ValueError("burst_calls and daily_quota must be >= 0, burst_window_s > 0")
