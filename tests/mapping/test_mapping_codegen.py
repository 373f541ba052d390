"""Generated to_hub / key_values (renkei.mapping.codegen) agree with the interpreted loops.

Every mapping file of the repository and of the good corpus is compared on random records
(hypothesis) with odd values: blanks, numbers, NaN, lists, objects, booleans, lone
surrogates, full-width and very long text, and the spellings the inlined fast paths read
(phones, date-times, value-map keys). Results must be the same value of the same type, the
same errors in the same order, or the same exception.
"""

from __future__ import annotations

import copy
import math
import os
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from random import Random
from types import CodeType, FunctionType
from typing import Any, cast

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renkei.mapping import ConflictPolicy, FieldError, FieldMapping, Mapping, MatchKey, Projection
from renkei.mapping.canonical import (
    FieldValueError,
    canonical_datetime,
    to_boolean,
    to_integer,
    to_number,
    to_text,
)
from renkei.mapping.expressions import parse, root_fields, system_side
from renkei.mapping.fields import FieldPlan
from renkei.mapping.normalize import NORMALIZERS, register_normalizer
from renkei.mapping.transforms import build_transform
from renkei.mapping.validate import load_mapping

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "mappings").glob("*.yaml")) + sorted(
    (Path(__file__).parent / "good").glob("*.yaml"))
SETTINGS = settings(max_examples=300, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

SPELLINGS = [
    "", " ", "\u3000", "\t\n ", "03-1234-5678", "０３－１２３４－５６７８", "+81312345678",
    "090 1234 5678", "+1 650-253-0000", "0101234567", "12345", "2024-01-02T01:00:00Z",
    "2024-01-02T10:00:00+09:00", "2024/01/02 10:00", "2024年1月2日", "1700000000000", "12",
    "１，２００", "1.5", "-0", "1e400", "nan", "true", "No", "はい", "×", "（株）サクラ精機",
    "ｻｸﾗ ｾｲｷ ㈱", "さくら", "ＡＢＣ Corp.", " Taro@Example.CO.JP ", "x" * 5000, " " * 300,
]
CHARS = st.one_of(st.characters(),
                  st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"]),
                  st.sampled_from(list(" \u3000\t-+0０ＡｶﾞさA株㈱（()")))


@cache
def _mapping(path: Path) -> Mapping:
    return load_mapping(path)


@cache
def _words(path: Path) -> tuple[list[str], list[Any]]:
    """(record keys, scalars) of a mapping file: the system names and expression roots it
    reads, and every scalar written in it (value-map keys, defaults, examples)."""
    mapping = _mapping(path)
    keys = {"x"}
    for field in mapping.fields.values():
        if field.system_field is not None:
            keys.add(field.system_field)
        else:
            keys.update(root_fields(parse(field.system)))
            keys.update(re.findall(r"[^\W\d]\w*", field.system))
    scalars: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            scalars.extend(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        else:
            scalars.append(node)

    walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return sorted(keys), scalars


SCALARS = st.one_of(st.none(), st.sampled_from(SPELLINGS), st.booleans(), st.integers(),
                    st.floats(), st.text(CHARS, max_size=24))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["x", "email", "value"]), inner, max_size=3)), max_leaves=6)


class _Text(str):
    """A str subclass: the generated fast paths must treat it as the loops do."""


# The records are filled from a seeded Random (hypothesis shrinks ``drawn``, not the fill).
SEEDS = st.integers(0, 2**32)
CONSTANTS: list[Any] = [None, [], {}, [""], [None], {"x": 1}, 0, 1, -1, 10**30, 1.5, -0.0,
                        float("nan"), float("inf"), True, False, "\ud800", "a\udfff", _Text(" Ab "),
                        _Text(""), *SPELLINGS]


def _fill(rnd: Random, keys: list[str], words: list[Any], drawn: list[Any]) -> dict[str, Any]:
    """A record with most of ``keys``: odd constants, the file's own words and the values
    hypothesis drew (those often, so a failure shrinks to them); some nested objects."""
    pool = CONSTANTS + words

    def pick(depth: int) -> Any:
        if depth < 2 and rnd.random() < 0.1:
            return {k: pick(depth + 1) for k in rnd.sample(keys, min(2, len(keys)))}
        return rnd.choice(drawn if drawn and rnd.random() < 0.3 else pool)

    return {k: pick(0) for k in keys if rnd.random() < 0.8}


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type, all the way down (1, 1.0 and True differ; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, Projection):
        return _same(a.values, b.values) and _same(a.errors, b.errors)
    return bool(a == b)


def _outcome(function: Callable[[Any], Any], argument: Any) -> tuple[Any, ...]:
    try:
        return ("returned", function(argument))
    except Exception as exc:  # noqa: BLE001 - the exception is part of the behaviour
        return ("raised", type(exc), str(exc))


def _assert_agree(generated: Callable[[Any], Any], interpreted: Callable[[Any], Any],
                  argument: Any, where: str = "") -> None:
    got, want = _outcome(generated, argument), _outcome(interpreted, argument)
    assert _same(got, want), (where, argument, got, want)


