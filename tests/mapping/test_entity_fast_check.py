"""The compiled per-field entity check says exactly what the full JSON Schema walk says.

``validate_entity`` passes a record on the compiled check alone; these properties hold it to
the full check (jsonschema plus the storability scan) on values shaped after every field of
every entity schema: near the length limits, outside enums, off patterns, odd date-times,
NaN, NUL, lone surrogates, bools for integers, integral floats, nested lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renkei import entities

_TIMES = ["2024-01-31T23:59:59Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
          "0000-01-01T00:00:00Z", "2024-01-01t00:00:00z", "2024-01-01T00:00:00+09:00",
          "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00Z\n",
          "2024-01-01T00:00:00.123456Z", "2024-01-01", "２０２４-01-01T00:00:00Z",
          "2024-04-31T00:00:00Z", "2024-01-28T00:00:60Z", "2024-01-01T00:00:00-24:00"]


def _valid(sub: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values the field schema accepts (so a record of them passes, and one bad field shows)."""
    types = sub.get("type", [])
    enum = [e for e in sub.get("enum", ()) if e is not None]
    limit = int(sub.get("maxLength", 30))
    if enum:
        return st.sampled_from(enum)
    if "string" in types:
        known = {"email": st.just("taro@example.co.jp"), "date-time": st.sampled_from(_TIMES[:3]),
                 "date": st.just("2024-01-31")}.get(sub.get("format", ""))
        if known is not None:
            return known
        if "pattern" in sub:
            return st.sampled_from(["+81312345678", "JP", "JPY"]).filter(
                lambda v: re.search(sub["pattern"], v) is not None)
        return st.text(max_size=min(limit, 30))
    if "integer" in types:
        return st.integers(min_value=0, max_value=2**70)
    if "number" in types:
        return st.floats(min_value=0, max_value=100)
    if "boolean" in types:
        return st.booleans()
    if "array" in types:
        return st.lists(st.text(max_size=5), max_size=3)
    return st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)


def _edges(sub: Mapping[str, Any]) -> list[Any]:
    """Values on either side of each limit the field schema sets."""
    out: list[Any] = [None, True, 0, 1.0, "", "\x00", "a\ud800", float("nan"), float("inf")]
    if "maxLength" in sub:
        out += ["x" * sub["maxLength"], "x" * (sub["maxLength"] + 1),
                "東" * sub["maxLength"] + "\ud800"]
    for bound, step in (("minimum", -1), ("maximum", 1)):
        if bound in sub:
            out += [sub[bound], sub[bound] + step, sub[bound] + step / 2, float(sub[bound])]
    out += [e + "x" if isinstance(e, str) else e for e in sub.get("enum", ())]
    if sub.get("format") == "date-time":
        out += _TIMES
    if "pattern" in sub:
        out += ["+81312345678", "+8131234567890123", "+0312345678", "81312345678",
                "JP", "jp", "JPY", "JPN", "+81312345678\n"]
    return out


