"""Prefect events a sync run emits when a mapping stops for a reason an operator must act on.

``renkei.auth.failed`` (credentials rejected: renew them before the vendor locks the user),
``renkei.quota.exhausted`` (the daily API budget is spent: raise it or wait for the reset)
and ``renkei.quota.threshold`` (the account's use reached ``pause_low_priority_at``:
low-priority syncs are paused). The quota events come from :mod:`renkei.ops.budget`, once
per crossing across every process. The automations of :mod:`renkei.ops.automations` react
to them. The resource is the connection (``renkei.connection.<name>``), so automations can
count per connection.

:func:`emit` sends to Prefect only where Prefect is reachable (``PREFECT_API_URL`` set, or
inside a flow or task run): a plain engine call (a script, ``renkei retry``) must not start
an ephemeral Prefect server just to announce an event. Elsewhere the event is only logged.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.sdk import errors
from renkei.engine.stats import RunSummary
from renkei.redact import mask_text

AUTH_FAILED = "renkei.auth.failed"
QUOTA_EXHAUSTED = "renkei.quota.exhausted"
QUOTA_THRESHOLD = "renkei.quota.threshold"

log = logging.getLogger("renkei.events")


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


def quota_event(event: str, *, account: str, connection: str, used: int, quota: int,
                level: float, paused: list[str]) -> dict[str, Any]:
    """A quota crossing as an event: ``event`` is :data:`QUOTA_THRESHOLD` or
    :data:`QUOTA_EXHAUSTED`; ``paused`` names the mappings that pause at this use."""
    pct = (100 * used) // quota if quota else 0
    what = "used up" if event == QUOTA_EXHAUSTED else "reached"
    return {
        "event": event,
        "resource": {"prefect.resource.id": f"renkei.connection.{connection}",
                     "prefect.resource.name": connection, "renkei.account": account},
        "payload": {"account": account, "used": used, "quota": quota, "percent": pct,
                    "level": level, "paused_mappings": list(paused),
                    "error": f"API budget of {account} {what}: {pct}% of {quota:,} calls used"
                             f"; paused: {', '.join(paused) or 'none'}"}}


def _prefect_reachable() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value()) or FlowRunContext.get() is not None or \
        TaskRunContext.get() is not None


def emit(event: dict[str, Any]) -> bool:
    """Send one event (``{"event", "resource", "payload"}``) to Prefect where reachable.

    Returns:
        True when it went to Prefect; False when it was only logged.
    """
    log.info("event %s %s: %s", event["event"], event["resource"]["prefect.resource.id"],
             mask_text(str(event["payload"].get("error", ""))))
    if not _prefect_reachable():
        return False
    from prefect.events import emit_event

    return emit_event(event=event["event"], resource=event["resource"],
                      payload=event["payload"]) is not None


def emit_stop_events(summary: RunSummary, connections: dict[str, str]) -> int:
    """Emit :func:`stop_events` to Prefect; returns how many were emitted."""
    events = stop_events(summary, connections)
    for e in events:
        emit(e)
    return len(events)


__all__ = ["AUTH_FAILED", "QUOTA_EXHAUSTED", "QUOTA_THRESHOLD", "emit", "emit_stop_events",
           "quota_event", "stop_events"]
