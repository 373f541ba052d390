"""The Prefect automations ``renkei deploy`` creates, so failures reach a person.

- **renkei: sync run failed**: any renkei flow run Failed or Crashed.
- **renkei: repeated authentication errors**: ``renkei.auth.failed`` 3 times within 30 min
  for one connection; also pauses the deployment that hit it (inferred from the event), since
  retrying with rejected credentials only gets the integration user locked.
- **renkei: API quota exhausted**: ``renkei.quota.exhausted`` once for a connection.

Each notifies through the Prefect notification block named ``notify_block`` (Slack, e-mail,
... created in the UI) if one is given; without one the automations still fire and show in
the UI's event feed (``prefect.automation.triggered``, then
``prefect.automation.action.executed`` for each action, related to the triggering event).
The pause is what an OSS server does on its own, without any outside service: the failing
deployment's schedule stops until someone resumes it (UI, or ``prefect deployment resume``).
``renkei deploy`` watches the flows it registers (:data:`RENKEI_FLOWS` otherwise).
Seen firing against a real server in ``tests/ops/test_automations_fire.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from renkei.ops.events import AUTH_FAILED, QUOTA_EXHAUSTED

#: Names of the flows whose failures page someone.
RENKEI_FLOWS = ("entity sync", "webhook inbox", "retry failed records", "closed-loop report",
                "reconciliation")

FAILED = "renkei: sync run failed"
AUTH = "renkei: repeated authentication errors"
QUOTA = "renkei: API quota exhausted"


def _notify(block_id: UUID | None, subject: str, body: str) -> list[Any]:
    from prefect.events.actions import DoNothing, SendNotification

    if block_id is None:
        return [DoNothing()]
    return [SendNotification(block_document_id=block_id, subject=subject, body=body)]


def automations(notify_block_id: UUID | None = None,
                flows: Sequence[str] = RENKEI_FLOWS) -> list[Any]:
    """The automations, as Prefect ``AutomationCore`` objects (not yet created)."""
    from prefect.events.actions import PauseDeployment
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    failed = AutomationCore(
        name=FAILED,
        description="A renkei flow run failed or crashed: open the run, read its "
                    "*-report and *-failures artifacts.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match_related={"prefect.resource.role": "flow",
                           "prefect.resource.name": list(flows)},
            posture=Posture.Reactive, threshold=1, within=timedelta(0)),
        actions=_notify(notify_block_id, "renkei run {{ flow_run.name }} failed",
                        "Flow run {{ flow_run.name }} is {{ flow_run.state.name }}."))
    auth = AutomationCore(
        name=AUTH,
        description="Credentials of a connection were rejected 3 times in 30 minutes: "
                    "renew them in renkei.yaml's secrets, then resume the paused deployment.",
        trigger=EventTrigger(
            expect={AUTH_FAILED}, match={"prefect.resource.id": "renkei.connection.*"},
            for_each={"prefect.resource.id"}, posture=Posture.Reactive, threshold=3,
            within=timedelta(minutes=30)),
        actions=[PauseDeployment(source="inferred", deployment_id=None),
                 *_notify(notify_block_id, "renkei: credentials rejected",
                          "{{ event.resource.name }}: {{ event.payload.error }}")])
    quota = AutomationCore(
        name=QUOTA,
        description="A connection's daily API budget is spent; syncs of it stop until the "
                    "reset. `renkei status` shows use per connection.",
        trigger=EventTrigger(
            expect={QUOTA_EXHAUSTED}, match={"prefect.resource.id": "renkei.connection.*"},
            for_each={"prefect.resource.id"}, posture=Posture.Reactive, threshold=1,
            within=timedelta(0)),
        actions=_notify(notify_block_id, "renkei: API quota exhausted",
                        "{{ event.resource.name }}: {{ event.payload.error }}"))
    return [failed, auth, quota]


__all__ = ["AUTH", "FAILED", "QUOTA", "RENKEI_FLOWS", "automations"]
