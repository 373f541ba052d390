"""``POST /crm/v3/objects/{type}/search``: filter groups, sorts, ``after`` paging, the 10,000 cap.

Filter groups are ORed, filters in a group ANDed; at most 5 groups, 10 filters per group and
25 in all (changelog 2024-08) [C]. ``limit`` up to 200 [S], default 10 [S]. A query never
yields more than 10,000 results: asking for ``after`` at or past that answers 400 [S: the
search guide's "Limitations", as quoted by integrators]. Sorts take
``{"propertyName", "direction"}`` objects, or strings (``"-prop"`` descending) as the Python
client's ``list[str]`` model sends them [C: spec]; ties keep id order [U].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandbox.hubspot.errors import ApiError
from sandbox.hubspot.objects import ObjectType
from sandbox.hubspot.store import CrmStore, Record, parse_ms

__all__ = ["RESULT_CAP", "SearchQuery", "run_search"]

RESULT_CAP = 10_000
MAX_LIMIT = 200
_OPERATORS = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
                        "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN",
                        "NOT_CONTAINS_TOKEN"})

Getter = Callable[[Record], Any]


def _bad(message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message)


def _getter(store: CrmStore, obj: ObjectType, name: str) -> tuple[Getter, Callable[[Any], Any]]:
    """How to read a comparable value of ``name`` from a record, and how to coerce operands."""
    prop = obj.prop(name)
    if prop is None:
        raise _bad(f"There was a problem with the request. Property {name!r} does not exist "
                   f"on {obj.name}")
    if name in ("lastmodifieddate", "hs_lastmodifieddate"):
        return (lambda r: r.updated_ms), parse_ms
    if name in ("createdate", "hs_createdate"):
        return (lambda r: r.created_ms), parse_ms
    if name == "hs_object_id":
        return (lambda r: r.id), lambda v: int(str(v))
    if prop.type in ("datetime", "date"):
        def get_dt(r: Record) -> int | None:
            raw = r.props.get(name)
            return parse_ms(raw) if raw else None
        return get_dt, parse_ms
    if prop.type == "number":
        def get_num(r: Record) -> float | None:
            raw = r.props.get(name)
            return float(raw) if raw not in (None, "") else None
        return get_num, lambda v: float(str(v))

    def get_text(r: Record) -> str | None:
        raw = r.props.get(name)
        return raw.lower() if raw not in (None, "") else None
    return get_text, lambda v: str(v).lower()


def _predicate(store: CrmStore, obj: ObjectType, spec: Mapping[str, Any]) -> Callable[[Record], bool]:
    if not isinstance(spec, Mapping):
        raise _bad("each filter must be an object with propertyName and operator")
    name, op = spec.get("propertyName"), str(spec.get("operator", "EQ")).upper()
    if not isinstance(name, str) or op not in _OPERATORS:
        raise _bad(f"Invalid filter: propertyName {name!r}, operator {op!r}")
    get, coerce = _getter(store, obj, name)
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        want = op == "HAS_PROPERTY"
        return lambda r: (get(r) is not None) == want
    try:
        if op in ("IN", "NOT_IN"):
            values = spec.get("values")
            if not isinstance(values, list):
                raise _bad(f"operator {op} needs a 'values' list")
            members = {coerce(v) for v in values}
            inside = op == "IN"
            return lambda r: (get(r) in members) == inside
        value = coerce(spec.get("value"))
        high = coerce(spec.get("highValue")) if op == "BETWEEN" else None
    except (TypeError, ValueError):
        raise _bad(f"filter on {name!r}: value {spec.get('value')!r} has the wrong type") from None
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(value).strip("*")
        has = op == "CONTAINS_TOKEN"
        return lambda r: (token in str(get(r) or "")) == has
    if op == "EQ":
        return lambda r: get(r) == value
    if op == "NEQ":
        return lambda r: get(r) != value

    def compare(r: Record) -> bool:
        current = get(r)
        if current is None:
            return False
        if op == "GT":
            return bool(current > value)
        if op == "GTE":
            return bool(current >= value)
        if op == "LT":
            return bool(current < value)
        if op == "LTE":
            return bool(current <= value)
        return bool(value <= current <= high)  # BETWEEN, inclusive

    return compare


def _all_of(preds: list[Callable[[Record], bool]]) -> Callable[[Record], bool]:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        first, second = preds
        return lambda r: first(r) and second(r)
    return lambda r: all(p(r) for p in preds)


class SearchQuery:
    """A parsed search request body.

    Raises:
        ApiError: 400 for a malformed body or one past the documented limits.
    """

    def __init__(self, store: CrmStore, obj: ObjectType, body: Any):
        if not isinstance(body, dict):
            raise _bad("Search request body must be a JSON object")
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > 5:
            raise _bad("At most 5 filterGroups are allowed")
        total = 0
        self.groups: list[Callable[[Record], bool]] = []
        for group in groups:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list) or len(filters) > 10:
                raise _bad("Each filterGroup needs a 'filters' list of at most 10 filters")
            total += len(filters)
            self.groups.append(_all_of([_predicate(store, obj, f) for f in filters]))
        if total > 25:
            raise _bad("At most 25 filters are allowed across all filterGroups")
        try:
            self.limit = int(body.get("limit") or 10)
            self.offset = int(body.get("after") or 0)
        except (TypeError, ValueError):
            raise _bad("'limit' and 'after' must be integers") from None
        if not 0 < self.limit <= MAX_LIMIT:
            raise _bad(f"limit must be between 1 and {MAX_LIMIT}")
        if self.offset >= RESULT_CAP:
            raise _bad(f"The search endpoint returns at most {RESULT_CAP} results per query; "
                       f"'after' {self.offset} is past that. Narrow the query instead.")
        self.sorts: list[tuple[Getter, bool]] = []
        for sort in body.get("sorts") or []:
            if isinstance(sort, str):
                name, desc = sort.lstrip("-"), sort.startswith("-")
            elif isinstance(sort, dict) and isinstance(sort.get("propertyName"), str):
                name = sort["propertyName"]
                desc = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
            else:
                raise _bad("each sort must be a property name or {propertyName, direction}")
            self.sorts.append((_getter(store, obj, name)[0], desc))
        props = body.get("properties")
        self.properties: list[str] | None = [str(p) for p in props] if props else None
        self.query = str(body.get("query") or "").lower()

    def matches(self, record: Record) -> bool:
        if self.query and not any(self.query in (v or "").lower()
                                  for v in record.props.values()):
            return False
        return not self.groups or any(g(record) for g in self.groups)

    def matcher(self) -> Callable[[Record], bool]:
        """:meth:`matches`, specialised for the common single-group, no-text query."""
        if not self.query and len(self.groups) == 1:
            return self.groups[0]
        return self.matches


def run_search(store: CrmStore, obj: ObjectType,
               query: SearchQuery) -> tuple[list[Record], int, int | None]:
    """``(page, total, next_after)`` of a query."""
    match = query.matcher()
    with store.lock:
        found = [r for r in store.records[obj.name].values() if not r.archived and match(r)]
    found.sort(key=lambda r: r.id)
    for get, desc in reversed(query.sorts):
        present = [r for r in found if get(r) is not None]
        missing = [r for r in found if get(r) is None]
        present.sort(key=get, reverse=desc)
        found = present + missing
    total = len(found)
    stop = min(query.offset + query.limit, total, RESULT_CAP)
    page = found[query.offset:stop]
    more = stop < total and stop < RESULT_CAP
    return page, total, stop if more else None
