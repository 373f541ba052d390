"""Deal outcomes back to marketing (DOMAIN.md step 8): won → customer, lost or "not now" →
recycled with the reason and the sales choices, open → opportunity.

Which deals: every hub ``deal`` changed since the rules' cursor. Which people: the deal's
``contact_emails``, matched to hub leads by normalised e-mail (one batched lookup). A person
is decided from **all** hub deals naming their e-mail (a ``match_keys`` index on the deal,
``rules:contact``), so the result does not depend on which deal changed last:

1. any won deal → ``customer``;
2. else any open deal (not closed, not in a ``hold_stages`` stage) → ``opportunity``;
3. else the most recently closed lost or on-hold deal (latest ``stage_changed_at``, then
   ``close_date``, then the higher hub id) → ``recycled``, with ``recycle_reason`` (its
   ``lost_reason``, else ``hold_reason``), ``lost_reason`` and the sales choices
   ``recycle_content`` / ``recycle_frequency`` / ``recycle_email`` copied from that deal.

Won first, not open first: a customer with a new (upsell) deal is still a customer, and a
customer is never moved back by an open or lost deal. Moving to customer or opportunity
clears the recycle fields, so marketing stops nurturing. Reversible: a lost deal reopened
moves the person to opportunity, and won to customer. A contact with no hub lead is counted,
not created (the lead arrives from MA or SFA first). Only changed values are written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from renkei.mapping.normalize import email_key
from renkei.rules.conditions import Facts
from renkei.rules.context import RulesData
from renkei.rules.model import OutcomeRules
from renkei.store import HubRecord

CONTACT_KEY = "rules:contact"
RECYCLE_FIELDS = ("recycle_reason", "recycle_content", "recycle_frequency", "recycle_email")
_CLEARED = dict.fromkeys(RECYCLE_FIELDS)


def contact_keys(deal: Mapping[str, Any]) -> list[str]:
    """Normalised e-mails of a deal's contacts (blank and non-text entries dropped)."""
    emails = deal.get("contact_emails")
    if not isinstance(emails, list):
        return []
    return list(dict.fromkeys(email_key(e) for e in emails if isinstance(e, str) and e.strip()))


def deal_state(deal: Mapping[str, Any], hold_stages: frozenset[str]) -> str:
    """``won``, ``lost`` (closed and not won, or on hold) or ``open``."""
    if deal.get("is_won") is True:
        return "won"
    if deal.get("is_closed") is True or deal.get("stage") in hold_stages:
        return "lost"
    return "open"


def _recency(deal: HubRecord) -> tuple[str, str, int]:
    return (str(deal.data.get("stage_changed_at") or ""), str(deal.data.get("close_date") or ""),
            deal.id)


@dataclass(frozen=True)
class PersonOutcome:
    """What a person's deals say: the stage and the deal that decided it."""

    stage: str
    deal: HubRecord


def decide(rules: OutcomeRules, deals: Sequence[HubRecord]) -> PersonOutcome | None:
    """The documented, order-independent result for one person's deals (None: no deals)."""
    by_state: dict[str, list[HubRecord]] = defaultdict(list)
    for d in deals:
        by_state[deal_state(d.data, rules.hold_stages)].append(d)
    for state, stage in (("won", "customer"), ("open", "opportunity"), ("lost", "recycled")):
        if by_state[state]:
            return PersonOutcome(stage, max(by_state[state], key=_recency))
    return None


def values_for(rules: OutcomeRules, outcome: PersonOutcome) -> dict[str, Any]:
    """Lead values an outcome sets (None clears a field)."""
    if outcome.stage != "recycled":
        return {"lifecycle_stage": outcome.stage, **_CLEARED}
    deal = outcome.deal.data
    lost = deal.get("lost_reason")
    reason = lost if isinstance(lost, str) and lost.strip() else (
        rules.hold_reason.render(Facts({}, extra=deal)) if rules.hold_reason else None)
    return {"lifecycle_stage": "recycled", "recycle_reason": (reason or None) and reason[:1000],
            "lost_reason": lost if deal.get("is_closed") is True else None,
            "recycle_content": deal.get("recycle_content"),
            "recycle_frequency": deal.get("recycle_frequency"),
            "recycle_email": deal.get("recycle_email")}


@dataclass
class OutcomePlan:
    """Lead id → the outcome its deals decide; contacts no hub lead matched."""

    outcomes: dict[int, PersonOutcome]
    unmatched: int = 0


def plan_outcomes(rules: OutcomeRules, data: RulesData,
                  changed_deals: Mapping[int, frozenset[str]]) -> OutcomePlan:
    """Index the changed deals' contacts and decide every person on them (batched reads)."""
    deals = data.records("deal", changed_deals)
    if not deals:
        return OutcomePlan({})
    tx = data.tx
    tx.match_keys.replace("deal", {d.id: [(CONTACT_KEY, k) for k in contact_keys(d.data)]
                                   for d in deals.values()}, names=[CONTACT_KEY])
    emails = sorted({k for d in deals.values() for k in contact_keys(d.data)})
    if not emails:
        return OutcomePlan({})
    found = tx.match_keys.find("deal", [(CONTACT_KEY, e) for e in emails])
    all_deals = data.records("deal", {i for ids in found.values() for i in ids})
    leads_found = tx.match_keys.find("lead", [(n, e) for n in data.email_keys for e in emails])
    lead_of: dict[str, int] = {}
    for (_, value), ids in sorted(leads_found.items()):
        lead_of.setdefault(value, ids[0])
    plan = OutcomePlan({})
    for e in emails:
        lead_id = lead_of.get(e)
        if lead_id is None:
            plan.unmatched += 1
            continue
        person_deals = [all_deals[i] for i in found.get((CONTACT_KEY, e), []) if i in all_deals]
        outcome = decide(rules, person_deals)
        if outcome is not None:
            plan.outcomes[lead_id] = outcome
    return plan


def apply_outcomes(rules: OutcomeRules, plan: OutcomePlan, leads: Mapping[int, HubRecord],
                   updates: dict[int, dict[str, Any]]) -> dict[int, str]:
    """Merge the planned values into ``updates`` (they override qualification's: the sales
    decision is the newer fact); returns lead id → stage for the leads that change."""
    decided: dict[int, str] = {}
    for lead_id in sorted(plan.outcomes):
        lead = leads.get(lead_id)
        if lead is None:
            continue
        outcome = plan.outcomes[lead_id]
        pending = updates.get(lead_id, {})
        current = {**lead.data, **pending}
        if lead.data.get("lifecycle_stage") == "customer" and outcome.stage != "customer":
            continue  # an upsell deal never un-makes a customer
        diff = {k: v for k, v in values_for(rules, outcome).items()
                if current.get(k) != v and not (v is None and current.get(k) is None)}
        if diff:
            updates.setdefault(lead_id, {}).update(diff)
            decided[lead_id] = outcome.stage
    return decided


__all__ = ["CONTACT_KEY", "RECYCLE_FIELDS", "OutcomePlan", "PersonOutcome", "apply_outcomes",
           "contact_keys", "deal_state", "decide", "plan_outcomes", "values_for"]
