"""The decisions, pure (no I/O): does a lead qualify, and which team and owner get it.

Routing is ordered and first-match-wins; every rule is still evaluated so that an
explanation can show *why* each earlier rule did not match and which later ones would also
have matched (the classic "account rep and product rep both think it is theirs" overlap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from renkei.mapping.normalize import company_key
from renkei.rules.conditions import Facts, is_blank
from renkei.rules.model import ACCOUNT_OWNER, Owners, Qualification, Routing, RoutingRule
from renkei.store import HubRecord


def channel_of(lead: Mapping[str, Any]) -> str | None:
    """The lead's channel: the last touch when known, else the first (lead source)."""
    value = lead.get("last_touch_channel") or lead.get("lead_source")
    return str(value) if value else None


def facts_for(lead: Mapping[str, Any], routing: Routing | None,
              account: Mapping[str, Any] | None = None, *,
              changed: frozenset[str] = frozenset()) -> Facts:
    """Everything a rule can read about one lead, derived names included."""
    company = lead.get("company")
    key = company_key(company) if isinstance(company, str) and company else ""
    named = bool(routing and key and key in routing.named_accounts) or bool(
        account and account.get("named_account"))
    region = routing.regions.get(str(lead.get("prefecture"))) if routing else None
    return Facts(lead, account=account, changed=changed,
                 derived={"channel": channel_of(lead), "region": region, "named_account": named})


@dataclass
class Qualified:
    rule: str
    reason: str


def can_qualify(q: Qualification, lead: Mapping[str, Any]) -> bool:
    """Blank or an early stage (never sql/opportunity/customer, never disqualified)."""
    stage = lead.get("lifecycle_stage")
    return is_blank(stage) or stage in q.qualify_from


def wants_activities(q: Qualification, facts: Facts) -> bool:
    """Whether a rule for this lead's channel looks at activities (they are then loaded)."""
    channel = facts.derived.get("channel")
    return any(r.activity is not None and (r.channels is None or channel in r.channels)
               for r in q.rules)


def qualify(q: Qualification, facts: Facts, activities: Sequence[HubRecord]) -> Qualified | None:
    """The first rule for the lead's channel whose thresholds the lead meets, if any."""
    channel = facts.derived.get("channel")
    for rule in q.rules:
        if rule.channels is not None and channel not in rule.channels:
            continue
        ok, reasons = rule.when.evaluate(facts)
        if not ok:
            continue
        if rule.activity is not None:
            for a in activities:
                hit, why = rule.activity.evaluate(Facts(facts.lead, activity=a.data))
                if hit:
                    reasons.append(f"activity ({', '.join(why)})")
                    break
            else:
                continue
        return Qualified(rule.name, f"{rule.name}: {', '.join(reasons)}")
    return None


@dataclass
class RoundRobin:
    """Deterministic round-robin within each team: the n-th lead routed to a team goes to
    member n mod size. The counters live in the store, so runs continue the rotation."""

    counters: dict[str, int] = field(default_factory=dict)

    def pick(self, team: str, members: Sequence[str], *, peek: bool = False) -> str:
        n = self.counters.get(team, 0)
        if not peek:
            self.counters[team] = n + 1
        return members[n % len(members)]


@dataclass
class RuleTrace:
    """How one routing rule judged the lead."""

    name: str
    matched: bool
    reasons: list[str]


@dataclass
class Decision:
    """Where a lead goes and why."""

    rule: str
    team: str | None
    owner: str | None
    reason: str
    trace: list[RuleTrace]
    is_default: bool = False

    @property
    def routing_rule(self) -> str:
        """What the lead's ``routing_rule`` field stores: the rule name and its reason."""
        return f"{self.rule}: {self.reason}"[:1000]


def _account_owner(routing: Routing, facts: Facts) -> tuple[str | None, str | None, str]:
    account = facts.account or {}
    if account.get("owner"):
        name = account.get("name") or "the account"
        return str(account["owner"]), None, f"account owner of {name}"
    company = facts.lead.get("company")
    named = routing.named_accounts.get(company_key(company)) \
        if isinstance(company, str) and company else None
    if named is not None:
        return named.owner, named.team, f"named account {named.name}"
    return None, None, "no account owner known"


def _assign(rule: RoutingRule, routing: Routing, owners: Owners, facts: Facts,
            rr: RoundRobin, peek: bool) -> tuple[str | None, str | None, str] | None:
    team, owner = rule.assign.team, rule.assign.owner
    if owner == ACCOUNT_OWNER:
        owner, named_team, how = _account_owner(routing, facts)
        if owner is None:
            return None
        return team or named_team or owners.team_of(owner), owner, how
    if owner is not None:
        return team or owners.team_of(owner), owner, "fixed owner"
    assert team is not None  # the loader refuses an assignment with neither
    members = owners.teams.get(team, ())
    if not members:
        return team, None, f"team {team} has no members"
    return team, rr.pick(team, members, peek=peek), f"round-robin in {team}"


def route(routing: Routing, owners: Owners, facts: Facts, rr: RoundRobin, *,
          peek: bool = False) -> Decision:
    """First matching rule wins; no match (or no account owner) → the default queue.

    Args:
        peek: Do not advance the round-robin (explanations).
    """
    trace: list[RuleTrace] = []
    decision: Decision | None = None
    for rule in routing.rules:
        ok, reasons = rule.when.evaluate(facts)
        if ok and decision is None:
            assigned = _assign(rule, routing, owners, facts, rr, peek)
            if assigned is None:
                trace.append(RuleTrace(rule.name, False, [*reasons, "no account owner known"]))
                continue
            team, owner, how = assigned
            why = ", ".join(reasons) or "matches every lead"
            decision = Decision(rule.name, team, owner, f"{why} → {how}", [])
        trace.append(RuleTrace(rule.name, ok, reasons or ["matches every lead"]))
    if decision is None:
        d = routing.default
        decision = Decision("default", d.team, d.owner, "no rule matched → default queue", [],
                            is_default=True)
    decision.trace = trace
    return decision


__all__ = ["Decision", "Qualified", "RoundRobin", "RuleTrace", "can_qualify", "channel_of",
           "facts_for", "qualify", "route", "wants_activities"]