@SETTINGS
@given(seed=SEEDS, drawn=st.lists(VALUES, max_size=6))
def test_generated_to_hub_equals_the_interpreted_loop(seed: int, drawn: list[Any]) -> None:
    rnd = Random(seed)
    for path in FILES:
        mapping = _mapping(path)
        record = _fill(rnd, *_words(path), drawn)
        _assert_agree(mapping.to_hub, mapping._to_hub_interpreted, record, path.name)


@SETTINGS
@given(seed=SEEDS, drawn=st.lists(VALUES, max_size=6))
def test_generated_key_values_equal_the_interpreted_loop(seed: int, drawn: list[Any]) -> None:
    rnd = Random(seed)
    for path in FILES:
        mapping = _mapping(path)
        keys, words = _words(path)
        fields = sorted({f for key in mapping.match_keys for f in key.fields} | {"x"})
        entity = _fill(rnd, fields, words, drawn)
        if rnd.random() < 0.5:  # a projected record: realistic values for every key
            projected = mapping.to_hub(_fill(rnd, keys, words, drawn)).values
            entity = {**projected, **{k: v for k, v in entity.items() if rnd.random() < 0.3}}
        _assert_agree(mapping.key_values, mapping._key_values_interpreted, entity, path.name)


def test_example_records_give_the_same_projection_and_keys() -> None:
    for path in FILES:
        mapping = _mapping(path)
        for example in yaml.safe_load(path.read_text(encoding="utf-8")).get("examples", []):
            system = example.get("system") or {}
            _assert_agree(mapping.to_hub, mapping._to_hub_interpreted, system)
            hub = mapping.to_hub(system).values
            _assert_agree(mapping.key_values, mapping._key_values_interpreted, hub)


# A mapping built directly: names no mapping file would hold, converters that raise, return
# other types or blanks, mutable and falsy defaults, getters, and keys that break.

def _boom(value: Any) -> Any:
    if value.__class__ is str and value.startswith("z"):
        raise ZeroDivisionError("never shown")
    if value.__class__ is str and value.startswith("f"):
        raise FieldValueError("a bad value (text)")
    if value.__class__ is str and value.startswith("n"):
        return len(value)
    if value.__class__ is str and value.startswith("s"):
        return "   "
    return value


def _subclass(value: Any) -> Any:
    return _Text(value) if isinstance(value, str) else value


PAYLOADS = [
    "a'b", 'a"b', "back\\slash\\", "new\nline", "nul\x00", "'''", '"""', "{F0}", "__import__",
    "__import__('os').environ.__setitem__('RENKEI_CODEGEN_PWNED', '1')",
    "');__import__('os').environ.__setitem__('RENKEI_CODEGEN_PWNED', '1');('",
    "\"\n__import__('os').environ.__setitem__('RENKEI_CODEGEN_PWNED', '1')\n\"",
]
TRIM, LOWER, KANA, COMPANY = (build_transform(n, {}).to_hub
                              for n in ("trim", "lower", "kana", "company_name"))
JP_PHONE = build_transform("phone", {"region": "JP"}).to_hub
US_PHONE = build_transform("phone", {"region": "US"}).to_hub
STEPS: list[tuple[Any, ...]] = [
    (), (to_text,), (TRIM, LOWER, to_text), (KANA, to_text), (TRIM, COMPANY, to_text),
    (JP_PHONE, to_text), (US_PHONE, to_text), (to_integer, to_integer), (to_number,),
    (to_number, to_number), (to_boolean,), (canonical_datetime,), (_boom,), (_boom, to_text),
    (_subclass, to_text), (_subclass,), (to_text, _boom), (to_boolean, to_integer),
    (to_integer, to_text), (TRIM,), (_boom, to_integer, to_text),
]
DEFAULTS: list[Any] = [None, "", 0, False, [], "既定"]
NORMALIZER_NAMES = ["text", "email", "company", "kana", "phone", "none", "not registered"]


def _odd_mapping() -> Mapping:
    plans: dict[str, FieldPlan] = {}
    for i, steps in enumerate(STEPS):
        name = PAYLOADS[i % len(PAYLOADS)] + f"#{i}"
        system = PAYLOADS[(i + 3) % len(PAYLOADS)] + f"#{i}"
        getter = system_side("owner.email").getter if i % 7 == 6 else None
        mapping = FieldMapping(name, system, None if getter else system, "both",
                               ConflictPolicy("newest_wins"))
        plans[name] = FieldPlan(mapping, getter, steps, (), DEFAULTS[i % len(DEFAULTS)], None)
    names = list(plans)
    keys = (MatchKey(PAYLOADS[8], (names[0],), ("email",)),
            MatchKey(PAYLOADS[9], (names[1], names[2], names[3]), ("text", "text", "company")),
            MatchKey(PAYLOADS[10], (), ()),
            *(MatchKey(f"{PAYLOADS[k % len(PAYLOADS)]}/{n}", (names[k],), (n,))
              for k, n in enumerate(NORMALIZER_NAMES)))
    return Mapping(name="odd", connection="c", stream="s", entity="lead", description="",
                   source_path=None, plans=plans, match_keys=keys,
                   default_policy=ConflictPolicy("newest_wins"))


