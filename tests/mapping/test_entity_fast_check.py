"""The compiled entity check says exactly what the full JSON Schema walk says.

``validate_entity`` passes a record on the compiled check alone: a function per key order of
the record (straight-line code per field, the required / anyOf / unknown-key questions
answered once when it is built), or a loop over per-field checks for other mappings. These
properties hold both to the full check (jsonschema plus the storability scan) on records of
every entity schema whose values are shaped after each field: valid, near the length and
range limits, outside enums, off patterns, odd date-times, NaN, NUL, lone surrogates, bools
for integers, integral floats, nested lists and objects, with unknown keys, missing required
fields and each anyOf alternative.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import FormatChecker

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


class _Str(str):
    """A str subclass: JSON has no such thing, so only the full check may pass it."""


def _edges(sub: Mapping[str, Any]) -> list[Any]:
    """Values on either side of each limit the field schema sets."""
    out: list[Any] = [None, True, 0, 1.0, "", "\x00", "a\ud800", float("nan"), float("inf"),
                      "行1\n行2", "山田\u3000太郎", "\t", "\ud800\udc00", "\U0001f600"]
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
    # nested values: storable or not only deep inside; tuples and str subclasses are no JSON
    out += [[], ["a@b"], [["x"]], ["x", None], ["\x00"], [[float("nan")]], {}, {"a": 1},
            {"a": {"b": "\x00"}}, {"\ud800": 1}, {"a": ["\ud800"]}, ("x",), _Str("x")]
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


@st.composite
def _mixed_records(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    """Records in any key order: valid values with any number of odd ones, the required
    fields and one anyOf alternative mostly there (sometimes one missing), unknown keys."""
    entity = draw(st.sampled_from(entities.entity_names()))
    schema = entities.entity_schema(entity)
    properties = schema.get("properties", {})
    names = draw(st.lists(st.sampled_from(sorted(properties)), max_size=20, unique=True))
    alternatives = [alt["required"] for alt in schema.get("anyOf", ())] or [[]]
    if draw(st.integers(0, 3)):
        names += [n for n in [*schema.get("required", ()), *draw(st.sampled_from(alternatives))]
                  if n not in names]
    if names and draw(st.integers(0, 5)) == 0:
        names.remove(draw(st.sampled_from(names)))
    names = draw(st.permutations(names))
    odd = set(draw(st.lists(st.sampled_from(names), max_size=3))) if names else set()
    record = {n: draw(_odd(properties[n]) if n in odd else _valid(properties[n])) for n in names}
    if draw(st.integers(0, 10)) == 0:
        unknown = draw(st.sampled_from(["not_a_field", "", "Email", "email ", "\ud800"]))
        at = draw(st.integers(0, len(record)))
        items = list(record.items())
        record = dict(items[:at] + [(unknown, draw(_valid(properties[names[0]])) if names
                                     else "x")] + items[at:])
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


def _agree(entity: str, record: dict[str, Any], partial: bool) -> bool:
    """Assert the compiled check, the loop and validate_entity agree with the full walk;
    True when the compiled check passed the record."""
    fast = entities._fast_accept(entity, partial)
    assert fast is not None
    passed = fast(record)
    assert fast(MappingProxyType(record)) is passed  # not a dict: the loop over the fields
    got = entities.validate_entity(entity, record, partial=partial)
    with _full_check_only():
        expected = entities.validate_entity(entity, record, partial=partial)
    assert got == expected, (entity, record, partial)
    if passed:
        assert expected == [], (entity, record, partial)
    return passed


def test_compiled_check_agrees_on_every_edge_of_every_field() -> None:
    passed = sum(_agree(entity, record, partial) for entity, record, partial in _edge_cases())
    assert passed > 300  # the edges inside the limits did take the compiled path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records())
def test_compiled_check_agrees_with_the_full_schema_walk(
        case: tuple[str, dict[str, Any], bool]) -> None:
    _agree(*case)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mixed_records())
def test_record_check_agrees_on_mixed_records_in_any_key_order(
        case: tuple[str, dict[str, Any], bool]) -> None:
    _agree(*case)


@pytest.mark.parametrize("entity", entities.entity_names())
def test_a_record_of_every_field_passes_in_any_key_order(entity: str) -> None:
    properties = entities.entity_schema(entity).get("properties", {})
    record = {name: _sure_valid(sub) for name, sub in properties.items()}
    for partial in (False, True):
        assert _agree(entity, record, partial)
        assert _agree(entity, dict(reversed(record.items())), partial)
        assert _agree(entity, dict.fromkeys(record), partial)  # every field null


@pytest.mark.parametrize("entity", entities.entity_names())
def test_each_required_field_and_anyof_alternative_is_needed_unless_partial(
        entity: str) -> None:
    schema = entities.entity_schema(entity)
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    alternatives = [set(alt["required"]) for alt in schema.get("anyOf", ())] or [set()]
    for alternative in alternatives:
        full = {name: _sure_valid(properties[name]) for name in sorted(required | alternative)}
        assert _agree(entity, full, False)
        for name in full:
            short = {k: v for k, v in full.items() if k != name}
            keys = short.keys()
            complete = required <= keys and any(alt <= keys for alt in alternatives)
            assert _agree(entity, short, False) is complete
            assert _agree(entity, short, True)


def test_past_the_kept_field_checks_records_take_the_loop_with_the_same_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = []
    shape_accept = entities._shape_accept

    def counted(*args: Any) -> Any:
        compiled.append(args[2])
        return shape_accept(*args)
    monkeypatch.setattr(entities, "_shape_accept", counted)
    monkeypatch.setattr(entities, "_FIELDS_KEPT", 5)
    entities._fast_accept.cache_clear()
    try:
        for entity, record, partial in _edge_cases():
            _agree(entity, record, partial)
    finally:
        entities._fast_accept.cache_clear()
    fields = sum(len(keys) for keys in compiled)
    assert 0 < fields <= 5 * 2 * len(entities.entity_names())  # per entity and mode


def test_field_names_are_data_never_source(monkeypatch: pytest.MonkeyPatch) -> None:
    # Schemas are user-editable files: a name pasted into the generated source would run.
    name = "x') or True or ('"
    schema = {"type": "object", "additionalProperties": False,
              "properties": {name: {"type": "integer"}, "n": {"type": "integer"}}}
    monkeypatch.setattr(entities, "_schemas", lambda: {"odd": schema})
    for cached in (entities._fast_accept, entities._validator):
        cached.cache_clear()
    try:
        assert entities.validate_entity("odd", {name: 1, "n": 2}, partial=False) == []
        assert entities.validate_entity("odd", {name: "1"}, partial=False) == [
            f"{name}: expected integer, got string"]
        fast = entities._fast_accept("odd", False)
        assert fast is not None
        assert fast({"n": 2, name: 1}) and not fast({"n": 2, name: None})
    finally:
        for cached in (entities._fast_accept, entities._validator):
            cached.cache_clear()


def test_the_datetime_shortcut_never_passes_what_the_checker_refuses() -> None:
    checker = FormatChecker()
    shortcut = entities._SURE_DATETIME.fullmatch
    taken = 0
    for year in ("0000", "0001", "1900", "2000", "2023", "2024", "9999"):
        for month in range(14):
            for day in range(33):
                for time in ("T00:00:00Z", "T23:59:59.5+09:00", "T24:00:00Z", "t00:00:00z"):
                    value = f"{year}-{month:02d}-{day:02d}{time}"
                    if shortcut(value) is not None:
                        taken += 1
                        assert checker.conforms(value, "date-time"), value
    assert taken > 1500  # all but February 29 of each valid year


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
