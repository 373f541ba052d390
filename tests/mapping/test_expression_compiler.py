"""Compiled filter and ``set:`` expressions give what jmespath gives, null handling included.

``expressions.evaluator`` turns simple expressions into Python closures; these properties
compare them with ``jmespath.search`` on generated expressions (fields, nested fields, ``@``,
literals of every JSON type, all six comparisons, ``&&``, ``||``, ``!``, plus functions the
compiler leaves to the interpreter) over records holding nulls, bools, 0/1, floats, text,
empty and nested values. An expression that raises must raise the same error class.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import jmespath
from hypothesis import given, settings
from hypothesis import strategies as st

from renkei.mapping.expressions import evaluator, parse

_LITERALS = ["null", "'x'", "''", "'a b'", "`0`", "`1`", "`2`", "`0.0`", "`1.5`", "`true`",
             "`false`", "`[]`", "`{}`", "`\"x\"`", "`[1]`", "`{\"a\": 1}`", "`null`"]
_FIELDS = ["email", "type", "score", "flag", "nested.email", "nested.deep.x", "email.x", "@"]

_VALUES = st.one_of(
    st.none(), st.booleans(), st.sampled_from([0, 1, 2, -1, 0.0, 1.0, 1.5, Decimal(0)]),
    st.sampled_from(["", "x", "a b", "disqualified", "0"]), st.just([]), st.just({}),
    st.lists(st.integers(0, 2), max_size=2))

_records = st.fixed_dictionaries({}, optional={
    "email": _VALUES, "type": _VALUES, "score": _VALUES, "flag": _VALUES,
    "nested": st.one_of(_VALUES, st.fixed_dictionaries({}, optional={
        "email": _VALUES, "deep": st.one_of(_VALUES, st.fixed_dictionaries(
            {}, optional={"x": _VALUES}))}))})


def _expressions() -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(_FIELDS), st.sampled_from(_LITERALS))
    compare = st.tuples(leaf, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), leaf).map(
        " ".join)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["&&", "||"]), inner).map(
                lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
            inner.map(lambda e: f"!({e})"),
            inner.map(lambda e: f"length(to_string({e}))"))
    return st.recursive(st.one_of(leaf, compare), extend, max_leaves=6)


def _outcome(fn: Any, record: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "value", fn(record)
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return "error", type(exc).__name__


@settings(max_examples=700, deadline=None)
@given(_expressions(), st.lists(_records, min_size=1, max_size=4))
def test_compiled_expression_agrees_with_jmespath(text: str, records: list[dict[str, Any]]
                                                  ) -> None:
    compiled = evaluator(parse(text))
    expression = jmespath.compile(text)
    for record in records:
        got = _outcome(compiled, record)
        expected = _outcome(expression.search, record)
        assert got == expected, (text, record)
        assert type(got[1]) is type(expected[1]), (text, record)  # True is not 1 here


def test_the_shipped_filters_keep_their_meaning() -> None:
    check = evaluator(parse("email != null && lifecycle_stage != 'disqualified'"))
    assert check({"email": "a@b", "lifecycle_stage": "mql"}) is True
    assert check({"email": "a@b", "lifecycle_stage": "disqualified"}) is False
    assert check({"lifecycle_stage": "mql"}) is False
    assert check({"email": "", "lifecycle_stage": None}) is True  # "" is not null
    either = evaluator(parse("(type == 'webinar_attended' || type == 'video_viewed') "
                             "&& email != null"))
    assert either({"type": "video_viewed", "email": "a@b"}) is True
    assert either({"type": "web_visit", "email": "a@b"}) is False
    assert evaluator(parse("!score"))({"score": 0}) is False  # !0 is false in jmespath
    assert evaluator(parse("score > `1`"))({"score": None}) is None  # null is not ordered