def _odd(sub: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values at or past the field's edges, and values no store can keep."""
    return st.one_of(
        st.sampled_from(_edges(sub)), st.sampled_from(_edges(sub)),
        st.sampled_from(["a@b", "no-at", "東京都", "東京", "seminar", "Seminar", "ｔｏｋｙｏ",
                         -1, 2.5, 2**64] + _TIMES),
        st.text(max_size=40), st.integers(), st.floats(),
        st.lists(st.one_of(st.text(max_size=3), st.integers(), st.none()), max_size=3),
        st.dictionaries(st.text(max_size=3), st.one_of(st.text(max_size=3), st.floats()),
                        max_size=2))


@st.composite
def _records(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    entity = draw(st.sampled_from(entities.entity_names()))
    schema = entities.entity_schema(entity)
    properties = schema.get("properties", {})
    names = draw(st.lists(st.sampled_from(sorted(properties)), max_size=10, unique=True))
    if draw(st.integers(0, 4)):  # mostly complete, so a record can pass the full check
        required = list(schema.get("required", ())) + list(
            (schema.get("anyOf") or [{"required": []}])[0]["required"])
        names += [n for n in required if n not in names]
    record = {name: draw(_valid(properties[name])) for name in names}
    perturb = draw(st.integers(0, 3))  # mostly one field at or past an edge
    if names and perturb:
        odd = draw(st.sampled_from(names))
        record[odd] = draw(_odd(properties[odd]))
    if draw(st.integers(0, 20)) == 0:
        record["not_a_field"] = "x"
    return entity, record, draw(st.booleans())


@contextmanager
def _full_check_only() -> Iterator[None]:
    fast = entities._fast_accept
    entities._fast_accept = lambda entity, partial: None  # type: ignore[assignment]
    try:
        yield
    finally:
        entities._fast_accept = fast


def test_every_entity_schema_gets_a_compiled_check() -> None:
    # A schema keyword the compiler does not know would silently send every record of that
    # entity through the slow walk.
    for entity in entities.entity_names():
        assert entities._fast_accept(entity, False) is not None, entity
        assert entities._fast_accept(entity, True) is not None, entity


def _sure_valid(sub: Mapping[str, Any]) -> Any:
    enum = [e for e in sub.get("enum", ()) if e is not None]
    types = sub.get("type", [])
    if enum:
        return enum[0]
    if "string" in types:
        if "pattern" in sub:
            return next(v for v in ("+81312345678", "JP", "JPY") if re.search(sub["pattern"], v))
        return {"email": "taro@example.co.jp", "date-time": "2024-01-01T00:00:00Z",
                "date": "2024-01-31"}.get(sub.get("format", ""), "x")
    simple = {"integer": 1, "number": 1.5, "boolean": True, "array": ["x"], "object": {}}
    return next(simple[t] for t in types if t in simple)


def _edge_cases() -> Iterator[tuple[str, dict[str, Any], bool]]:
    for entity in entities.entity_names():
        schema = entities.entity_schema(entity)
        properties = schema.get("properties", {})
        required = list(schema.get("required", ())) + list(
            (schema.get("anyOf") or [{"required": []}])[0]["required"])
        base = {name: _sure_valid(properties[name]) for name in required}
        for name, sub in properties.items():
            for value in _edges(sub) + [_sure_valid(sub)]:
                for partial in (False, True):
                    yield entity, {**base, name: value}, partial


def test_compiled_check_agrees_on_every_edge_of_every_field() -> None:
    passed = 0
    for entity, record, partial in _edge_cases():
        fast = entities._fast_accept(entity, partial)
        assert fast is not None
        got = entities.validate_entity(entity, record, partial=partial)
        with _full_check_only():
            expected = entities.validate_entity(entity, record, partial=partial)
        assert got == expected, (entity, record, partial)
        passed += fast(record)
    assert passed > 300  # the edges inside the limits did take the compiled path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records())
def test_compiled_check_agrees_with_the_full_schema_walk(
        case: tuple[str, dict[str, Any], bool]) -> None:
    entity, record, partial = case
    fast = entities._fast_accept(entity, partial)
    assert fast is not None
    passed = fast(record)
    got = entities.validate_entity(entity, record, partial=partial)
    with _full_check_only():
        expected = entities.validate_entity(entity, record, partial=partial)
    assert got == expected
    if passed:
        assert expected == []


@pytest.mark.parametrize("value", ["2024-01-28T00:00:00Z", "2024-02-29T00:00:00Z",
                                   "2024-01-01t00:00:00z"])
def test_valid_timestamps_pass_with_or_without_the_shortcut(value: str) -> None:
    assert entities.validate_entity("lead", {"email": "a@b", "mql_at": value},
                                    partial=False) == []


@pytest.mark.parametrize("value", ["2023-02-29T00:00:00Z", "0000-01-01T00:00:00Z",
                                   "2024-01-01T00:00:00Z\nx"])
def test_invalid_timestamps_are_refused(value: str) -> None:
    assert entities.validate_entity("lead", {"email": "a@b", "mql_at": value},
                                    partial=False) == ["mql_at: not a valid date-time"]
