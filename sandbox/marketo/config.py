"""Every knob of the Marketo emulator, with the vendor's values as defaults."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sandbox.marketo.custom_activities import DEFAULT_CUSTOM_TYPES, CustomActivityType
from sandbox.marketo.limits import LimitConfig
from sandbox.marketo.store import RecordRule

__all__ = ["DEFAULT_RULES", "MarketoConfig"]

DEFAULT_RULES: tuple[RecordRule, ...] = (
    RecordRule(r"@reject\.invalid$", "1003", "Invalid data"),
)
"""Out of the box, addresses at ``reject.invalid`` are refused as invalid data, so a demo
can show a per-record failure on purpose (``.invalid`` is reserved, never a real domain)."""


@dataclass(frozen=True)
class MarketoConfig:
    """Configuration of one emulated subscription.

    Attributes:
        size: Seeded leads (100 .. 1,000,000).
        seed: Seed of the person generator.
        munchkin_id: The subscription id (``284-RPR-133`` shape).
        client_id: The custom service's client id.
        client_secret: Its secret.
        token_lifetime_s: Lifespan of a new access token (vendor: 3600).
        limits: Rate window, concurrency and daily quota.
        latency_s: Time each REST call spends inside the limits (so concurrency is real).
        payload_limit: Request body bytes above which the answer is HTTP 413 (vendor: 1 MB).
        uri_limit: URI bytes above which the answer is HTTP 414 (vendor: 8 KB).
        record_rules: Inputs whose email matches a rule are skipped with its code.
        server_error_code: When set (``"604"``, ``"608"``, ``"611"``, ``"713"``), a
            ``server_error`` fault answers HTTP 200 with this code instead of an HTTP 5xx.
        scan_limit: Activities looked at per activity page at most (short pages happen).
        custom_activity_types: The subscription's custom activity types (default: two
            approved renkei types, webinar attended and video viewed).
        clock: Wall clock in epoch seconds.
    """

    size: int = 2000
    seed: int = 42
    munchkin_id: str = "123-ABC-456"
    client_id: str = "5f3c0c1e-renkei-sandbox-client"
    client_secret: str = "sandbox-marketo-secret-0f9d2b"
    token_lifetime_s: float = 3600.0
    limits: LimitConfig = field(default_factory=LimitConfig)
    latency_s: float = 0.0
    payload_limit: int = 1_048_576
    uri_limit: int = 8192
    record_rules: tuple[RecordRule, ...] = DEFAULT_RULES
    server_error_code: str | None = None
    scan_limit: int = 1000
    custom_activity_types: tuple[CustomActivityType, ...] = DEFAULT_CUSTOM_TYPES
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not 0 <= self.size <= 1_000_000:
            raise ValueError(f"size must be within 0..1,000,000, got {self.size}")
        if self.token_lifetime_s <= 0:
            raise ValueError("token_lifetime_s must be positive")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> MarketoConfig:
        """Build from plain data (sandbox YAML): ``limits`` and ``record_rules`` nested.

        Example:
            >>> MarketoConfig.from_mapping({"size": 100, "limits": {"rate_calls": 5}}).limits.rate_calls
            5

        Raises:
            ValueError: unknown keys or bad values.
        """
        known = {f.name for f in fields(cls)} - {"clock"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown marketo emulator option(s): {', '.join(unknown)}")
        values = dict(data)
        if isinstance(values.get("limits"), Mapping):
            values["limits"] = LimitConfig(**values["limits"])
        if "record_rules" in values:
            values["record_rules"] = tuple(
                r if isinstance(r, RecordRule) else RecordRule(**r) for r in values["record_rules"])
        if "custom_activity_types" in values:
            values["custom_activity_types"] = tuple(
                t if isinstance(t, CustomActivityType) else CustomActivityType.from_mapping(t)
                for t in values["custom_activity_types"])
        return cls(**values)

    def with_(self, **changes: Any) -> MarketoConfig:
        """A copy with some knobs changed."""
        return replace(self, **changes)
