"""Time in the hub's one canonical form: UTC, ISO-8601, second precision, ``Z`` suffix."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> str:
    """Now, as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (microseconds keep store rows ordered)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
