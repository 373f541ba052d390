"""Semantic checks and compilation of each kind of rule file.

Runs after the JSON Schema check and, like the mapping builder, skips what the schema already
rejected, so one run reports every problem of a file.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from renkei import entities
from renkei.mapping.normalize import company_key
from renkei.rules.conditions import Condition, FieldRef
from renkei.rules.model import (
    ACCOUNT_OWNER,
    QUALIFY_FROM_DEFAULT,
    AlertRule,
    Assignment,
    NamedAccount,
    Owner,
    Owners,
    Qualification,
    QualificationRule,
    Routing,
    RoutingRule,
)
from renkei.rules.scope import Builder, Scope, resolve
from renkei.rules.templates import Template, parse_template


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _errors(b: Builder) -> int:
    return sum(1 for d in b.problems if d.is_error)


def _names(b: Builder, rules: list[tuple[int, dict[str, Any]]]) -> None:
    seen: dict[str, int] = {}
    for i, rule in rules:
        name = rule.get("name")
        if not isinstance(name, str):
            continue
        if name in seen:
            line = b.doc.position(("rules", seen[name], "name"))[0]
            b.error(("rules", i, "name"), f"duplicate rule name '{name}' (first on line {line})")
        else:
            seen[name] = i


def _alert_types() -> tuple[Any, ...]:
    return entities.picklist_values("alert", "type")


def build_owners(b: Builder, data: dict[str, Any]) -> Owners:
    """Owners and teams; alert types checked against the alert entity's types."""
    owners = Owners()
    types = _alert_types()

    def type_list(path: tuple[str | int, ...], value: Any) -> frozenset[str] | None:
        if not isinstance(value, list):
            return None
        for i, t in enumerate(value):
            if t not in types:
                b.error((*path, i), f"'{t}' is not an alert type (one of: "
                                    f"{', '.join(map(str, types))})")
        return frozenset(str(t) for t in value)

    owners.default_alerts = type_list(("default_alerts",), data.get("default_alerts"))
    raw_owners = data.get("owners")
    for code, spec in (raw_owners.items() if isinstance(raw_owners, dict) else ()):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            continue
        owners.owners[code] = Owner(code, spec["name"],
                                    type_list(("owners", code, "alerts"), spec.get("alerts")),
                                    bool(spec.get("quiet", False)))
    raw_teams = data.get("teams")
    for team, members in (raw_teams.items() if isinstance(raw_teams, dict) else ()):
        if not isinstance(members, list):
            continue
        for i, code in enumerate(members):
            if isinstance(raw_owners, dict) and code not in owners.owners:
                b.error(("teams", team, i), f"unknown owner '{code}': declare it under owners")
        owners.teams[team] = tuple(str(m) for m in members)
    return owners


def _check_owner(b: Builder, owners: Owners | None, path: tuple[str | int, ...],
                 code: Any, *, account: bool = False) -> None:
    if owners is None or not isinstance(code, str) or (account and code == ACCOUNT_OWNER):
        return
    if code not in owners.owners:
        b.error(path, f"unknown owner '{code}' (not in the owners file)")


def _check_team(b: Builder, owners: Owners | None, path: tuple[str | int, ...],
                team: Any) -> None:
    if owners is not None and isinstance(team, str) and team not in owners.teams:
        b.error(path, f"unknown team '{team}' (teams: {', '.join(owners.teams)})")


def _regions(b: Builder, data: dict[str, Any]) -> dict[str, str]:
    table: dict[str, str] = {}
    raw = data.get("regions")
    prefectures = entities.picklist_values("lead", "prefecture")
    for region, members in (raw.items() if isinstance(raw, dict) else ()):
        for i, pref in enumerate(members if isinstance(members, list) else ()):
            if pref not in prefectures:
                b.error(("regions", region, i), f"'{pref}' is not a prefecture")
            elif pref in table:
                b.error(("regions", region, i), f"{pref} is already in region {table[pref]}")
            else:
                table[pref] = region
    if isinstance(raw, dict) and raw:
        missing = [p for p in prefectures if p not in table]
        if missing:
            b.warn(("regions",), f"prefectures in no region (their leads match no region "
                                 f"rule): {', '.join(map(str, missing))}", at_key=True)
    return table


