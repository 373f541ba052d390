"""The store's JSON codec reads and writes what the standard library would, only faster."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from renkei.store import Store, codec

ORDINARY: list[Any] = [
    {"email": "taro@example.co.jp", "company": "株式会社サクラ精機", "employees": 120,
     "annual_revenue": 5.334e9, "email_opt_in": True, "address": None, "tags": ["a", "b"]},
    {"nested": {"list": [1, 2.5, -0.0, 1e-7, 1e16, None], "empty": {}}},
    [], "", "NULL and null inside a string", 18446744073709551615, -9223372036854775808,
    "\x00 and \u2028 and emoji 🎌", {1: "int key", None: "none key", False: "bool key"},
]
ODD: list[Any] = [
    {"score": float("nan"), "revenue": float("inf"), "nested": [float("-inf")]},
    {"big": 123456789012345678901234567890, "neg": -9223372036854775809},
    {"surrogate": "x\ud800y"},
    {1.5: "float key"},
]


@pytest.mark.parametrize("value", ORDINARY + ODD)
def test_reads_back_what_the_standard_library_reads(value: Any) -> None:
    expected = json.loads(json.dumps(_finite_like_store(value), allow_nan=False))
    got = codec.loads(codec.dumps(value))
    assert _same(got, expected)
    # Rows the previous (standard library) encoder wrote read back identically too.
    old_row = json.dumps(_finite_like_store(value), allow_nan=False)
    assert _same(codec.loads(old_row), json.loads(old_row))
    assert _same(codec.loads(old_row.encode()), json.loads(old_row))


def test_non_finite_numbers_are_kept_as_visible_strings_not_nulls() -> None:
    stored = codec.loads(codec.dumps({"score": float("nan"), "revenue": float("-inf")}))
    assert stored == {"score": "nan", "revenue": "-inf"}


def test_integers_beyond_64_bits_keep_every_digit() -> None:
    big = 123456789012345678901234567890
    assert codec.loads(codec.dumps({"n": big})) == {"n": big}
    assert codec.loads(b'{"n": -9223372036854775809}') == {"n": -9223372036854775809}


@pytest.mark.parametrize("value", [datetime(2026, 1, 1, tzinfo=UTC), object()])
def test_values_json_cannot_hold_are_refused_as_before(value: Any) -> None:
    @dataclass
    class Row:
        x: int

    for bad in (value, Row(1)):
        with pytest.raises(TypeError):
            codec.dumps({"v": bad})


def test_not_json_is_refused_with_the_standard_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        codec.loads("{not json")


def test_the_store_round_trips_odd_values_through_the_database(tmp_path: Any) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/s.db")
    try:
        with store.transaction() as tx:
            (rid,) = tx.records.insert_many("lead", [({"email": "a@b.jp", "n": 2**70},
                                                      {"email": ["m", None]})])
            tx.cursors.set("m", "in", {"score": float("nan"), "s": "\ud800"})
        with store.transaction() as tx:
            rec = tx.records.get_many([rid])[rid]
            assert rec.data == {"email": "a@b.jp", "n": 2**70}
            assert rec.field_meta == {"email": ["m", None]}
            assert tx.cursors.get("m", "in") == {"score": "nan", "s": "\ud800"}
    finally:
        store.close()


def _finite_like_store(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite_like_store(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_like_store(v) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (1 == 1.0 == True is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a == 0.0:
        return math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def test_a_non_finite_dict_key_is_refused_as_before() -> None:
    with pytest.raises(ValueError):
        codec.dumps({float("nan"): 1})
    assert codec.loads(codec.dumps({None: 1, 1.5: 2})) == {"null": 1, "1.5": 2}
