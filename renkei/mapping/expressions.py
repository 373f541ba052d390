"""jmespath on the system side (read-only field expressions) and in outbound filters.

A ``system:`` value with no jmespath operator character is a plain field name and is read
with a dict lookup; anything else is compiled once. ``"my.field"`` (a quoted identifier)
is a plain name too. Dotted paths (``owner.email``) get a fast nested-lookup getter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
    """A function evaluating a parsed expression against a record (no re-parsing)."""
    def search(record: Mapping[str, Any]) -> Any:
        return _INTERPRETER.visit(cast(Any, parsed), record)
    return search


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