def build_routing(b: Builder, data: dict[str, Any], owners: Owners | None) -> Routing:
    """Routing rules; owners/teams checked when an owners file is present."""
    regions = _regions(b, data)
    b.regions = tuple(dict.fromkeys(regions.values()))
    stages = entities.picklist_values("lead", "lifecycle_stage")
    route_stages = data.get("route_stages") or ["mql"]
    for i, stage in enumerate(route_stages):
        if stage not in stages:
            b.error(("route_stages", i), f"'{stage}' is not a lifecycle stage")
    named: dict[str, NamedAccount] = {}
    for i, acc in _items(data, "named_accounts"):
        _check_owner(b, owners, ("named_accounts", i, "owner"), acc.get("owner"))
        _check_team(b, owners, ("named_accounts", i, "team"), acc.get("team"))
        key = company_key(str(acc.get("name", "")))
        if key in named:
            b.error(("named_accounts", i, "name"), f"'{acc.get('name')}' is the same company "
                                                   f"as '{named[key].name}'")
        elif key:
            named[key] = NamedAccount(str(acc["name"]), str(acc.get("owner")), acc.get("team"))
    default = _mapping(data.get("default"))
    _check_team(b, owners, ("default", "team"), default.get("team"))
    _check_owner(b, owners, ("default", "owner"), default.get("owner"))
    rules_raw = _items(data, "rules")
    _names(b, rules_raw)
    rules: list[RoutingRule] = []
    positions: list[int] = []
    compiled: list[RoutingRule] = []
    for i, raw in rules_raw:
        before = _errors(b)
        when = b.when(("rules", i, "when"), raw.get("when"), Scope())
        # A rule whose conditions did not compile (or that has unknown keys) is not what
        # its author wrote: judging reachability on it would only add false alarms.
        judged = _errors(b) == before and set(raw) <= {"name", "description", "when", "assign"}
        assign = _mapping(raw.get("assign"))
        team, owner = assign.get("team"), assign.get("owner")
        _check_team(b, owners, ("rules", i, "assign", "team"), team)
        _check_owner(b, owners, ("rules", i, "assign", "owner"), owner, account=True)
        if owners is not None and owner is None and isinstance(team, str) \
                and team in owners.teams and not owners.teams[team]:
            b.error(("rules", i, "assign", "team"), f"team '{team}' has no members to "
                                                    "round-robin over: add members or an owner")
        name = str(raw.get("name", f"rule{i + 1}"))
        rule = RoutingRule(name, when, Assignment(team, owner))
        compiled.append(rule)
        if judged:
            _unreachable(b, rules, positions, rule, i)
            rules.append(rule)
            positions.append(i)
    return Routing(tuple(compiled), Assignment(default.get("team"), default.get("owner")),
                   regions, named, frozenset(map(str, route_stages)))


def _unreachable(b: Builder, earlier: list[RoutingRule], positions: list[int],
                 rule: RoutingRule, index: int) -> None:
    for prev, at in zip(earlier, positions):
        # An account-owner rule falls through when no account owner is known: it shadows
        # nothing.
        if prev.assign.owner == ACCOUNT_OWNER or not prev.when.implied_by(rule.when):
            continue
        line = b.doc.position(("rules", at, "name"))[0]
        if prev.when.catch_all:
            why = (f"it comes after the catch-all rule '{prev.name}' (line {line}), which "
                   "matches every lead")
        else:
            why = f"rule '{prev.name}' (line {line}) already matches every lead this one does"
        b.error(("rules", index, "name"), f"unreachable rule '{rule.name}': {why}")
        return


