"""Alert drafts: which alert rules fire for which lead, and the alert each one raises.

Every alert carries a deterministic id made of the rule, the lead and the *trigger* (the
activity, the change with the time the hub recorded it, or the moment the lead was last
touched for nags), so processing the same event twice raises nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from renkei.mapping.loader import value_key
from renkei.rules.conditions import CHANGE_OPS, Facts, is_blank
from renkei.rules.context import alert_id
from renkei.rules.model import AlertRule, Owners
from renkei.store import HubRecord


def shift(now: str, days: float) -> str:
    """``now`` (canonical UTC) moved by ``days``, in the same form."""
    moment = datetime.fromisoformat(now) + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class AlertDraft:
    """An alert about to be raised (unless its id exists already)."""

    key: str
    lead_id: int | None
    """The person it is about (None: a deal task with no known contact)."""
    data: dict[str, Any]


@dataclass
class Drafts:
    """Drafts, and why others were not raised."""

    items: dict[str, AlertDraft]
    suppressed: int = 0
    no_owner: int = 0

    def offer(self, rule: AlertRule, lead: HubRecord, facts: Facts, trigger: str, now: str,
              owners: Owners) -> None:
        """Raise ``rule`` for ``lead`` if it has an owner who wants this type of alert."""
        owner = lead.data.get("owner")
        if is_blank(owner):
            self.no_owner += 1  # not routed yet: nobody to tell
            return
        if not owners.receives(str(owner), rule.type):
            self.suppressed += 1
            return
        key = alert_id(rule.name, lead.id, trigger)
        if key in self.items:
            return
        facts.extra = {"rule": rule.name, "days": rule.days}
        data: dict[str, Any] = {
            "owner": str(owner), "type": rule.type, "title": rule.title.render(facts)[:255],
            "lead_id": str(lead.id), "rule": rule.name, "priority": rule.priority,
            "status": "open", "created_at": now}
        if lead.data.get("email"):
            data["email"] = lead.data["email"]
        if rule.message is not None:
            data["message"] = rule.message.render(facts)[:4000]
        if rule.next_action is not None:
            data["next_action"] = rule.next_action.render(facts)[:1000]
        if rule.due_in_days is not None:
            data["due_at"] = shift(now, rule.due_in_days)
        self.items[key] = AlertDraft(key, lead.id, data)


def change_trigger(rule: AlertRule, lead: HubRecord) -> str:
    """What makes a change alert unique: the field's new value and when the hub recorded it
    (a lead that becomes an MQL again after recycling is a new event); a threshold is
    crossed once per lead."""
    parts = []
    for test in rule.when.tests:
        if test.op not in CHANGE_OPS:
            continue
        name = test.ref.field
        if test.op == "crossed":
            parts.append(f"{name}>={value_key(test.operand)}")
            continue
        meta = lead.source(name) or []
        at = meta[1] if len(meta) > 1 else ""
        parts.append(f"{name}={value_key(lead.data.get(name))}@{at}")
    return "change:" + ";".join(sorted(parts))


def change_alerts(drafts: Drafts, rules: Sequence[AlertRule], leads: Iterable[HubRecord],
                  changed: dict[int, frozenset[str]], facts_of: Any, now: str,
                  owners: Owners) -> None:
    """Drafts for ``on: change`` rules."""
    todo = [r for r in rules if r.on == "change"]
    if not todo:
        return
    for lead in leads:
        fields = changed.get(lead.id)
        if not fields:
            continue
        facts: Facts = facts_of(lead, fields)
        for rule in todo:
            if rule.when.evaluate(facts)[0]:
                drafts.offer(rule, lead, facts, change_trigger(rule, lead), now, owners)


def activity_alerts(drafts: Drafts, rules: Sequence[AlertRule],
                    pairs: Iterable[tuple[HubRecord, HubRecord]], facts_of: Any, now: str,
                    owners: Owners) -> None:
    """Drafts for ``on: activity`` rules; ``pairs`` are (activity, its lead)."""
    todo = [r for r in rules if r.on == "activity"]
    if not todo:
        return
    for activity, lead in pairs:
        facts: Facts = facts_of(lead, frozenset())
        facts.activity = activity.data
        for rule in todo:
            if rule.when.evaluate(facts)[0]:
                drafts.offer(rule, lead, facts, f"activity:{activity.id}", now, owners)


__all__ = ["AlertDraft", "Drafts", "activity_alerts", "change_alerts", "change_trigger", "shift"]
