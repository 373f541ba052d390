"""Binding a parsed SOQL query to an object's fields: names, types, predicates, sort keys.

[C: SOQL and SOSL Reference, unless marked] text comparisons (``=``, ``IN``, ``LIKE``)
ignore case; ``!=`` and ``NOT IN`` also match nulls [S]; ``LIKE`` knows ``%`` and ``_``
and their backslash escapes; a datetime field compares only with datetime or date literals
(``TODAY``), never with a quoted string (INVALID_FIELD "value of filter criterion ... should
not be enclosed in quotes") [S]; ascending sorts put nulls first, descending ones last,
unless NULLS FIRST/LAST says; ``OFFSET`` is at most 2000 (NUMBER_OUTSIDE_VALID_RANGE) [S];
textarea fields can be neither filtered nor sorted. A parent's field (``Contact.Email``,
the lookup's name without ``Id``) may be selected, not filtered or sorted on here [U: real
SOQL allows both]; it comes back as a nested object, null when the lookup is empty [C].
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime
from typing import Any

from sandbox.salesforce.ids import to_18
from sandbox.salesforce.schema import FieldDef, ObjectDef, object_def
from sandbox.salesforce.soql import (
    LIKE_PERCENT,
    LIKE_UNDERSCORE,
    And,
    Comparison,
    Cond,
    DateLiteral,
    Not,
    Or,
    Query,
    SoqlError,
)
from sandbox.salesforce.store import format_ts

__all__ = ["MAX_OFFSET", "Binder", "Bound", "ParentField", "Predicate", "sort_key"]

Record = dict[str, Any]
Predicate = Callable[[Record], bool]

_TEXT = {"string", "email", "phone", "url", "picklist", "combobox", "textarea", "id",
         "reference"}
_NUMBER = {"int", "double", "currency", "percent"}
MAX_OFFSET = 2000


def _invalid_field(text: str, name: str, odef: ObjectDef) -> SoqlError:
    m = re.search(r"\b" + re.escape(name) + r"\b", text)
    col = (m.start() if m else 0) + 1
    return SoqlError(
        "INVALID_FIELD",
        f"\n{text}\n{' ' * (col - 1)}^\nERROR at Row:1:Column:{col}\nNo such column '{name}' "
        f"on entity '{odef.name}'. If you are attempting to use a custom field, be sure to "
        "append the '__c' after the custom field name. Please reference your WSDL or the "
        "describe call for the appropriate names.")


def _filter_error(fd: FieldDef, kind: str, quoted: bool) -> SoqlError:
    tail = ("should not be enclosed in quotes" if not quoted
            else "should be enclosed in quotes")
    return SoqlError("INVALID_FIELD",
                     f"value of filter criterion for field '{fd.name}' must be of type {kind} "
                     f"and {tail}")


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(_unescape(ch)))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _unescape(text: str) -> str:
    """Escaped LIKE characters back to themselves (outside LIKE they are plain text)."""
    return text.replace(LIKE_PERCENT, "%").replace(LIKE_UNDERSCORE, "_")


@dataclass(frozen=True)
class ParentField:
    """A selected field of a parent record (``Contact.Email``): the lookup, its target object
    and the target's field."""

    lookup: FieldDef
    target: ObjectDef
    field: FieldDef

    @property
    def relationship(self) -> str:
        return self.lookup.name[:-2]


@dataclass
class Bound:
    """A query bound to one object's fields."""

    odef: ObjectDef
    fields: list[FieldDef]
    predicate: Predicate | None
    order: list[tuple[FieldDef, bool, bool]]
    lower_stamp: tuple[str, bool] | None  # (stamp, strict) from a top-level SystemModstamp bound
    only_stamp: bool  # the WHERE is nothing but SystemModstamp lower bounds
    parents: list[ParentField] = dataclass_field(default_factory=list)