def build_qualification(b: Builder, data: dict[str, Any]) -> Qualification:
    """Per-channel MQL thresholds."""
    channels_known = entities.picklist_values("lead", "lead_source")
    rules_raw = _items(data, "rules")
    _names(b, rules_raw)
    rules: list[QualificationRule] = []
    for i, raw in rules_raw:
        channel = raw.get("channel")
        listed = channel if isinstance(channel, list) else [channel] if channel else []
        for j, c in enumerate(listed):
            if c not in channels_known:
                at = ("rules", i, "channel", j) if isinstance(channel, list) else \
                    ("rules", i, "channel")
                b.error(at, f"'{c}' is not a channel (one of: "
                            f"{', '.join(map(str, channels_known))})")
        before = _errors(b)
        when = b.when(("rules", i, "when"), raw.get("when"), Scope())
        activity = None
        if "activity" in raw:
            activity = b.when(("rules", i, "activity"), raw.get("activity"),
                              Scope(subject="activity"))
            if any(r.scope != "activity" for r in activity.refs()):
                b.error(("rules", i, "activity"), "activity conditions test activity fields "
                                                  "only (type, percent, minutes, ...)", at_key=True)
        if not when.tests and activity is None and _errors(b) == before:
            b.error(("rules", i, "name"), "a qualification rule needs `when` or `activity` "
                                          "conditions: it would qualify every lead")
        rules.append(QualificationRule(str(raw.get("name", f"rule{i + 1}")),
                                       frozenset(map(str, listed)) or None, when, activity))
    qualify_from = data.get("qualify_from")
    return Qualification(tuple(rules), frozenset(qualify_from) if isinstance(qualify_from, list)
                         else QUALIFY_FROM_DEFAULT)


def _resolve_in(scope: Scope, name: str) -> FieldRef | str:
    return resolve(name, scope)


def build_alerts(b: Builder, data: dict[str, Any]) -> tuple[AlertRule, ...]:
    """Alert rules with their templates."""
    rules_raw = _items(data, "rules")
    _names(b, rules_raw)
    types = _alert_types()
    out: list[AlertRule] = []
    for i, raw in rules_raw:
        on = str(raw.get("on", "change"))
        if on == "idle" and "days" not in raw:
            b.error(("rules", i, "on"), "an idle rule needs `days`: how long untouched")
        if on != "idle" and "days" in raw:
            b.error(("rules", i, "days"), "`days` only applies to `on: idle` rules", at_key=True)
        scope = Scope(subject="activity" if on == "activity" else "lead",
                      extras=frozenset({"rule", "days"} if on == "idle" else {"rule"}),
                      change_ops=on == "change")
        when = b.when(("rules", i, "when"), raw.get("when"), scope)
        if on == "change" and not any(t.op in ("became", "changed", "crossed")
                                      for t in when.tests):
            b.error(("rules", i, "when"), "a change rule needs a `became`, `changed` or "
                                          "`crossed` test: what change raises the alert?",
                    at_key=True)
        alert = _mapping(raw.get("alert"))
        if alert.get("type") is not None and alert.get("type") not in types:
            b.error(("rules", i, "alert", "type"), f"'{alert.get('type')}' is not an alert type "
                                                   f"(one of: {', '.join(map(str, types))})")
        templates: dict[str, Template | None] = {}
        for key in ("title", "message", "next_action"):
            text = alert.get(key)
            if not isinstance(text, str):
                templates[key] = None
                continue
            template, errors = parse_template(text, partial(_resolve_in, scope))
            for message in errors:
                b.error(("rules", i, "alert", key), message)
            templates[key] = template
        out.append(AlertRule(
            name=str(raw.get("name", f"rule{i + 1}")), on=on, when=when,
            type=str(alert.get("type", "other")), title=templates["title"] or Template(()),
            priority=str(alert.get("priority", "normal")), message=templates["message"],
            next_action=templates["next_action"], due_in_days=alert.get("due_in_days"),
            days=raw.get("days")))
    return tuple(out)


__all__ = ["Condition", "build_alerts", "build_owners", "build_qualification", "build_routing"]
