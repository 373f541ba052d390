"""``renkei route --explain EMAIL`` and ``--reroute``: routing of one hub lead, in words.

The explanation evaluates every routing rule (not only up to the winner), so overlapping
rules show up: "matched, but an earlier rule won".
"""

from __future__ import annotations

from dataclasses import dataclass

from renkei.mapping.normalize import email_key
from renkei.redact import mask_text
from renkei.rules.decide import RoundRobin, facts_for, route
from renkei.rules.engine import ROUND_ROBIN, SOURCE, RulesOutcome, apply_rules, should_route
from renkei.rules.model import RuleSet
from renkei.store import HubRecord, Tx


class LeadNotFoundError(LookupError):
    """No hub lead has the e-mail address."""


def find_lead(rules: RuleSet, tx: Tx, email: str) -> HubRecord:
    """The hub lead with this e-mail (lowest id if several).

    Raises:
        LeadNotFoundError: no lead has it.
    """
    key = email_key(email)
    found = tx.match_keys.find("lead", [(name, key) for name in rules.email_keys])
    ids = sorted({i for ids in found.values() for i in ids})
    leads = [r for r in tx.records.get_many(ids).values() if r.entity == "lead"]
    if not leads:
        raise LeadNotFoundError(f"no hub lead with the e-mail {mask_text(email)} "
                                "(has it been synced? renkei sync lead)")
    return min(leads, key=lambda r: r.id)


@dataclass
class Explanation:
    lead: HubRecord
    lines: list[str]


def explain_route(rules: RuleSet, tx: Tx, email: str) -> Explanation:
    """Each routing rule in order, matched or not and why, and the decision. Writes nothing.

    Raises:
        LeadNotFoundError: no lead has the e-mail.
        ValueError: the rule set has no routing file.
    """
    if rules.routing is None:
        raise ValueError("no routing rules (a rule file with `kind: routing`)")
    lead = find_lead(rules, tx, email)
    data = lead.data
    account = None
    if str(data.get("account_id") or "").isdigit():
        acc = tx.records.get_many([int(str(data["account_id"]))]).get(int(str(data["account_id"])))
        account = acc.data if acc is not None and acc.entity == "account" else None
    state = tx.cursors.get(*ROUND_ROBIN) or {}
    rr = RoundRobin({str(k): int(v) for k, v in state.items()})
    decision = route(rules.routing, rules.owners, facts_for(data, rules.routing, account), rr,
                     peek=True)
    name = " ".join(str(data[k]) for k in ("last_name", "first_name") if data.get(k))
    head = (f"lead {lead.id} {name} <{mask_text(str(data.get('email', '')))}>: "
            f"stage {data.get('lifecycle_stage') or '—'}, owner {data.get('owner') or '—'}, "
            f"team {data.get('team') or '—'}")
    lines = [head]
    won = False
    width = max(len(r.name) for r in decision.trace) if decision.trace else 0
    for i, step in enumerate(decision.trace, 1):
        why = "; ".join(step.reasons)
        if step.matched and not won and step.name == decision.rule:
            verdict, won = "MATCHED", True
        elif step.matched:
            verdict = "matched, but an earlier rule won" if won else "not matched"
        else:
            verdict = "not matched"
        lines.append(f"  {i:>2}. {step.name:<{width}}  {verdict}: {why}")
    owner = decision.owner or "—"
    routed_next = should_route(rules, data)
    # An owned lead keeps its owner; what the rules would pick for it now (the round-robin
    # has moved on since) is only what --reroute would do.
    label = "decision" if routed_next else "decision if re-routed now"
    lines.append(f"{label}: {decision.rule} → team {decision.team or '—'}, owner {owner} "
                 f"({decision.reason})")
    if not routed_next:
        if data.get("lifecycle_stage") not in rules.routing.route_stages:
            lines.append(f"note: stage {data.get('lifecycle_stage') or '—'} is not routed "
                         f"(route_stages: {', '.join(sorted(rules.routing.route_stages))})")
        elif (lead.source("owner") or [None])[0] == SOURCE:
            lines.append(f"note: already routed to {data.get('owner')} by the rules; routing "
                         "runs once per lead (renkei route --reroute to route it again)")
        else:
            lines.append(f"note: owned by {data.get('owner')}, set in "
                         f"{(lead.source('owner') or ['a system'])[0]}: routing never "
                         "replaces an owner sales set (renkei route --reroute to route it again)")
    return Explanation(lead, lines)


def reroute(rules: RuleSet, tx: Tx, email: str, now: str) -> RulesOutcome:
    """Route the lead again even though it has an owner; the change is journalled, so the
    next sync sends it everywhere.

    Raises:
        LeadNotFoundError: no lead has the e-mail.
    """
    lead = find_lead(rules, tx, email)
    return apply_rules(rules, tx, {}, now, idle=False, reroute=[lead.id])


__all__ = ["Explanation", "LeadNotFoundError", "explain_route", "find_lead", "reroute"]