ODD = _odd_mapping()
ODD_SYSTEM = sorted({f.system_field for f in ODD.fields.values() if f.system_field}
                    | {"owner", "email"})
ODD_WORDS = ["z1", "f1", "n123", "s1", "ａｂｃ", *SPELLINGS]


@SETTINGS
@given(seed=SEEDS, drawn=st.lists(VALUES, max_size=6))
def test_odd_mapping_generated_equals_interpreted(seed: int, drawn: list[Any]) -> None:
    rnd = Random(seed)
    record = _fill(rnd, ODD_SYSTEM, ODD_WORDS, drawn)
    _assert_agree(ODD.to_hub, ODD._to_hub_interpreted, record)
    entity = _fill(rnd, list(ODD.fields), ODD_WORDS, drawn)
    _assert_agree(ODD.key_values, ODD._key_values_interpreted, entity)


@pytest.mark.parametrize("argument", [
    None, [], "text", 12, object(), {"owner": None}, {"owner": {"email": b"x"}},
    {k: _Text(" Ab ") for k in [*ODD.fields, *ODD_SYSTEM]},
    {k: _Text("") for k in [*ODD.fields, *ODD_SYSTEM]},
])
def test_odd_records_and_str_subclasses_give_the_same_outcome(argument: Any) -> None:
    _assert_agree(ODD.to_hub, ODD._to_hub_interpreted, argument)
    _assert_agree(ODD.key_values, ODD._key_values_interpreted, argument)


def test_converter_errors_are_reported_per_field_in_order() -> None:
    record = {f.system_field: "f" if k.endswith("#12") else "z"
              for k, f in ODD.fields.items() if f.system_field is not None}
    projection = ODD.to_hub(record)
    assert _same(projection, ODD._to_hub_interpreted(record))
    failed = [e.field for e in projection.errors]
    assert failed == [k for k in ODD.fields if k in failed] and len(failed) >= 3
    assert FieldError(PAYLOADS[12 % len(PAYLOADS)] + "#12", "a bad value (text)") in \
        projection.errors
    assert FieldError(PAYLOADS[16 % len(PAYLOADS)] + "#16",
                      "conversion failed (ZeroDivisionError)") in projection.errors
    assert not set(failed) & set(projection.values)


def _code_texts(code: CodeType) -> set[str]:
    found = {c for c in code.co_consts if isinstance(c, str)}
    found |= set(code.co_names) | set(code.co_varnames) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            found |= _code_texts(const)
    return found


def test_names_from_the_file_are_constants_never_code() -> None:
    os.environ.pop("RENKEI_CODEGEN_PWNED", None)
    record = {f.system_field: "kept" for f in ODD.fields.values() if f.system_field}
    projection = ODD.to_hub(record)
    plain = [k for k, steps in zip(ODD.fields, STEPS, strict=True) if steps in ((), (to_text,))]
    assert plain and all(projection.values[k] == "kept" for k in plain)
    assert [k for k, _ in ODD.key_values({n: "v" for n in ODD.fields})][:3] == PAYLOADS[8:11]
    assert "RENKEI_CODEGEN_PWNED" not in os.environ
    names = set(ODD.fields) | {f.system for f in ODD.fields.values()} | set(PAYLOADS)
    names |= {k.name for k in ODD.match_keys} | set(NORMALIZER_NAMES)
    for generated in (ODD._to_hub, ODD._key_values):
        assert not names & _code_texts(cast(FunctionType, generated).__code__)


def test_to_hub_and_key_values_run_the_generated_code() -> None:
    mapping = _mapping(FILES[0])
    keys, _ = _words(FILES[0])
    ran: set[str] = set()

    def profile(frame: Any, event: str, _: Any) -> None:
        if event == "call":
            ran.add(frame.f_code.co_filename)

    sys.setprofile(profile)
    try:
        mapping.key_values(mapping.to_hub(dict.fromkeys(keys, "1")).values)
    finally:
        sys.setprofile(None)
    assert {"<renkei mapping to_hub>", "<renkei mapping key_values>"} <= ran


def test_a_normaliser_registered_after_loading_applies_to_generated_keys() -> None:
    register_normalizer("codegen-test", str.upper)
    try:
        key = MatchKey("k", ("email",), ("codegen-test",))
        mapping = Mapping(name="m", connection="c", stream="s", entity="lead", description="",
                          source_path=None, plans={}, match_keys=(key,),
                          default_policy=ConflictPolicy("newest_wins"))
        register_normalizer("codegen-test", str.lower)
        assert mapping.key_values({"email": "Ab"}) == [("k", "ab")]
        assert mapping._key_values_interpreted({"email": "Ab"}) == [("k", "ab")]
    finally:
        del NORMALIZERS["codegen-test"]


def test_a_deep_copy_projects_the_same() -> None:
    mapping = _mapping(FILES[0])
    twin = copy.deepcopy(mapping)
    keys, _ = _words(FILES[0])
    values = {name: " x " for name in keys}
    assert _same(twin.to_hub(values), mapping.to_hub(values))
