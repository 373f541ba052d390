"""Conditions of rule files: ``when: {field: matcher}``, compiled once, evaluated with reasons.

A condition is a conjunction of tests on single values. Every evaluation also says *why*,
in words a sales manager can read (``behavior 42 ≥ 30``, ``region 近畿 not in [関東]``): the
qualification reason, the routing explanation and ``renkei route --explain`` are built from
these strings, so what the engine decided and what it says it decided cannot drift apart.

Example:
    >>> ref = FieldRef("lead", "behavior_score")
    >>> Condition((Test(ref, "gte", 30),)).evaluate(Facts({"behavior_score": 42}))
    (True, ['behavior 42 ≥ 30'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from renkei.mapping.loader import value_key
from renkei.mapping.normalize import text_key

#: Tests on one value; ``became``/``changed``/``crossed`` need to know what changed.
VALUE_OPS = ("eq", "ne", "in", "not_in", "gte", "gt", "lte", "lt", "blank", "contains")
CHANGE_OPS = ("became", "changed", "crossed")
ORDER_OPS = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<"}
_NEGATED = {"≥": "<", ">": "≤", "≤": ">", "<": "≥"}


@dataclass(frozen=True)
class FieldRef:
    """Where a condition or template reads a value.

    Attributes:
        scope: ``lead``, ``activity``, ``account`` (the lead's hub account), ``derived``
            (``channel``, ``region``, ``named_account``) or ``extra`` (template names such as
            ``rule`` and ``days``).
        field: The field or derived name.
        written: The name as the rule file wrote it (``lead.email``), for messages.
    """

    scope: str
    field: str
    written: str = ""

    @property
    def label(self) -> str:
        """The name in explanations: as written, with a ``_score`` suffix dropped."""
        name = self.written or self.field
        return name.removesuffix("_score")


@dataclass
class Facts:
    """What a condition can see about one lead (and the activity that triggered a rule)."""

    lead: Mapping[str, Any]
    activity: Mapping[str, Any] | None = None
    account: Mapping[str, Any] | None = None
    derived: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    changed: frozenset[str] = frozenset()

    def value(self, ref: FieldRef) -> Any:
        """The value ``ref`` points at; None when blank or absent."""
        source: Mapping[str, Any] | None = {
            "lead": self.lead, "activity": self.activity, "account": self.account,
            "derived": self.derived, "extra": self.extra}.get(ref.scope)
        return None if source is None else source.get(ref.field)


def is_blank(value: Any) -> bool:
    """None, an empty string or an empty list."""
    return value is None or value == "" or value == []


def show(value: Any) -> str:
    """A value as explanations print it (``true``, ``42``, ``関東``)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return value_key(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _ordered(value: Any, bound: Any, op: str) -> bool | None:
    """``value op bound``; None when the two cannot be compared (blank, wrong type)."""
    a, b = _number(value), _number(bound)
    if a is not None and b is not None:
        left: Any = a
        right: Any = b
    elif isinstance(value, str) and isinstance(bound, str):
        left, right = value, bound  # canonical UTC date-times compare as text
    else:
        return None
    return bool({"gte": left >= right, "gt": left > right,
                 "lte": left <= right, "lt": left < right}[op])


@dataclass(frozen=True)
class Test:
    """One test of one value (``behavior_score: {gte: 30}`` is ``Test(ref, "gte", 30)``)."""

    ref: FieldRef
    op: str
    operand: Any

    def evaluate(self, facts: Facts) -> tuple[bool, str]:
        """Whether the test holds, and why in words."""
        v = facts.value(self.ref)
        label = self.ref.label
        op, x = self.op, self.operand
        if op in CHANGE_OPS:
            return self._change(facts, v, label)
        if op == "blank":
            ok = is_blank(v) == bool(x)
            return ok, f"{label} is {'blank' if is_blank(v) else 'set'}"
        if is_blank(v) and op not in ("ne", "not_in"):
            return False, f"{label} is blank"
        if op in ("eq", "ne"):
            same = value_key(v) == value_key(x)
            if op == "eq":
                return same, f"{label} = {show(v)}" if same else f"{label} {show(v)} ≠ {show(x)}"
            why = f"{label} = {show(x)}" if same else f"{label} {show(v)} ≠ {show(x)}"
            return not same, why
        if op in ("in", "not_in"):
            inside = value_key(v) in {value_key(i) for i in x}
            ok = inside if op == "in" else not inside
            shown = "blank" if is_blank(v) else show(v)
            return ok, f"{label} {shown} {'in' if inside else 'not in'} {show(x)}"
        if op == "contains":
            ok = isinstance(v, str) and text_key(str(x)) in text_key(v)
            return ok, f"{label} {'contains' if ok else 'does not contain'} '{x}'"
        sign = ORDER_OPS[op]
        result = _ordered(v, x, op)
        if result is None:
            return False, f"{label} {show(v)} is not comparable with {show(x)}"
        return result, f"{label} {show(v)} {sign if result else _NEGATED[sign]} {show(x)}"

    def _change(self, facts: Facts, v: Any, label: str) -> tuple[bool, str]:
        if self.ref.scope != "lead" or self.ref.field not in facts.changed:
            return False, f"{label} did not change"
        if self.op == "changed":
            return bool(self.operand), f"{label} changed to {show(v)}"
        if self.op == "became":
            ok = value_key(v) == value_key(self.operand)
            return ok, f"{label} became {show(v)}"
        result = _ordered(v, self.operand, "gte")
        if not result:
            return False, f"{label} {show(v)} is below {show(self.operand)}"
        return True, f"{label} {show(v)} crossed {show(self.operand)}"


@dataclass(frozen=True)
class Condition:
    """Tests that must all hold; the empty condition always holds (a catch-all)."""

    tests: tuple[Test, ...] = ()

    def evaluate(self, facts: Facts) -> tuple[bool, list[str]]:
        """Whether every test holds, with the reason of each test (all are evaluated, so an
        explanation shows every failing test, not only the first)."""
        ok = True
        reasons: list[str] = []
        for test in self.tests:
            passed, why = test.evaluate(facts)
            ok = ok and passed
            reasons.append(why)
        return ok, reasons

    @property
    def catch_all(self) -> bool:
        """True when the condition holds for every lead."""
        return not self.tests

    def implied_by(self, other: Condition) -> bool:
        """True when every lead matching ``other`` also matches this condition (this one is
        at most as strict): a later rule with ``other`` can then never be reached."""
        return set(self.tests) <= set(other.tests)

    def refs(self) -> Sequence[FieldRef]:
        """The fields the condition reads."""
        return [t.ref for t in self.tests]


__all__ = [
    "CHANGE_OPS",
    "ORDER_OPS",
    "VALUE_OPS",
    "Condition",
    "Facts",
    "FieldRef",
    "Test",
    "is_blank",
    "show",
]
