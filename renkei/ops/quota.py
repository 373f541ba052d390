"""API use against each connection's daily quota, from the API-call ledger.

The quota of a connection is its ``daily_quota`` setting in renkei.yaml, else the default of
its connector's config spec (Marketo 50,000, HubSpot 250,000, kintone 10,000 per app...);
0 or none means no cap is configured. Use is counted over the last 24 hours, the window
vendors' daily limits roughly follow (Marketo resets at midnight US Central, so this is the
conservative reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from renkei.project import Project
from renkei.store import Store


@dataclass(frozen=True)
class QuotaRow:
    """One connection's API use in the last 24 hours."""

    connection: str
    used: int
    quota: int | None
    by_kind: dict[str, int]

    @property
    def remaining(self) -> int | None:
        return None if not self.quota else max(self.quota - self.used, 0)

    def describe(self) -> str:
        if not self.quota:
            return f"{self.used} (no daily quota configured)"
        return (f"{self.used} of {self.quota} ({100 * self.used / self.quota:.1f}%), "
                f"{self.remaining} left")


def daily_quota(project: Project, connection: str) -> int | None:
    """The configured daily quota of a connection (None: not configured or unlimited)."""
    from connectors.sdk.registry import connector_class

    settings = project.connections.get(connection) or {}
    value: Any = (settings.get("config") or {}).get("daily_quota")
    if value is None and settings.get("type"):
        try:
            spec = getattr(connector_class(str(settings["type"])), "spec", None) or {}
        except Exception:  # noqa: BLE001 — an uninstalled connector has no known default
            spec = {}
        value = ((spec.get("properties") or {}).get("daily_quota") or {}).get("default")
    try:
        return int(value) or None if value is not None else None
    except (TypeError, ValueError):
        return None


def quota_status(project: Project, store: Store, *, now: datetime | None = None) -> list[QuotaRow]:
    """API use in the last 24 hours of every connection of the project or the ledger."""
    since = ((now or datetime.now(UTC)) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    with store.transaction() as tx:
        usage = tx.ledger.usage(since=since)
    return [QuotaRow(name, sum(usage.get(name, {}).values()), daily_quota(project, name),
                     dict(usage.get(name, {})))
            for name in sorted(set(project.connections) | set(usage))]


__all__ = ["QuotaRow", "daily_quota", "quota_status"]
