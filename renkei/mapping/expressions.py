"""jmespath on the system side (read-only field expressions) and in outbound filters.

A ``system:`` value with no jmespath operator character is a plain field name and is read
with a dict lookup; anything else is compiled once. ``"my.field"`` (a quoted identifier)
is a plain name too. Dotted paths (``owner.email``) get a fast nested-lookup getter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Number
from typing import Any, cast

import jmespath
from jmespath import exceptions as jexc
from jmespath.visitor import TreeInterpreter

Getter = Callable[[Mapping[str, Any]], Any]

_OPERATOR_CHARS = frozenset(".[]|()@*&!=<>{}'\"`,:?")
_INTERPRETER = TreeInterpreter()


@dataclass(frozen=True)
class SystemSide:
    """The system side of a field mapping, compiled.

    Attributes:
        text: As written.
        field: The plain field name, when it is one.
        getter: Reads the value from a record (``None`` for a plain name: use ``dict.get``).
    """

    text: str
    field: str | None
    getter: Getter | None


class ExpressionError(ValueError):
    """A jmespath expression does not parse; the message says where and why."""


def is_plain_name(text: str) -> bool:
    """True when ``text`` has no jmespath operator characters (``leadSource``, ``会社名``)."""
    return not _OPERATOR_CHARS.intersection(text)


def parse(text: str) -> dict[str, Any]:
    """Parse a jmespath expression into its AST.

    Raises:
        ExpressionError: with jmespath's reason and the column.
    """
    try:
        return cast(dict[str, Any], jmespath.compile(text).parsed)
    except jexc.EmptyExpressionError:
        raise ExpressionError("invalid jmespath expression: it is empty") from None
    except jexc.LexerError as exc:
        raise ExpressionError(f"invalid jmespath expression: {exc.message} at column "
                              f"{exc.lexer_position + 1}") from None
    except jexc.IncompleteExpressionError:
        raise ExpressionError("invalid jmespath expression: it ends too early") from None
    except jexc.ParseError as exc:
        raise ExpressionError(
            f"invalid jmespath expression: unexpected '{exc.token_value}' at column "
            f"{exc.lex_position + 1} ({exc.msg})") from None
    except (jexc.JMESPathError, ValueError, TypeError, RecursionError) as exc:
        raise ExpressionError(f"invalid jmespath expression: {exc}") from None


def _field_chain(node: Mapping[str, Any]) -> list[str] | None:
    if node.get("type") == "field":
        return [str(node["value"])]
    if node.get("type") == "subexpression":
        # jmespath flattens a.b.c into one subexpression with three children
        parts = [_field_chain(child) for child in node["children"]]
        if any(p is None for p in parts):
            return None
        return [key for p in parts if p is not None for key in p]
    return None


def _nested(keys: tuple[str, ...]) -> Getter:
    def get(record: Mapping[str, Any]) -> Any:
        value: Any = record
        for key in keys:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value
    return get


def evaluator(parsed: Mapping[str, Any]) -> Getter:
    """A function evaluating a parsed expression against a record (no re-parsing).

    Fields, literals, ``@``, sub-expressions, comparisons, ``&&``, ``||`` and ``!`` (every
    outbound filter so far) become nested Python closures that call jmespath's own
    comparison and truth helpers, so null handling and the 0/1 vs true/false rules are
    jmespath's; the interpreter's per-node dispatch was ~6 µs a record. Other nodes
    (functions, projections, ...) keep the interpreter.
    """
    return _compile(parsed)


# jmespath's falsy test (null, false, "", [], {}): the interpreter's own, for exactness
_is_false: Callable[[Any], bool] = _INTERPRETER._is_false  # type: ignore[attr-defined]
_COMPARE: Mapping[str, Callable[[Any, Any], Any]] = TreeInterpreter.COMPARATOR_FUNC


def _compile(node: Mapping[str, Any]) -> Getter:
    kind = node.get("type")
    children = [_compile(c) for c in node.get("children") or ()]
    if kind == "field":
        return _field(node["value"])
    if kind == "literal":
        literal = node["value"]
        return lambda record: literal
    if kind == "current":
        return lambda record: record
    if kind == "subexpression":
        return _chain(tuple(children))
    if kind == "comparator" and len(children) == 2 and node["value"] in _COMPARE:
        return _comparator(str(node["value"]), node["children"][1], *children)
    if kind == "and_expression" and len(children) == 2:
        left, right = children

        def and_(record: Any) -> Any:
            matched = left(record)
            return matched if _is_false(matched) else right(record)
        return and_
    if kind == "or_expression" and len(children) == 2:
        left, right = children

        def or_(record: Any) -> Any:
            matched = left(record)
            return right(record) if _is_false(matched) else matched
        return or_
    if kind == "not_expression" and len(children) == 1:
        (inner,) = children

        def not_(record: Any) -> Any:
            value = inner(record)
            # jmespath: !0 is false (0 is not falsy there); bools are not numbers
            if _is_number(value) and value == 0:
                return False
            return not value
        return not_

    def interpret(record: Any) -> Any:
        return _INTERPRETER.visit(cast(Any, node), record)
    return interpret


def _field(key: Any) -> Getter:
    def field(record: Any) -> Any:
        try:
            return record.get(key)
        except AttributeError:  # not an object: null, as jmespath has it
            return None
    return field


def _chain(steps: tuple[Getter, ...]) -> Getter:
    def chain(record: Any) -> Any:
        for step in steps:
            record = step(record)
        return record
    return chain


def _comparator(op: str, right_node: Mapping[str, Any], left: Getter, right: Getter) -> Getter:
    func = _COMPARE[op]
    if op in ("eq", "ne"):
        literal = right_node.get("value")
        if right_node.get("type") == "literal" and (literal is None or type(literal) is str):
            # jmespath's equality only differs from == when one side is 0/1 and the other a
            # bool; a null or text literal is neither.
            if op == "eq":
                return lambda record: left(record) == literal
            return lambda record: not left(record) == literal  # noqa: SIM201 - jmespath's ne
        return lambda record: func(left(record), right(record))

    def ordering(record: Any) -> Any:
        a, b = left(record), right(record)
        if not (_comparable(a) and _comparable(b)):
            return None  # jmespath orders numbers and strings only
        return func(a, b)
    return ordering


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, Number)


def _comparable(value: Any) -> bool:
    return _is_number(value) or isinstance(value, str)


def system_side(text: str) -> SystemSide:
    """Compile the ``system:`` value of a field mapping.

    Raises:
        ExpressionError: not a plain name and not a valid jmespath expression.
    """
    if is_plain_name(text):
        return SystemSide(text, text, None)
    parsed = parse(text)
    chain = _field_chain(parsed)
    if chain is not None and len(chain) == 1:
        return SystemSide(text, chain[0], None)
    getter = _nested(tuple(chain)) if chain is not None else evaluator(parsed)
    return SystemSide(text, None, getter)


_RELATIVE_FIRST_CHILD = {"subexpression", "index_expression", "projection", "value_projection",
                         "filter_projection", "flatten", "pipe"}
_ALL_CHILDREN = {"comparator", "and_expression", "or_expression", "not_expression",
                 "function_expression", "multi_select_list", "multi_select_dict",
                 "key_val_pair"}


def root_fields(node: Mapping[str, Any]) -> list[str]:
    """Field names an expression reads from the root object (for unknown-field checks)."""
    kind = node.get("type")
    children = node.get("children") or []
    if kind == "field":
        return [str(node["value"])]
    if kind in _RELATIVE_FIRST_CHILD and children:
        return root_fields(children[0])
    if kind in _ALL_CHILDREN:
        return [name for child in children if isinstance(child, Mapping)
                for name in root_fields(child)]
    return []


def truthy(value: Any) -> bool:
    """jmespath truthiness: false for null, false, "", [] and {}; numbers are true."""
    if value is None or value is False:
        return False
    if isinstance(value, (str, list, dict)):
        return bool(value)
    return True
