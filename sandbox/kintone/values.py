"""Field values: checking what a client writes, and rendering stored records as kintone does.

Stored form per type (what :class:`~sandbox.kintone.store.StoredRecord` keeps):

* SINGLE_LINE_TEXT, MULTI_LINE_TEXT, NUMBER: ``str`` (``""`` when empty; NUMBER normalised,
  ``" 42 "`` → ``"42"``, ``"1.5e1"`` → ``"15"`` [S: SonicGarden notes §9]);
* DROP_DOWN, DATE, DATETIME: ``str`` or ``None`` (rendered as ``null``);
* USER_SELECT: ``list[str]`` of user codes (rendered as ``[{"code", "name"}]``);
* SUBTABLE: ``list[tuple[int, dict]]`` of (row id, column values).

DATETIME values are kept to the minute, ``"2024-01-11T11:30:00Z"``: kintone stores no seconds
[S: defaultNowValue and system timestamps are always ``:00Z``].
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.kintone.errors import KintoneError
from sandbox.kintone.schema import USERS, AppDef, FieldDef

__all__ = [
    "ValueErrors",
    "coerce_record",
    "minute_stamp",
    "parse_datetime",
    "render_value",
]

ValueErrors = dict[str, list[str]]
Rows = list[tuple[int, dict[str, Any]]]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def minute_stamp(moment: datetime) -> str:
    """``moment`` in kintone's stored DATETIME form: UTC, seconds dropped."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def parse_datetime(text: str) -> datetime | None:
    """ISO 8601 with ``Z`` or an offset (seconds and fractions optional), else ``None``."""
    raw = text.strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", raw):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(raw: object) -> str | None:
    if isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if text == "":
        return ""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    normal = format(number.normalize(), "f")
    return normal if normal not in ("-0", "") else "0"


def _scalar(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, (dict, list)):
        raise TypeError
    return str(raw)


def _users(raw: object, key: str, errors: ValueErrors) -> list[str]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        errors.setdefault(key, []).append("配列で指定してください。")
        return []
    codes: list[str] = []
    for item in raw:
        code = item.get("code") if isinstance(item, dict) else None
        if not isinstance(code, str) or not code:
            errors.setdefault(key, []).append("code を指定してください。")
            continue
        if code not in USERS:
            raise KintoneError(400, "GAIA_IL26", f"指定したユーザー（code：{code}）が見つかりません。")
        if code not in codes:
            codes.append(code)
    return codes


def coerce_value(f: FieldDef, raw: object, key: str, errors: ValueErrors, *,
                 in_table: bool = False) -> Any:
    """Check one written value of field ``f``; problems go to ``errors[key]``.

    Raises:
        KintoneError: GAIA_IL26 for an unknown user code (kintone answers that one alone).
    """
    try:
        if f.type in ("SINGLE_LINE_TEXT", "MULTI_LINE_TEXT"):
            return _scalar(raw)
        if f.type == "NUMBER":
            number = _number(_scalar(raw))
            if number is None:
                if in_table:  # kintone silently empties a bad number inside a table [S]
                    return ""
                errors.setdefault(key, []).append("数字でなければなりません。")
                return ""
            return number
        if f.type == "DROP_DOWN":
            text = _scalar(raw)
            if text == "":
                return None
            if text not in f.options:
                errors.setdefault(key, []).append(f"\"{text}\"は選択肢にありません。")
            return text
        if f.type == "DATE":
            text = _scalar(raw).strip()
            if text == "":
                return None
            if not _DATE.match(text) or not _valid_date(text):
                errors.setdefault(key, []).append("日付の形式が正しくありません。")
            return text
        if f.type == "DATETIME":
            text = _scalar(raw).strip()
            if text == "":
                return None
            moment = parse_datetime(text)
            if moment is None:
                errors.setdefault(key, []).append("日時の形式が正しくありません。")
                return None
            return minute_stamp(moment)
        if f.type == "USER_SELECT":
            return _users(raw, key, errors)
    except TypeError:
        errors.setdefault(key, []).append("値の形式が正しくありません。")
        return None
    raise ValueError(f"field type {f.type} is not writable here")


