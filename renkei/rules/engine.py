"""The rules phase: qualification, routing, alerts, deal outcomes and stale-deal alerts over
the changes of a run (leads, activities, deals), in one
transaction, written as hub changes (records + journal, source ``rules``) exactly like an
inbound page, so outbound sends them to every system and the journal tells who did it.

The phase keeps its own journal cursor (``cursors`` row ``rules``/``rules``): changes that
arrived outside a sync run (the webhook inbox) or in a run that stopped before its rules
phase are picked up by the next one, and nothing is applied twice. The cursor row is locked
first, so two runs on PostgreSQL never apply the same changes at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, update

from renkei.engine.merge import blank
from renkei.engine.stats import RuleStats
from renkei.entities import validate_entity
from renkei.rules.alerts import Drafts, activity_alerts, change_alerts, shift
from renkei.rules.capture import capture_leads
from renkei.rules.context import ALERT_KEY, ALERT_LEAD_KEY, RulesData, alert_id
from renkei.rules.deal_alerts import activity_deal_alerts, stalled_deal_alerts
from renkei.rules.decide import (
    Decision,
    RoundRobin,
    can_qualify,
    facts_for,
    qualify,
    route,
    wants_activities,
)
from renkei.rules.model import RuleSet
from renkei.rules.outcomes import OutcomePlan, apply_outcomes, plan_outcomes
from renkei.rules.touches import touch_updates
from renkei.store import ALL_FIELDS, HubRecord, Tx
from renkei.store import schema as t

SOURCE = "rules"
CURSOR = ("rules", "rules")
ROUND_ROBIN = ("rules:round_robin", "rules")
WINDOW = 5000

Changes = dict[str, dict[int, frozenset[str]]]
"""Entity → hub record id → the fields that changed."""


@dataclass
class RulesOutcome:
    """What one rules pass did."""

    stats: RuleStats = field(default_factory=RuleStats)
    qualified: dict[int, str] = field(default_factory=dict)
    """Lead id → qualification reason."""
    routed: dict[int, Decision] = field(default_factory=dict)
    alerts: list[int] = field(default_factory=list)
    """Hub ids of the alerts raised."""
    errors: list[str] = field(default_factory=list)
    outcomes: dict[int, str] = field(default_factory=dict)
    """Lead id → the lifecycle stage its deals moved it to."""
    unmatched_contacts: int = 0
    """Deal contacts with no hub lead (not created: they arrive from MA or SFA)."""

    def merge(self, other: RulesOutcome) -> None:
        for name in ("qualified", "routed", "alerts_created", "alerts_suppressed",
                     "alerts_without_owner", "failed"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(other.stats, name))
        self.qualified.update(other.qualified)
        self.routed.update(other.routed)
        self.alerts += other.alerts
        self.errors += other.errors
        self.outcomes.update(other.outcomes)
        self.unmatched_contacts += other.unmatched_contacts


def should_route(rules: RuleSet, lead: dict[str, Any]) -> bool:
    """An MQL (a stage in ``route_stages``) with no owner, or still in the default queue.
    An owner someone else set is never replaced (only by an explicit re-route)."""
    routing = rules.routing
    if routing is None or lead.get("lifecycle_stage") not in routing.route_stages:
        return False
    owner = lead.get("owner")
    return blank(owner) or owner == routing.default.owner


def apply_rules(rules: RuleSet, tx: Tx, changes: Changes, now: str, *,
                run_id: str | None = None, idle: bool = True,
                reroute: Iterable[int] = ()) -> RulesOutcome:
    """Qualify, route and raise alerts for the changed records, writing through ``tx``.

    Args:
        rules: The rule set.
        tx: The store transaction.
        changes: What changed (lead and activity records).
        now: Current time, canonical UTC (tests move it to make leads idle).
        run_id: Written to the journal.
        idle: Also look for leads left untouched (``on: idle`` rules).
        reroute: Leads to route again even though they have an owner (on request).
    """
    out = RulesOutcome()
    data = RulesData(tx, rules.email_keys)
    activities = list(data.records("activity", changes.get("activity", {})).values())
    data.index_activities(activities)
    lead_of = data.leads_of(activities)
    lead_of.update(capture_leads(tx, rules.email_keys, activities, lead_of, now, run_id))
    forced = set(reroute)
    plan = plan_outcomes(rules.outcomes, data, changes.get("deal", {})) \
        if rules.outcomes is not None else OutcomePlan({})
    out.unmatched_contacts += plan.unmatched
    leads = data.records("lead", set(changes.get("lead", {})) | set(lead_of.values()) | forced
                         | set(plan.outcomes))
    ordered = [leads[i] for i in sorted(leads)]
    accounts = data.accounts_of(ordered)
    updates: dict[int, dict[str, Any]] = {}
    if rules.qualification is not None:
        touch_updates(rules.qualification,
                      [(a, leads[lead_of[a.id]]) for a in activities if lead_of.get(a.id) in leads],
                      updates)
    _qualify(rules, data, ordered, accounts, now, updates, out)
    _route(rules, tx, ordered, accounts, updates, forced, out)
    if rules.outcomes is not None:
        out.outcomes = apply_outcomes(rules.outcomes, plan, leads, updates)
        for lid in out.outcomes:  # the deal outcome is the newer fact than a score
            out.qualified.pop(lid, None)
    changed = {i: frozenset(f) for i, f in changes.get("lead", {}).items()}
    for lid, values in _write_leads(rules, tx, leads, updates, now, run_id, out).items():
        changed[lid] = changed.get(lid, frozenset()) | frozenset(values)

    def facts_of(lead: HubRecord, fields: frozenset[str]) -> Any:
        return facts_for(lead.data, rules.routing, accounts.get(lead.id), changed=fields)

    drafts = Drafts({})
    change_alerts(drafts, rules.alerts, ordered, changed, facts_of, now, rules.owners)
    pairs = [(a, leads[lead_of[a.id]]) for a in activities if lead_of.get(a.id) in leads]
    activity_alerts(drafts, rules.alerts, pairs, facts_of, now, rules.owners)
    hold = rules.outcomes.hold_stages if rules.outcomes is not None else frozenset()
    activity_deal_alerts(drafts, rules.deal_alerts, data, pairs, hold, now, rules.owners)
    if idle:
        _idle(rules, data, drafts, now)
        stalled_deal_alerts(drafts, rules.deal_alerts, data, hold, now, rules.owners)
    _raise(tx, data, drafts, now, run_id, out)
    return out


def _qualify(rules: RuleSet, data: RulesData, leads: list[HubRecord],
             accounts: dict[int, dict[str, Any]], now: str,
             updates: dict[int, dict[str, Any]], out: RulesOutcome) -> None:
    q = rules.qualification
    if q is None:
        return
    # A touch moved in this pass (renkei.rules.touches) decides the channel's threshold.
    merged = {lead.id: {**lead.data, **updates.get(lead.id, {})} for lead in leads}
    candidates = [lead for lead in leads if can_qualify(q, merged[lead.id])]
    facts = {lead.id: facts_for(merged[lead.id], rules.routing, accounts.get(lead.id))
             for lead in candidates}
    need = [lead for lead in candidates if wants_activities(q, facts[lead.id])]
    activities = data.activities_of(need) if need else {}
    for lead in candidates:
        result = qualify(q, facts[lead.id], activities.get(lead.id, []))
        if result is not None:
            updates.setdefault(lead.id, {}).update({
                "lifecycle_stage": "mql", "mql_at": now,
                "qualification_reason": result.reason[:1000]})
            out.qualified[lead.id] = result.reason


def _route(rules: RuleSet, tx: Tx, leads: list[HubRecord], accounts: dict[int, dict[str, Any]],
           updates: dict[int, dict[str, Any]], forced: set[int], out: RulesOutcome) -> None:
    routing = rules.routing
    if routing is None:
        return
    state = tx.cursors.get(*ROUND_ROBIN) or {}
    rr = RoundRobin({str(k): int(v) for k, v in state.items()})
    for lead in leads:
        merged = {**lead.data, **updates.get(lead.id, {})}
        if lead.id not in forced and not should_route(rules, merged):
            continue
        decision = route(routing, rules.owners, facts_for(merged, routing, accounts.get(lead.id)),
                         rr)
        owner = rules.owners.owners.get(decision.owner or "")
        values = {"owner": decision.owner, "team": decision.team,
                  "owner_name": owner.name if owner else None,
                  "routing_rule": decision.routing_rule}
        diff = {k: v for k, v in values.items() if merged.get(k) != v}
        if diff:
            updates.setdefault(lead.id, {}).update(diff)
            out.routed[lead.id] = decision
    if rr.counters != state:
        tx.cursors.set(*ROUND_ROBIN, rr.counters)


def _write_leads(rules: RuleSet, tx: Tx, leads: dict[int, HubRecord],
                 updates: dict[int, dict[str, Any]], now: str, run_id: str | None,
                 out: RulesOutcome) -> dict[int, dict[str, Any]]:
    """Write rule changes like inbound does: data, field meta, version, journal."""
    written: dict[int, dict[str, Any]] = {}
    records: list[HubRecord] = []
    for lid in sorted(updates):
        values = updates[lid]
        errors = validate_entity("lead", values, partial=True)
        if errors:
            out.stats.failed += 1
            out.errors.append(f"lead {lid}: {'; '.join(errors)}")
            out.qualified.pop(lid, None)
            out.routed.pop(lid, None)
            out.outcomes.pop(lid, None)
            continue
        lead = leads[lid]
        for f, v in values.items():
            if blank(v):
                lead.data.pop(f, None)
            else:
                lead.data[f] = v
            lead.field_meta[f] = [SOURCE, now]
        lead.version += 1
        records.append(lead)
        written[lid] = values
    tx.records.update_many(records)
    tx.journal.append_many("lead", [(lid, sorted(v), SOURCE) for lid, v in written.items()],
                           run_id)
    out.stats.qualified += sum(1 for lid in out.qualified if lid in written)
    out.stats.routed += sum(1 for lid in out.routed if lid in written)
    return written


def _idle(rules: RuleSet, data: RulesData, drafts: Drafts, now: str) -> None:
    """Nags for owned leads with no change and no activity for ``days`` days; at most one
    open nag per lead (across all idle rules)."""
    idle_rules = sorted((r for r in rules.alerts if r.on == "idle"), key=lambda r: r.days or 0)
    if not idle_rules:
        return
    names = {r.name for r in idle_rules}
    nagged: set[int] = set()
    for rule in idle_rules:
        cutoff = shift(now, -(rule.days or 0))
        after = 0
        while True:
            page = data.idle_leads(cutoff, after_id=after)
            if not page:
                break
            after = page[-1][0].id
            stale = [(lead, at) for lead, at in page if lead.id not in nagged]
            activities = data.activities_of([lead for lead, _ in stale])
            alerts = data.alerts_of(lead.id for lead, _ in stale)
            for lead, changed_at in stale:
                last = max([changed_at, *(str(a.data.get("occurred_at") or "")
                                          for a in activities.get(lead.id, [])[:1])])
                if last >= cutoff or any(a.data.get("rule") in names
                                         and a.data.get("status") in (None, "open")
                                         for a in alerts.get(lead.id, [])):
                    continue
                facts = facts_for(lead.data, rules.routing)
                if rule.when.evaluate(facts)[0]:
                    before = len(drafts.items)
                    drafts.offer(rule, lead, facts, f"idle-since:{last}", now, rules.owners)
                    if len(drafts.items) > before:
                        nagged.add(lead.id)


def _raise(tx: Tx, data: RulesData, drafts: Drafts, now: str, run_id: str | None,
           out: RulesOutcome) -> None:
    out.stats.alerts_suppressed += drafts.suppressed
    out.stats.alerts_without_owner += drafts.no_owner
    existing = data.existing_alerts(drafts.items)
    new = [d for k, d in drafts.items.items() if k not in existing]
    valid = []
    for d in new:
        errors = validate_entity("alert", d.data, partial=False)
        if errors:
            out.stats.failed += 1
            about = f"deal {d.data['deal_id']}" if d.data.get("deal_id") else f"lead {d.lead_id}"
            out.errors.append(f"alert {d.data.get('rule')} for {about}: "
                              f"{'; '.join(errors)}")
        else:
            valid.append(d)
    if not valid:
        return
    ids = tx.records.insert_many("alert", [(d.data, {ALL_FIELDS: [SOURCE, now]}) for d in valid])
    tx.journal.append_many("alert", [(rid, sorted(d.data), SOURCE) for rid, d in zip(ids, valid)],
                           run_id)
    tx.match_keys.replace("alert", {rid: [(ALERT_KEY, d.key)] + (
                              [] if d.lead_id is None else [(ALERT_LEAD_KEY, str(d.lead_id))])
                                     for rid, d in zip(ids, valid)},
                          names=[ALERT_KEY, ALERT_LEAD_KEY])
    out.alerts += ids
    out.stats.alerts_created += len(ids)


def _lock_cursor(tx: Tx, now: str) -> int:
    # Write first, read second: the UPDATE takes SQLite's write lock and PostgreSQL's row
    # lock, so a concurrent run waits here instead of reading the same cursor.
    c = t.cursors
    done = tx.conn.execute(update(c).where(and_(c.c.mapping == CURSOR[0],
                                                c.c.direction == CURSOR[1]))
                           .values(updated_at=now))
    if done.rowcount == 0:
        tx.cursors.set(*CURSOR, {"seq": 0})
    return int((tx.cursors.get(*CURSOR) or {}).get("seq", 0))


def pending_changes(tx: Tx, after: int, limit: int = WINDOW) -> tuple[Changes, int]:
    """Lead, activity and deal changes journalled after ``after`` (the rules' own excepted),
    up to a window; returns them and the journal position they reach."""
    reads = {e: tx.journal.read(e, after=after, limit=limit)
             for e in ("lead", "activity", "deal")}
    full = [entries[-1].seq for entries in reads.values() if len(entries) == limit]
    upto = min(full) if full else max([after, *(es[-1].seq for es in reads.values() if es)])
    changes: Changes = {}
    for entity, entries in reads.items():
        per: dict[int, set[str]] = {}
        for e in entries:
            if e.seq <= upto and e.source != SOURCE:
                per.setdefault(e.record_id, set()).update(e.fields)
        changes[entity] = {rid: frozenset(f) for rid, f in per.items()}
    return changes, upto


def run_rules(rules: RuleSet, tx: Tx, now: str, *, run_id: str | None = None) -> RulesOutcome:
    """The rules phase of a sync run: every change since the rules' cursor, then the idle
    check, then the cursor moves, all in ``tx``."""
    seq = _lock_cursor(tx, now)
    total = RulesOutcome()
    while True:
        changes, upto = pending_changes(tx, seq)
        if upto == seq:
            break
        total.merge(apply_rules(rules, tx, changes, now, run_id=run_id, idle=False))
        seq = upto
    total.merge(apply_rules(rules, tx, {}, now, run_id=run_id, idle=True))
    tx.cursors.set(*CURSOR, {"seq": seq})
    return total


__all__ = ["Changes", "RulesOutcome", "alert_id", "apply_rules", "pending_changes", "run_rules",
           "should_route"]