class Binder:
    def __init__(self, text: str, query: Query, odef: ObjectDef, today: date):
        self.text, self.q, self.odef, self.today = text, query, odef, today

    def field(self, name: str) -> FieldDef:
        fd = self.odef.field(name)
        if fd is None:
            raise _invalid_field(self.text, name, self.odef)
        return fd

    def parent_field(self, name: str) -> ParentField:
        """``Relationship.Field`` of a lookup (one level, as the connector needs)."""
        relationship, _, rest = name.partition(".")
        lookup = next((f for f in self.odef.fields if f.type == "reference"
                       and f.name[:-2].lower() == relationship.lower()), None)
        target = object_def(lookup.reference_to[0]) if lookup is not None else None
        fd = target.field(rest) if target is not None else None
        if lookup is None or target is None or fd is None:
            raise _invalid_field(self.text, name, self.odef)
        return ParentField(lookup, target, fd)

    def literal(self, fd: FieldDef, value: Any) -> Any:
        """A literal in the form record values take, type-checked against the field."""
        if value is None:
            return None
        t = fd.type
        if t in ("datetime", "date"):
            if isinstance(value, DateLiteral):
                return value
            if isinstance(value, datetime):
                return format_ts(value) if t == "datetime" else value.date().isoformat()
            if isinstance(value, date) and t == "date":
                return value.isoformat()
            raise _filter_error(fd, "dateTime" if t == "datetime" else "date",
                                quoted=False)
        if t == "boolean":
            if isinstance(value, bool):
                return value
            raise _filter_error(fd, "boolean", quoted=False)
        if t in _NUMBER:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
            raise _filter_error(fd, "number", quoted=False)
        if not isinstance(value, str):
            raise _filter_error(fd, "string", quoted=True)
        value = _unescape(value)
        if t in ("id", "reference"):
            return to_18(value) or value
        return value.casefold()

    def compile(self, cond: Cond) -> Predicate:
        if isinstance(cond, And):
            parts = [self.compile(c) for c in cond.items]
            return lambda r: all(p(r) for p in parts)
        if isinstance(cond, Or):
            parts = [self.compile(c) for c in cond.items]
            return lambda r: any(p(r) for p in parts)
        if isinstance(cond, Not):
            inner = self.compile(cond.item)
            return lambda r: not inner(r)
        return self.comparison(cond)

    def comparison(self, c: Comparison) -> Predicate:
        fd = self.field(c.field)
        if fd.type == "textarea":
            raise SoqlError("INVALID_FIELD",
                            f"field '{fd.name}' can not be filtered in a query call")
        name = fd.name
        fold = fd.type in _TEXT - {"id", "reference"}

        def get(r: Record) -> Any:
            v = r.get(name)
            return v.casefold() if fold and isinstance(v, str) else v

        if c.op in ("IN", "NOT IN"):
            assert isinstance(c.value, tuple)
            options = {self.literal(fd, v) for v in c.value}
            if c.op == "IN":
                return lambda r: get(r) in options
            return lambda r: get(r) not in options
        if c.op == "LIKE":
            if fd.type not in _TEXT:
                raise SoqlError("INVALID_FIELD",
                                f"invalid operator on field '{fd.name}': LIKE")
            rx = _like_regex(str(c.value))
            return lambda r: isinstance(r.get(name), str) and rx.fullmatch(r[name]) is not None
        lit = self.literal(fd, c.value)
        if isinstance(lit, DateLiteral):
            return self._date_literal(name, fd, c.op, lit)
        op = c.op
        if lit is None:
            if op == "=":
                return lambda r: r.get(name) is None
            if op == "!=":
                return lambda r: r.get(name) is not None
            return lambda r: False
        if op == "=":
            return lambda r: get(r) == lit
        if op == "!=":
            return lambda r: get(r) != lit
        cmp: Callable[[Any], bool] = {"<": lambda a: a < lit, ">": lambda a: a > lit, "<=": lambda a: a <= lit,
               ">=": lambda a: a >= lit}[op]

        def ordered(r: Record) -> bool:
            v = get(r)
            return v is not None and bool(cmp(v))

        return ordered

    def _date_literal(self, name: str, fd: FieldDef, op: str, lit: DateLiteral) -> Predicate:
        start_d, end_d = lit.bounds(self.today)
        if fd.type == "datetime":
            lo = format_ts(datetime(start_d.year, start_d.month, start_d.day, tzinfo=UTC))
            hi = format_ts(datetime(end_d.year, end_d.month, end_d.day, tzinfo=UTC))
        else:
            lo, hi = start_d.isoformat(), end_d.isoformat()
        tests: dict[str, Callable[[str], bool]] = {
            "=": lambda v: lo <= v < hi, "!=": lambda v: not lo <= v < hi,
            "<": lambda v: v < lo, "<=": lambda v: v < hi, ">": lambda v: v >= hi,
            ">=": lambda v: v >= lo,
        }
        test = tests[op]
        return lambda r: r.get(name) is not None and test(r[name])

    def stamp_bounds(self) -> tuple[tuple[str, bool] | None, bool]:
        """A SystemModstamp lower bound among the top-level AND terms, and whether the
        WHERE consists of such bounds only."""
        where = self.q.where
        if where is None:
            return None, True
        terms = list(where.items) if isinstance(where, And) else [where]
        best: tuple[str, bool] | None = None
        only = True
        for t in terms:
            if (isinstance(t, Comparison) and t.field.lower() == "systemmodstamp"
                    and t.op in (">=", ">") and isinstance(t.value, datetime)):
                bound = (format_ts(t.value), t.op == ">")
                if best is None or bound > best:
                    best = bound
            else:
                only = False
        return best, only

    def bind(self) -> Bound:
        q = self.q
        names = list(q.fields) or (["Id"] if q.count_field is None else [q.count_field])
        fields: list[FieldDef] = []
        parents: list[ParentField] = []
        for name in names:
            if "." in name:
                parents.append(self.parent_field(name))
                continue
            fd = self.field(name)
            if fd in fields:
                raise SoqlError("INVALID_FIELD", f"duplicate field selected: {fd.name}")
            fields.append(fd)
        predicate = self.compile(q.where) if q.where is not None else None
        order = []
        for item in q.order_by:
            fd = self.field(item.field)
            if fd.type == "textarea":
                raise SoqlError("INVALID_FIELD",
                                f"field '{fd.name}' can not be sorted in a query call")
            order.append((fd, item.descending, item.nulls_last))
        if q.offset is not None and q.offset > MAX_OFFSET:
            raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE",
                            f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        lower, only = self.stamp_bounds()
        return Bound(self.odef, fields, predicate, order, lower, only, parents)


def sort_key(fd: FieldDef, descending: bool, nulls_last: bool) -> Callable[[Record], Any]:
    name = fd.name
    # With reverse=True the largest key comes first, so "nulls high" puts them first there.
    null_high = nulls_last != descending
    null_rank, value_rank = (1, 0) if null_high else (0, 1)

    def key(r: Record) -> Any:
        v = r.get(name)
        if v is None:
            return (null_rank, 0)
        return (value_rank, v.casefold() if isinstance(v, str) else v)

    return key
