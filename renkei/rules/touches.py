"""Touches: a person's newest marketing activity sets the lead's last-touch channel.

Qualification thresholds are per channel (``last_touch_channel``, else ``lead_source``). A
lead who came in from an exhibition years ago and watched an on-demand seminar yesterday is
judged by the seminar rule — "watched 80 % or more" — not by the exhibition's. So, while a
lead is still marketing's (a stage qualification may start from), each pass moves its
``last_touch_channel``, ``last_touch_at`` and ``campaign`` to its newest activity that names
a channel.

Late data cannot move the touch backwards: an activity older than the stored
``last_touch_at`` (a Zoom report row arriving a day late) changes nothing. Once sales have
the lead, the touch that handed it over stays, which is what last-touch attribution in the
closed-loop report counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from renkei.rules.decide import can_qualify
from renkei.rules.model import Qualification
from renkei.store import HubRecord

FIELDS = ("last_touch_channel", "last_touch_at", "campaign")


def touch_updates(q: Qualification, pairs: Iterable[tuple[HubRecord, HubRecord]],
                  updates: dict[int, dict[str, Any]]) -> int:
    """Move each lead's last touch to its newest activity of this pass; return how many moved.

    Args:
        q: The qualification rules (their ``qualify_from`` says which stages are marketing's).
        pairs: (activity, lead) of the activities that changed in this pass.
        updates: Lead id → field changes, extended in place.
    """
    newest: dict[int, tuple[str, int, HubRecord, HubRecord]] = {}
    for activity, lead in pairs:
        channel, when = activity.data.get("channel"), activity.data.get("occurred_at")
        if not isinstance(channel, str) or not channel or not isinstance(when, str):
            continue
        key = (when, activity.id)
        seen = newest.get(lead.id)
        if seen is None or key > (seen[0], seen[1]):
            newest[lead.id] = (when, activity.id, activity, lead)
    moved = 0
    for lid, (when, _, activity, lead) in newest.items():
        data = {**lead.data, **updates.get(lid, {})}
        if not can_qualify(q, data):
            continue
        last = data.get("last_touch_at")
        # Canonical UTC strings of one format compare in time order.
        if isinstance(last, str) and last >= when:
            continue
        values = {"last_touch_channel": activity.data["channel"], "last_touch_at": when}
        campaign = activity.data.get("campaign") or activity.data.get("subject")
        if isinstance(campaign, str) and campaign:
            values["campaign"] = campaign[:255]
        diff = {k: v for k, v in values.items() if data.get(k) != v}
        if diff:
            updates.setdefault(lid, {}).update(diff)
            moved += 1
    return moved


__all__ = ["FIELDS", "touch_updates"]
