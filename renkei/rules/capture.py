"""Capture: a person known only from an activity becomes a lead (DOMAIN.md step 1).

A webinar attendee or video viewer whose e-mail matches no hub lead is a new lead, with the
activity's channel as first touch (``webinar``, ``on_demand_seminar``) and last touch, the
campaign, and the name the webinar host knew (Zoom's ``details.name``, "姓 名"). One lead per
e-mail, however many activities it has; activities without an e-mail (Zoom guests, anonymous
video viewers) never create one. The leads are written like an inbound page (records, match
keys under every e-mail key the mappings use, journal, source ``rules``), so outbound creates
them in every system — and, being new, they run through qualification and routing in the
same pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from renkei.entities import picklist_values, validate_entity
from renkei.mapping.normalize import email_key
from renkei.store import ALL_FIELDS, HubRecord, Tx

SOURCE = "rules"


def capture_leads(tx: Tx, email_keys: Sequence[str], activities: Sequence[HubRecord],
                  lead_of: dict[int, int], now: str, run_id: str | None) -> dict[int, int]:
    """Create a lead for each e-mail of ``activities`` with no lead; return activity → lead.

    Args:
        tx: The store transaction.
        email_keys: Names of the lead match keys that hold the normalised e-mail.
        activities: Activities of this pass.
        lead_of: Activity id → lead id already resolved (not captured again).
        now: Canonical UTC time for field metadata.
        run_id: For the journal.
    """
    channels = set(picklist_values("lead", "lead_source"))
    firsts: dict[str, HubRecord] = {}
    members: dict[str, list[int]] = {}
    for a in sorted(activities, key=lambda r: (str(r.data.get("occurred_at") or ""), r.id)):
        email = a.data.get("email")
        if a.id in lead_of or not isinstance(email, str) or "@" not in email:
            continue
        key = email_key(email)
        firsts.setdefault(key, a)
        members.setdefault(key, []).append(a.id)
    if not firsts:
        return {}
    drafts: list[tuple[str, dict[str, Any]]] = []
    for key, first in firsts.items():
        values = _lead_values(first, channels)
        if not validate_entity("lead", values, partial=False):
            drafts.append((key, values))
    if not drafts:
        return {}
    ids = tx.records.insert_many("lead", [(v, {ALL_FIELDS: [SOURCE, now]}) for _, v in drafts])
    tx.match_keys.replace("lead", {rid: [(name, key) for name in email_keys]
                                   for rid, (key, _) in zip(ids, drafts)},
                          names=list(email_keys))
    tx.journal.append_many("lead", [(rid, sorted(v), SOURCE) for rid, (_, v) in zip(ids, drafts)],
                           run_id)
    return {aid: rid for rid, (key, _) in zip(ids, drafts) for aid in members[key]}


def _lead_values(activity: HubRecord, channels: set[Any]) -> dict[str, Any]:
    d = activity.data
    channel = d.get("channel") if d.get("channel") in channels else "other"
    values: dict[str, Any] = {"email": str(d["email"]).strip().lower(), "lead_source": channel,
                              "last_touch_channel": channel, "lifecycle_stage": "lead"}
    if isinstance(d.get("campaign"), str) and d["campaign"]:
        values["campaign"] = d["campaign"]
    details = d.get("details")
    name = details.get("name") if isinstance(details, dict) else None
    if isinstance(name, str) and name.strip():
        parts = name.replace("\u3000", " ").split()
        values["last_name"] = parts[0]
        if len(parts) > 1:
            values["first_name"] = " ".join(parts[1:])
    return values


__all__ = ["capture_leads"]
