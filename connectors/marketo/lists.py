"""Static list membership (``list-membership.md``): add, remove, check, in batches of 300.

Facts relied on [C]: ``POST`` / ``DELETE /rest/v1/lists/{listId}/leads.json`` and ``GET
.../leads/ismember.json`` take up to 300 lead ids and answer one result per id, in order:
``added`` / ``removed`` / ``memberof`` / ``notmemberof``, or ``skipped`` with ``reasons``
(1004 lead not found; 1015 lead not in list, on remove). Both writes are idempotent (adding
a member again or removing a non-member changes nothing), so a timed-out call is resent.
Adds go as the JSON body ``{"input": [{"id": ..}]}``; removes and checks as ``id`` query
parameters (300 ids fit well inside the 8 KB URI limit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.marketo.api import MarketoApi
from connectors.sdk import ProtocolError

__all__ = ["MAX_IDS", "MembershipResult", "add_to_list", "is_member", "remove_from_list"]

MAX_IDS = 300


@dataclass(frozen=True)
class MembershipResult:
    """What Marketo answered for one lead id.

    Attributes:
        lead_id: The Marketo lead id.
        status: ``added``, ``removed``, ``memberof``, ``notmemberof`` or ``skipped``.
        code: The first reason's code when skipped (``1004``, ``1015``...).
        message: Its message.
    """

    lead_id: int
    status: str
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        """The list is as asked: done, or nothing to do (a non-member removed)."""
        return self.status != "skipped" or self.code == "1015"


def _results(body: Any, ids: Sequence[int], what: str) -> list[MembershipResult]:
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list) or len(result) != len(ids):
        raise ProtocolError(f"Marketo {what}: {len(ids)} ids sent, "
                            f"{len(result) if isinstance(result, list) else 'no'} results")
    out = []
    for lead_id, item in zip(ids, result):
        item = item if isinstance(item, dict) else {}
        reasons = item.get("reasons") or [{}]
        first = reasons[0] if isinstance(reasons[0], dict) else {}
        out.append(MembershipResult(lead_id, str(item.get("status", "skipped")),
                                    first.get("code"), first.get("message")))
    return out


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i:i + MAX_IDS]) for i in range(0, len(ids), MAX_IDS)]


def add_to_list(api: MarketoApi, list_id: int, lead_ids: Sequence[int]) -> list[MembershipResult]:
    """Add leads to a static list, 300 per call."""
    out: list[MembershipResult] = []
    for chunk in _chunks(lead_ids):
        body = api.http.json("POST", f"/rest/v1/lists/{list_id}/leads.json", kind="write",
                             idempotent=True, json={"input": [{"id": i} for i in chunk]})
        out += _results(body, chunk, "add to list")
    return out


def remove_from_list(api: MarketoApi, list_id: int,
                     lead_ids: Sequence[int]) -> list[MembershipResult]:
    """Remove leads from a static list, 300 per call."""
    out: list[MembershipResult] = []
    for chunk in _chunks(lead_ids):
        body = api.http.json("DELETE", f"/rest/v1/lists/{list_id}/leads.json", kind="write",
                             idempotent=True, params=[("id", i) for i in chunk])
        out += _results(body, chunk, "remove from list")
    return out


def is_member(api: MarketoApi, list_id: int, lead_ids: Sequence[int]) -> list[MembershipResult]:
    """Which leads are members, 300 per call."""
    out: list[MembershipResult] = []
    for chunk in _chunks(lead_ids):
        body = api.http.json("GET", f"/rest/v1/lists/{list_id}/leads/ismember.json",
                             kind="read", params=[("id", i) for i in chunk])
        out += _results(body, chunk, "member of list")
    return out
