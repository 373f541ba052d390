"""Prefect events a sync run emits when a mapping stops for a reason an operator must act on.

``renkei.auth.failed`` (credentials rejected: renew them before the vendor locks the user)
and ``renkei.quota.exhausted`` (the daily API budget is spent: raise it or wait for the reset).
The automations of :mod:`renkei.ops.automations` react to them. The resource is the
connection (``renkei.connection.<name>``), so automations can count per connection.
"""

from __future__ import annotations

from typing import Any

from connectors.sdk import errors
from renkei.engine.stats import RunSummary
from renkei.redact import mask_text

AUTH_FAILED = "renkei.auth.failed"
QUOTA_EXHAUSTED = "renkei.quota.exhausted"


def _kind(error: str) -> str | None:
    """The event for a mapping's stop reason (``"AuthenticationError: ..."``), if any."""
    cls = getattr(errors, error.partition(":")[0].strip(), None)
    if not isinstance(cls, type):
        return None
    if issubclass(cls, errors.AuthenticationError):
        return AUTH_FAILED
    if issubclass(cls, errors.QuotaExhaustedError):
        return QUOTA_EXHAUSTED
    return None


def stop_events(summary: RunSummary, connections: dict[str, str]) -> list[dict[str, Any]]:
    """The events a finished run calls for: one per mapping stopped by credentials or quota.

    Args:
        summary: The run.
        connections: Connection name per mapping name.
    """
    out: list[dict[str, Any]] = []
    for s in summary.stats:
        event = _kind(s.error) if s.error else None
        if event is None:
            continue
        conn = connections.get(s.mapping, "unknown")
        out.append({
            "event": event,
            "resource": {"prefect.resource.id": f"renkei.connection.{conn}",
                         "prefect.resource.name": conn, "renkei.mapping": s.mapping,
                         "renkei.entity": summary.entity},
            "payload": {"mapping": s.mapping, "direction": s.direction,
                        "run_id": summary.run_id, "error": mask_text(s.error or "")}})
    return out


def emit_stop_events(summary: RunSummary, connections: dict[str, str]) -> int:
    """Emit :func:`stop_events` to Prefect; returns how many were emitted."""
    from prefect.events import emit_event

    events = stop_events(summary, connections)
    for e in events:
        emit_event(event=e["event"], resource=e["resource"], payload=e["payload"])
    return len(events)


__all__ = ["AUTH_FAILED", "QUOTA_EXHAUSTED", "emit_stop_events", "stop_events"]
