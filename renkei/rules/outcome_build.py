"""Semantic checks and compilation of ``kind: outcomes`` and ``kind: deal_alerts`` files.

Runs after the JSON Schema check (like :mod:`renkei.rules.build`), so only what the schema
cannot say is checked here: template placeholders, alert types, owners of the owners file.
"""

from __future__ import annotations

from typing import Any

from renkei import entities
from renkei.mapping.schema_check import suggest
from renkei.rules.build import _alert_types, _items, _mapping, _names
from renkei.rules.conditions import FieldRef
from renkei.rules.model import DealAlertRule, ListSync, OutcomeRules, Owners
from renkei.rules.scope import Builder
from renkei.rules.templates import Template, parse_template

DEFAULT_HOLD_REASON = "not now ({stage})"


def deal_field(name: str) -> FieldRef | str:
    """Template names of deal rules: a deal field, ``days``, or ``lead.<field>`` (the contact)."""
    if name.startswith("lead."):
        rest = name[5:]
        fields = entities.entity_fields("lead")
        if rest not in fields:
            return f"unknown field '{rest}' of lead{suggest(rest, fields)}"
        return FieldRef("lead", rest, name)
    fields = entities.entity_fields("deal")
    if name == "days" or name in fields:
        return FieldRef("extra", name, name)
    return f"unknown deal field '{name}'{suggest(name, [*fields, 'days'])}"


def _template(b: Builder, path: tuple[str | int, ...], text: Any) -> Template | None:
    if not isinstance(text, str):
        return None
    template, errors = parse_template(text, deal_field)
    for message in errors:
        b.error(path, message)
    return template


def build_outcomes(b: Builder, data: dict[str, Any]) -> OutcomeRules:
    """The outcomes file: hold stages, the recycle reason of on-hold deals, the list."""
    hold = data.get("hold_stages")
    raw_list = _mapping(data.get("marketo_list"))
    listed = None
    if isinstance(raw_list.get("mapping"), str) and isinstance(raw_list.get("list_id"), int):
        listed = ListSync(raw_list["mapping"], raw_list["list_id"])
    reason = _template(b, ("hold_reason",), data.get("hold_reason", DEFAULT_HOLD_REASON))
    return OutcomeRules(frozenset(map(str, hold)) if isinstance(hold, list) else frozenset(),
                        reason, listed)


def build_deal_alerts(b: Builder, data: dict[str, Any],
                      owners: Owners | None) -> tuple[DealAlertRule, ...]:
    """Stale-deal rules; a ``stalled`` rule needs stages and an owner of the owners file."""
    rules_raw = _items(data, "rules")
    _names(b, rules_raw)
    types = _alert_types()
    out: list[DealAlertRule] = []
    for i, raw in rules_raw:
        on = str(raw.get("on", "activity"))
        owner = raw.get("owner")
        if on == "stalled":
            if "stages" not in raw:
                b.error(("rules", i, "on"), "a stalled rule needs `stages`: which stages "
                                            "(e.g. 見積提出) stall")
            if not isinstance(owner, str):
                b.error(("rules", i, "on"), "a stalled rule needs `owner`: who gets the task "
                                            "(e.g. the inside sales owner)")
            elif owners is None:
                b.error(("rules", i, "owner"), "`owner` needs the owners file: add a rule file "
                                               "with `kind: owners`")
            elif owner not in owners.owners:
                # A warning, not an error: the task still reaches that code (with the
                # default alert types), as alerts to owners the file does not list do.
                b.warn(("rules", i, "owner"), f"unknown owner '{owner}' (not in the owners "
                                              "file)")
        elif "owner" in raw:
            b.error(("rules", i, "owner"), "activity rules alert the deal's own owner: remove "
                                           "`owner`", at_key=True)
        if on != "activity" and "activity_types" in raw:
            b.error(("rules", i, "activity_types"), "`activity_types` only applies to "
                                                    "`on: activity` rules", at_key=True)
        alert = _mapping(raw.get("alert"))
        if alert.get("type") is not None and alert.get("type") not in types:
            b.error(("rules", i, "alert", "type"), f"'{alert.get('type')}' is not an alert type "
                                                   f"(one of: {', '.join(map(str, types))})")
        stages, kinds = raw.get("stages"), raw.get("activity_types")
        out.append(DealAlertRule(
            name=str(raw.get("name", f"rule{i + 1}")), on=on, days=int(raw.get("days") or 1),
            type=str(alert.get("type", "other")),
            title=_template(b, ("rules", i, "alert", "title"), alert.get("title")) or Template(()),
            stages=frozenset(map(str, stages)) if isinstance(stages, list) else None,
            activity_types=frozenset(map(str, kinds)) if isinstance(kinds, list) else None,
            owner=owner if isinstance(owner, str) else None,
            priority=str(alert.get("priority", "normal")),
            message=_template(b, ("rules", i, "alert", "message"), alert.get("message")),
            next_action=_template(b, ("rules", i, "alert", "next_action"),
                                  alert.get("next_action")),
            due_in_days=alert.get("due_in_days")))
    return tuple(out)


__all__ = ["DEFAULT_HOLD_REASON", "build_deal_alerts", "build_outcomes", "deal_field"]
