"""Flattened values → kintone's write format, checked against the app's field types first.

kintone rejects a whole bulk call for one bad record (all-or-nothing), so every value that
can be checked here is: a record with a value kintone would refuse fails on its own, with a
message naming the field, and never costs a call. On a write kintone wants
``{code: {"value": V}}`` without ``type`` [C: REFERENCE.md §3]:

* NUMBER as a string (``"1200"``); bools, NaN and text that is not a number are refused;
* DROP_DOWN / RADIO_BUTTON one of the field's options; CHECK_BOX / MULTI_SELECT a list of
  them;
* USER_SELECT / ORGANIZATION_SELECT / GROUP_SELECT ``[{"code": c}]`` from one code or a list;
* DATE ``YYYY-MM-DD``; DATETIME ISO-8601 in UTC with ``Z`` (a naive time is taken as UTC);
  TIME ``HH:MM``;
* SUBTABLE rows ``[{"value": {column: {"value": V}}}]``, each cell by its column's type
  (the table is replaced as a whole);
* blanks (None) as ``""`` (``[]`` for lists); system fields (``$id``, 更新日時, ...) are
  dropped, computed ones (CALC, FILE) refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from connectors.kintone.schema import READ_ONLY_TYPES, SYSTEM_TYPES

__all__ = ["EncodeError", "encode_record", "encode_value"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
_LISTS = frozenset({"USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT"})
_MAX_SHOWN = 12


class EncodeError(ValueError):
    """A value the field cannot take; ``field`` names it.

    Attributes:
        field: The field code.
        about_form: True when the refusal rests on the form itself (no such field or table
            column, not an option, not writable) rather than on the value's shape: a form
            kept from an earlier run may have changed since, and is worth reading again.
    """

    def __init__(self, field: str, message: str, *, about_form: bool = False):
        super().__init__(message)
        self.field = field
        self.about_form = about_form


def _options_text(options: list[Any]) -> str:
    shown = [str(o) for o in options if o is not None]
    more = f", … {len(shown) - _MAX_SHOWN} more" if len(shown) > _MAX_SHOWN else ""
    return ", ".join(shown[:_MAX_SHOWN]) + more


def _number(field: str, value: Any) -> str:
    if isinstance(value, bool):
        raise EncodeError(field, f"{field} is a NUMBER field; got a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        if isinstance(value, float) and not math.isfinite(value):
            raise EncodeError(field, f"{field} is a NUMBER field; got {value}")
        # Through Decimal: never an exponent (1e+20) kintone would not read.
        text = format(value if isinstance(value, Decimal) else Decimal(repr(value)), "f")
        return text.removesuffix(".0")
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        try:
            float(text)
        except ValueError:
            raise EncodeError(field, f"{field} is a NUMBER field; {value!r} is not a number"
                              ) from None
        return text
    raise EncodeError(field, f"{field} is a NUMBER field; got {type(value).__name__}")


def _datetime(field: str, value: Any) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise EncodeError(field, f"{field} is a DATETIME field; {value!r} is not an "
                                     "ISO-8601 date and time") from None
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise EncodeError(field, f"{field} is a DATETIME field; got {type(value).__name__}")


def _date(field: str, value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()[:10] if "T" in value else value.strip()
        if _DATE.match(text):
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                pass
    raise EncodeError(field, f"{field} is a DATE field; {value!r} is not a YYYY-MM-DD date")


def _choice(field: str, value: Any, options: list[Any]) -> str:
    text = str(value)
    if text not in options:
        raise EncodeError(field, f"{text!r} is not an option of {field} "
                                 f"(options: {_options_text(options)})", about_form=True)
    return text


def _codes(field: str, value: Any) -> list[dict[str, str]]:
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in items:
        code = item.get("code") if isinstance(item, Mapping) else item
        if not isinstance(code, str) or not code.strip():
            raise EncodeError(field, f"{field} takes user/organization/group codes; "
                                     f"got {item!r}")
        out.append({"code": code.strip()})
    return out


def encode_value(field: str, prop: Mapping[str, Any], value: Any) -> Any:
    """One flattened value → kintone's ``value`` for a field described by ``prop``.

    Raises:
        EncodeError: the field cannot take the value.

    Example:
        >>> encode_value("担当者", {"x-kintone-type": "USER_SELECT"}, "tanaka")
        [{'code': 'tanaka'}]
        >>> encode_value("日時", {"x-kintone-type": "DATETIME"}, "2024-04-01T09:30:00+09:00")
        '2024-04-01T00:30:00Z'
    """
    kind = str(prop.get("x-kintone-type", ""))
    if kind in _LISTS:
        return [] if value is None else _codes(field, value)
    if kind in ("CHECK_BOX", "MULTI_SELECT"):
        if value is None:
            return []
        items = value if isinstance(value, (list, tuple)) else [value]
        options = list(prop.get("items", {}).get("enum") or [])
        return [_choice(field, v, options) if options else str(v) for v in items]
    if kind == "SUBTABLE":
        return [] if value is None else _rows(field, prop, value)
    if value is None or value == "":
        return ""
    if kind == "NUMBER":
        return _number(field, value)
    if kind in ("DROP_DOWN", "RADIO_BUTTON"):
        return _choice(field, value, list(prop.get("enum") or []))
    if kind == "DATETIME":
        return _datetime(field, value)
    if kind == "DATE":
        return _date(field, value)
    if kind == "TIME":
        if isinstance(value, str) and _TIME.match(value.strip()):
            return value.strip()[:5]
        raise EncodeError(field, f"{field} is a TIME field; {value!r} is not HH:MM")
    if isinstance(value, (dict, list, tuple, set)):
        raise EncodeError(field, f"{field} is a {kind or 'text'} field; got "
                                 f"{type(value).__name__}")
    return str(value)


def _rows(field: str, prop: Mapping[str, Any], rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, (list, tuple)):
        raise EncodeError(field, f"{field} is a table (SUBTABLE); give a list of rows")
    columns = prop.get("items", {}).get("properties", {})
    out = []
    for number, row in enumerate(rows, 1):
        if not isinstance(row, Mapping):
            raise EncodeError(field, f"{field} row {number} is not an object of column values")
        cells: dict[str, Any] = {}
        for column, value in row.items():
            column_prop = columns.get(column)
            if column_prop is None:
                raise EncodeError(field, f"{field} row {number}: the table has no column "
                                         f"{column!r} (columns: {', '.join(columns)})",
                                  about_form=True)
            try:
                cells[column] = {"value": encode_value(column, column_prop, value)}
            except EncodeError as exc:
                raise EncodeError(field, f"{field} row {number}: {exc}",
                                  about_form=exc.about_form) from None
        out.append({"value": cells})
    return out


def encode_record(values: Mapping[str, Any], properties: Mapping[str, Any], *,
                  app: str) -> dict[str, dict[str, Any]]:
    """Flattened values → a kintone ``record`` object; system fields dropped.

    Raises:
        EncodeError: a field does not exist in the app, cannot be written, or cannot take
            its value (the first problem found).
    """
    record: dict[str, dict[str, Any]] = {}
    for field, value in values.items():
        prop = properties.get(field)
        if prop is None:
            raise EncodeError(field, f"app {app} has no field {field!r}", about_form=True)
        kind = str(prop.get("x-kintone-type", ""))
        if kind in SYSTEM_TYPES or field.startswith("$"):
            continue  # kintone sets these itself
        if kind in READ_ONLY_TYPES:
            raise EncodeError(field, f"{field} is a {kind} field and cannot be written",
                              about_form=True)
        record[field] = {"value": encode_value(field, prop, value)}
    return record
