"""Stale-deal alerts (DOMAIN.md step 8), raised through the same drafts as lead alerts.

* ``on: activity``: an open deal whose stage has not changed for ``days`` days, whose contact
  has a new activity (of ``activity_types``) after the deal's ``stage_changed_at`` → the deal
  owner. Checked for the activities that changed in the run. One alert per deal per stale
  period (the id is rule + deal + ``stage_changed_at``), not one per page view: a contact
  reading ten pages is one next action; a new stage and a new stall is a new alert.
* ``on: stalled``: an open deal in one of ``stages`` (見積提出, proposal/quote) with no stage
  change for ``days`` days → a task for ``owner`` (inside sales). Checked in the idle pass,
  paging through deals; raised once per stall period (same id rule).

"A customer whose service usage dropped" needs usage data (logins) that no connector
brings into the hub yet, so there is no rule for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select

from renkei.rules.alerts import AlertDraft, Drafts, shift
from renkei.rules.conditions import Facts
from renkei.rules.context import RulesData, alert_id
from renkei.rules.model import DealAlertRule, Owners
from renkei.rules.outcomes import CONTACT_KEY, contact_keys, deal_state
from renkei.store import HubRecord
from renkei.store import schema as t

PAGE = 1000


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stale(rule: DealAlertRule, deal: HubRecord, hold: frozenset[str],
           cutoff: datetime) -> datetime | None:
    """When the deal's stage last changed, if it is open, in the rule's stages and stale."""
    if deal_state(deal.data, hold) != "open":
        return None
    if rule.stages is not None and deal.data.get("stage") not in rule.stages:
        return None
    changed = _moment(deal.data.get("stage_changed_at"))
    return changed if changed is not None and changed <= cutoff else None


def _draft(drafts: Drafts, rule: DealAlertRule, deal: HubRecord, owner: Any,
           lead: HubRecord | None, now: str, owners: Owners) -> None:
    if not isinstance(owner, str) or not owner.strip():
        drafts.no_owner += 1
        return
    if not owners.receives(owner, rule.type):
        drafts.suppressed += 1
        return
    key = alert_id(rule.name, deal.id, f"deal-stale-since:{deal.data.get('stage_changed_at')}")
    if key in drafts.items:
        return
    facts = Facts(lead.data if lead else {}, extra={**deal.data, "days": rule.days})
    data: dict[str, Any] = {
        "owner": owner, "type": rule.type, "title": rule.title.render(facts)[:255],
        "deal_id": str(deal.id), "rule": rule.name, "priority": rule.priority,
        "status": "open", "created_at": now}
    if lead is not None:
        data["lead_id"] = str(lead.id)
        if lead.data.get("email"):
            data["email"] = lead.data["email"]
    if rule.message is not None:
        data["message"] = rule.message.render(facts)[:4000]
    if rule.next_action is not None:
        data["next_action"] = rule.next_action.render(facts)[:1000]
    if rule.due_in_days is not None:
        data["due_at"] = shift(now, rule.due_in_days)
    drafts.items[key] = AlertDraft(key, lead.id if lead else None, data)


def activity_deal_alerts(drafts: Drafts, rules: Sequence[DealAlertRule], data: RulesData,
                         pairs: Iterable[tuple[HubRecord, HubRecord]], hold: frozenset[str],
                         now: str, owners: Owners) -> None:
    """Drafts for ``on: activity`` deal rules; ``pairs`` are (activity, its lead)."""
    todo = [r for r in rules if r.on == "activity"]
    pairs = list(pairs)
    if not todo or not pairs:
        return
    emails = {k for _, lead in pairs for k in contact_keys({"contact_emails": [
        lead.data.get("email")]})}
    found = data.tx.match_keys.find("deal", [(CONTACT_KEY, e) for e in emails])
    deals = data.records("deal", {i for ids in found.values() for i in ids})
    now_at = _moment(now) or datetime.now(UTC)
    for activity, lead in pairs:
        occurred = _moment(activity.data.get("occurred_at"))
        keys = contact_keys({"contact_emails": [lead.data.get("email")]})
        if occurred is None or not keys:
            continue
        for deal_id in found.get((CONTACT_KEY, keys[0]), []):
            deal = deals.get(deal_id)
            if deal is None:
                continue
            for rule in todo:
                if rule.activity_types is not None \
                        and activity.data.get("type") not in rule.activity_types:
                    continue
                changed = _stale(rule, deal, hold, _moment(shift(now, -rule.days)) or now_at)
                if changed is not None and occurred > changed:
                    _draft(drafts, rule, deal, deal.data.get("owner"), lead, now, owners)


def _stalled_page(data: RulesData, stages: Sequence[str], after_id: int) -> list[HubRecord]:
    r = t.records
    rows = data.tx.conn.execute(
        select(r.c.id, r.c.entity, r.c.data, r.c.field_meta, r.c.version)
        .where(and_(r.c.entity == "deal", r.c.id > after_id,
                    r.c.data["stage"].as_string().in_(list(stages))))
        .order_by(r.c.id).limit(PAGE))
    return [HubRecord(row.id, row.entity, dict(row.data), dict(row.field_meta), row.version)
            for row in rows]


def stalled_deal_alerts(drafts: Drafts, rules: Sequence[DealAlertRule], data: RulesData,
                        hold: frozenset[str], now: str, owners: Owners) -> None:
    """Drafts for ``on: stalled`` rules: pages through the deals in the rules' stages."""
    for rule in (r for r in rules if r.on == "stalled" and r.stages):
        cutoff = _moment(shift(now, -rule.days))
        if cutoff is None:
            continue
        after = 0
        while True:
            page = _stalled_page(data, sorted(rule.stages or ()), after)
            if not page:
                break
            after = page[-1].id
            stale = [d for d in page if _stale(rule, d, hold, cutoff) is not None]
            leads = _first_contacts(data, stale)
            for deal in stale:
                _draft(drafts, rule, deal, rule.owner, leads.get(deal.id), now, owners)


def _first_contacts(data: RulesData, deals: Sequence[HubRecord]) -> dict[int, HubRecord]:
    """Deal id → the hub lead of its first contact that has one (one batched lookup)."""
    wanted = {d.id: contact_keys(d.data) for d in deals}
    emails = {e for keys in wanted.values() for e in keys}
    if not emails:
        return {}
    found = data.tx.match_keys.find("lead", [(n, e) for n in data.email_keys for e in emails])
    lead_of: dict[str, int] = {}
    for (_, value), ids in sorted(found.items()):
        lead_of.setdefault(value, ids[0])
    leads = data.records("lead", set(lead_of.values()))
    out: dict[int, HubRecord] = {}
    for deal_id, keys in wanted.items():
        lead = next((leads[lead_of[k]] for k in keys if lead_of.get(k) in leads), None)
        if lead is not None:
            out[deal_id] = lead
    return out


__all__ = ["activity_deal_alerts", "stalled_deal_alerts"]
