"""What a rule can see, and the compilation of ``when:`` blocks with positioned diagnostics.

Names resolve the same way in conditions and in templates: the rule's subject entity first
(the activity, for ``on: activity`` alert rules), then the lead, then the derived names;
``lead.x``, ``activity.x`` and ``account.x`` are explicit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from renkei import entities
from renkei.mapping.diagnostics import Diagnostic
from renkei.mapping.loader import Document, PathKey
from renkei.mapping.schema_check import suggest
from renkei.rules.conditions import CHANGE_OPS, ORDER_OPS, VALUE_OPS, Condition, FieldRef, Test

#: Derived names every rule can read, with their JSON type.
DERIVED: dict[str, str] = {"channel": "string", "region": "string", "named_account": "boolean"}


@dataclass(frozen=True)
class Scope:
    """Names a rule may use.

    Attributes:
        subject: ``lead`` or ``activity``: which entity bare names try first.
        extras: Template-only names (``rule``, ``days``).
        change_ops: Whether ``became``/``changed``/``crossed`` are allowed (change rules).
    """

    subject: str = "lead"
    extras: frozenset[str] = frozenset()
    change_ops: bool = False


def _visible(scope: Scope) -> list[str]:
    names = list(entities.entity_fields("lead")) + list(DERIVED) + sorted(scope.extras)
    if scope.subject == "activity":
        names = list(entities.entity_fields("activity")) + names
    return names


def resolve(name: str, scope: Scope) -> FieldRef | str:
    """The field ``name`` refers to, or a message saying why it is not one."""
    if "." in name:
        prefix, rest = name.split(".", 1)
        allowed = ["lead", "account"] + (["activity"] if scope.subject == "activity" else [])
        if prefix not in allowed:
            return f"unknown entity '{prefix}' (this rule can read {', '.join(allowed)})"
        fields = entities.entity_fields(prefix)
        if rest not in fields:
            return f"unknown field '{rest}' of {prefix}{suggest(rest, fields)}"
        return FieldRef(prefix, rest, name)
    if scope.subject == "activity" and name in entities.entity_fields("activity"):
        return FieldRef("activity", name, name)
    if name in entities.entity_fields("lead"):
        return FieldRef("lead", name, name)
    if name in DERIVED:
        return FieldRef("derived", name, name)
    if name in scope.extras:
        return FieldRef("extra", name, name)
    return f"unknown field '{name}' of {scope.subject}{suggest(name, _visible(scope))}"


def field_kind(ref: FieldRef) -> str | None:
    """JSON type of the referenced value (``string``, ``integer``, ...), None if unknown."""
    if ref.scope == "derived":
        return DERIVED[ref.field]
    if ref.scope == "extra":
        return None
    return entities.field_type(ref.scope, ref.field)


def allowed_values(ref: FieldRef, regions: Iterable[str] | None) -> tuple[Any, ...] | None:
    """The values a picklist (or region) may take; None when any value is fine."""
    if ref.scope == "derived":
        if ref.field == "channel":
            return entities.picklist_values("lead", "lead_source")
        if ref.field == "region" and regions is not None:
            return tuple(regions)
        return None
    if ref.scope in ("lead", "activity", "account") and entities.is_picklist(ref.scope, ref.field):
        return entities.picklist_values(ref.scope, ref.field)
    return None


@dataclass
class Builder:
    """Diagnostics of one rule document, and the tables cross-file checks need."""

    doc: Document
    problems: list[Diagnostic] = field(default_factory=list)
    regions: tuple[str, ...] | None = None

    def error(self, path: PathKey, message: str, *, at_key: bool = False) -> None:
        self.problems.append(self.doc.diagnostic(path, message, at_key=at_key))

    def warn(self, path: PathKey, message: str, *, at_key: bool = False) -> None:
        self.problems.append(self.doc.diagnostic(path, message, at_key=at_key, warning=True))

    def when(self, path: PathKey, when: Any, scope: Scope) -> Condition:
        """Compile a ``when:`` mapping; problems become diagnostics at the offending key."""
        if not isinstance(when, dict):
            return Condition()
        tests: list[Test] = []
        for key, matcher in when.items():
            ref = resolve(key, scope)
            if isinstance(ref, str):
                self.error((*path, key), ref, at_key=True)
                continue
            ops: list[tuple[str, Any]]
            if isinstance(matcher, dict):
                ops = list(matcher.items())
            elif isinstance(matcher, list):
                ops = [("in", matcher)]
            else:
                ops = [("eq", matcher)]
            for op, operand in ops:
                at = (*path, key, op) if isinstance(matcher, dict) else (*path, key)
                test = self._test(at, ref, str(op), operand, scope)
                if test is not None:
                    tests.append(test)
        return Condition(tuple(tests))

    def _test(self, at: PathKey, ref: FieldRef, op: str, operand: Any,
              scope: Scope) -> Test | None:
        kind = field_kind(ref)
        if op not in VALUE_OPS and op not in CHANGE_OPS:
            return None  # the schema check reports the unknown test
        if isinstance(operand, dict) or (isinstance(operand, list) != (op in ("in", "not_in"))):
            return None  # the schema check reports the wrong type
        if op in CHANGE_OPS:
            if not scope.change_ops:
                self.error(at, f"'{op}' only works in alert rules with `on: change`")
                return None
            if ref.scope != "lead":
                self.error(at, f"'{op}' needs a lead field; {ref.written} is not one")
                return None
        if op in ORDER_OPS or op == "crossed":
            numeric = kind in ("integer", "number")
            dated = ref.scope != "derived" and kind == "string" and ref.scope != "extra" \
                and entities.field_format(ref.scope, ref.field) == "date-time"
            if not (numeric or dated):
                self.error(at, f"'{op}' compares numbers or date-times; {ref.written} is "
                               f"{kind or 'untyped'}")
                return None
            if numeric and op != "crossed" and (
                    isinstance(operand, bool) or not isinstance(operand, (int, float))):
                self.error(at, f"'{op}' on {ref.written} needs a number")
                return None
        if op in ("eq", "ne", "in", "not_in", "became"):
            values = operand if isinstance(operand, list) else [operand]
            self._check_values(at, ref, kind, values)
        if isinstance(operand, list):
            if not all(isinstance(v, (str, int, float, bool)) or v is None for v in operand):
                return None  # the schema check reports nested lists and mappings
            operand = tuple(operand)
        return Test(ref, op, operand)

    def _check_values(self, at: PathKey, ref: FieldRef, kind: str | None,
                      values: list[Any]) -> None:
        allowed = allowed_values(ref, self.regions)
        for i, value in enumerate(values):
            where = (*at, i) if len(values) > 1 or isinstance(self._raw(at), list) else at
            if value is None:
                continue
            if allowed is not None and value not in allowed:
                shown = ", ".join(map(str, allowed[:12])) + (", ..." if len(allowed) > 12 else "")
                near = suggest(value, map(str, allowed)) if isinstance(value, str) else ""
                self.error(where, f"'{value}' is not a value of {ref.written} "
                                  f"(one of: {shown}){near}")
            elif kind == "boolean" and not isinstance(value, bool):
                self.error(where, f"{ref.written} is true or false, not '{value}'")
            elif kind in ("integer", "number") and (
                    isinstance(value, bool) or not isinstance(value, (int, float))):
                self.error(where, f"{ref.written} is a number, not '{value}'")

    def _raw(self, path: PathKey) -> Any:
        node: Any = self.doc.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node


__all__ = ["DERIVED", "Builder", "Scope", "allowed_values", "field_kind", "resolve"]