def _valid_date(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def empty_value(f: FieldDef) -> Any:
    """The stored value of a field nobody filled."""
    if f.type in ("SINGLE_LINE_TEXT", "MULTI_LINE_TEXT", "NUMBER"):
        return ""
    if f.type in ("USER_SELECT", "SUBTABLE"):
        return []
    return None


def is_empty(value: Any) -> bool:
    """Whether a stored value counts as empty (for required checks and ``in ("")``)."""
    return value is None or value == "" or value == []


def _rows(f: FieldDef, raw: object, key: str, errors: ValueErrors, old: Rows,
          new_row_id: Any) -> Rows:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        errors.setdefault(key, []).append("配列で指定してください。")
        return old
    existing = {row_id: values for row_id, values in old}
    rows: Rows = []
    for index, item in enumerate(raw):
        where = f"{key}[{index}].value"
        cells = item.get("value") if isinstance(item, dict) else None
        if not isinstance(cells, dict):
            errors.setdefault(where, []).append("value を指定してください。")
            continue
        try:
            row_id = int(item.get("id")) if item.get("id") not in (None, "") else None
        except (TypeError, ValueError):
            row_id = None
        # A row whose id exists is merged; any other row is new and gets a fresh id [S].
        base = dict(existing[row_id]) if row_id in existing else {
            c: empty_value(col) for c, col in f.fields.items()}
        for code, cell in cells.items():
            col = f.fields.get(code)
            if col is None:
                continue
            value = cell.get("value") if isinstance(cell, dict) else None
            base[code] = coerce_value(col, value, f"{where}.{code}.value", errors, in_table=True)
        rows.append((row_id if row_id in existing else new_row_id(), base))
    return rows


def coerce_record(app: AppDef, raw: object, prefix: str, old: dict[str, Any] | None,
                  errors: ValueErrors, new_row_id: Any) -> dict[str, Any]:
    """Merge a written ``record`` object into ``old`` (``None`` for a new record).

    Unknown field codes and system fields are ignored, as kintone does [C: cybozu.dev Add
    Record]. Problems are collected in ``errors`` under ``{prefix}.{code}.value``.
    """
    values = dict(old) if old is not None else {
        c: empty_value(f) for c, f in app.fields.items() if not _system(f)}
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.setdefault(prefix, []).append("オブジェクトで指定してください。")
        return values
    for code, cell in raw.items():
        f = app.fields.get(code)
        if f is None or _system(f):
            continue
        key = f"{prefix}.{code}.value"
        if not isinstance(cell, dict) or "value" not in cell:
            errors.setdefault(key, []).append("value を指定してください。")
            continue
        if f.type == "SUBTABLE":
            values[code] = _rows(f, cell["value"], key, errors, values.get(code) or [], new_row_id)
        else:
            values[code] = coerce_value(f, cell["value"], key, errors)
    for code, f in app.fields.items():
        if f.required and is_empty(values.get(code)):
            errors.setdefault(f"{prefix}.{code}.value", []).append("必須です。")
    return values


def _system(f: FieldDef) -> bool:
    return f.type in ("__ID__", "__REVISION__", "RECORD_NUMBER", "CREATED_TIME", "UPDATED_TIME",
                      "CREATOR", "MODIFIER")


def _entity(code: str) -> dict[str, str]:
    return {"code": code, "name": USERS.get(code, code)}


def render_value(f: FieldDef, value: Any) -> Any:
    """A stored value as kintone returns it."""
    if f.type == "USER_SELECT":
        return [_entity(c) for c in value]
    if f.type == "SUBTABLE":
        return [{"id": str(row_id), "value": {
            c: {"type": col.type, "value": render_value(col, cells.get(c, empty_value(col)))}
            for c, col in f.fields.items()}} for row_id, cells in value]
    return value
