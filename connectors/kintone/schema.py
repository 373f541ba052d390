"""An app's record schema from its form fields, and records flattened for mappings.

``GET /k/v1/app/form/fields.json`` answers ``{"properties": {code: {"type", "code",
"label", "options", "unique", "required", "maxLength", "fields" (tables)}}}``; it lists the
system fields (RECORD_NUMBER, CREATOR, ...) but not ``$id``/``$revision``, which every record
carries (kintone.dev "Get Form Fields", js-sdk ``property.ts``) [C].

A record as kintone sends it is ``{code: {"type": T, "value": V}}`` with every value a string
except lists and objects (js-sdk ``field.ts``) [C]. Mappings see it flattened,
``{code: decoded value}``:

=============================================  ============================================
kintone type                                   flattened value
=============================================  ============================================
``__ID__``, ``__REVISION__``, RECORD_NUMBER    string (``"12"``)
NUMBER                                         int, or float when it has a fraction; None
                                               when blank
SINGLE_LINE_TEXT, MULTI_LINE_TEXT, RICH_TEXT,  string; None when blank
LINK, DROP_DOWN, RADIO_BUTTON, DATE, TIME,
DATETIME, CREATED_TIME, UPDATED_TIME, CALC
CHECK_BOX, MULTI_SELECT, CATEGORY              list of strings
USER_SELECT, ORGANIZATION_SELECT,              **list** of codes (``["tanaka"]``): these are
GROUP_SELECT, STATUS_ASSIGNEE                  multi-valued in kintone, so one shape always;
                                               a write accepts one code or a list
CREATOR, MODIFIER                              the user's code
FILE                                           list of file names (read only)
SUBTABLE                                       list of row dicts ``{column: value}``,
                                               decoded by the same rules
=============================================  ============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ID",
    "READ_ONLY_TYPES",
    "REVISION",
    "SYSTEM_TYPES",
    "UPDATED",
    "decode_record",
    "decode_value",
    "record_schema",
]

ID = "$id"
REVISION = "$revision"
UPDATED = "更新日時"
"""The default field code of the UPDATED_TIME field (the cursor of every stream)."""

SYSTEM_TYPES = frozenset({
    "__ID__", "__REVISION__", "RECORD_NUMBER", "CREATOR", "CREATED_TIME", "MODIFIER",
    "UPDATED_TIME", "CATEGORY", "STATUS", "STATUS_ASSIGNEE",
})
"""Fields kintone manages: never sent on a write."""

READ_ONLY_TYPES = SYSTEM_TYPES | {"CALC", "FILE", "REFERENCE_TABLE"}
"""Fields a write cannot set (files need an upload first; CALC is computed)."""

_LAYOUT_TYPES = frozenset({"GROUP", "LABEL", "SPACER", "HR", "REFERENCE_TABLE"})
_CODE_LISTS = frozenset({"USER_SELECT", "ORGANIZATION_SELECT", "GROUP_SELECT",
                         "STATUS_ASSIGNEE"})
_STRING_LISTS = frozenset({"CHECK_BOX", "MULTI_SELECT", "CATEGORY"})
_NULLABLE_STRING = {"type": ["string", "null"]}


def _options(prop: Mapping[str, Any]) -> list[str]:
    options = prop.get("options")
    if not isinstance(options, Mapping):
        return []

    def index(item: tuple[str, Any]) -> int:
        detail = item[1]
        raw = detail.get("index", 0) if isinstance(detail, Mapping) else 0
        try:
            return int(raw)
        except (TypeError, ValueError):
            return 0

    return [str(name) for name, _ in sorted(options.items(), key=index)]


def _property(prop: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = str(prop.get("type", ""))
    if kind in _LAYOUT_TYPES:
        return None
    out: dict[str, Any]
    if kind in ("__ID__", "__REVISION__", "RECORD_NUMBER"):
        out = {"type": "string"}
    elif kind == "NUMBER":
        out = {"type": ["number", "null"]}
    elif kind in ("DROP_DOWN", "RADIO_BUTTON"):
        out = {"type": ["string", "null"], "enum": [*_options(prop), None]}
    elif kind in _STRING_LISTS:
        items: dict[str, Any] = {"type": "string"}
        if _options(prop):
            items["enum"] = _options(prop)
        out = {"type": "array", "items": items}
    elif kind in _CODE_LISTS or kind == "FILE":
        out = {"type": "array", "items": {"type": "string"}}
    elif kind == "DATE":
        out = {"type": ["string", "null"], "format": "date"}
    elif kind in ("DATETIME", "CREATED_TIME", "UPDATED_TIME"):
        out = {"type": ["string", "null"], "format": "date-time"}
    elif kind == "TIME":
        out = {"type": ["string", "null"], "pattern": r"^\d{2}:\d{2}$"}
    elif kind == "SUBTABLE":
        raw = prop.get("fields")
        columns: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        row = {code: p for code, p in
               ((c, _property(v)) for c, v in columns.items() if isinstance(v, Mapping))
               if p is not None}
        out = {"type": "array", "items": {"type": "object", "properties": row,
                                          "additionalProperties": False}}
    else:  # text, link, CALC, CREATOR, MODIFIER and anything newer: a string
        out = dict(_NULLABLE_STRING)
        length = prop.get("maxLength")
        if kind in ("SINGLE_LINE_TEXT", "LINK") and str(length or "").isdigit():
            out["maxLength"] = int(str(length))
    if prop.get("label"):
        out["title"] = str(prop["label"])
    out["x-kintone-type"] = kind
    if kind in READ_ONLY_TYPES:
        out["readOnly"] = True
    if isinstance(prop.get("unique"), bool):
        out["x-unique"] = prop["unique"]
    return out


def record_schema(form: Mapping[str, Any], *, title: str = "") -> dict[str, Any]:
    """The JSON Schema of one flattened record, from a form-fields answer.

    Every property carries ``x-kintone-type``; picklists carry ``enum`` (their options in
    form order); system and computed fields are ``readOnly``.

    Example:
        >>> s = record_schema({"properties": {"ステージ": {"type": "DROP_DOWN",
        ...     "code": "ステージ", "options": {"SQL": {"index": "1"}, "MQL": {"index": "0"}}}}})
        >>> s["properties"]["ステージ"]["enum"]
        ['MQL', 'SQL', None]
        >>> s["properties"]["$revision"]["readOnly"]
        True
    """
    raw = form.get("properties")
    props: dict[str, Any] = {
        ID: {"type": "string", "title": "レコードID", "x-kintone-type": "__ID__",
             "readOnly": True},
        REVISION: {"type": "string", "title": "リビジョン", "x-kintone-type": "__REVISION__",
                   "readOnly": True},
    }
    for code, prop in (raw.items() if isinstance(raw, Mapping) else ()):
        if isinstance(prop, Mapping):
            built = _property(prop)
            if built is not None:
                props[str(code)] = built
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": [ID]}
    if title:
        schema["title"] = title
    return schema


def _number(text: str) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _code(item: Any) -> str | None:
    if isinstance(item, Mapping):
        code = item.get("code")
        return str(code) if code is not None else None
    return str(item) if item is not None else None


def decode_value(kind: str, value: Any) -> Any:
    """One field value as kintone sends it → the flattened value (see the module table)."""
    if kind == "NUMBER":
        return _number(value) if isinstance(value, str) else value
    if kind in _CODE_LISTS:
        items = value if isinstance(value, list) else []
        return [c for c in map(_code, items) if c is not None]
    if kind in ("CREATOR", "MODIFIER"):
        return _code(value)
    if kind == "FILE":
        items = value if isinstance(value, list) else []
        return [str(f.get("name")) if isinstance(f, Mapping) else str(f) for f in items]
    if kind == "SUBTABLE":
        rows = value if isinstance(value, list) else []
        return [decode_row(row.get("value")) for row in rows if isinstance(row, Mapping)]
    if kind in _STRING_LISTS:
        return [str(v) for v in value] if isinstance(value, list) else []
    if value == "":
        return None
    return value


def decode_row(cells: Any) -> dict[str, Any]:
    """One table row's ``{column: {"type", "value"}}`` → ``{column: value}``."""
    if not isinstance(cells, Mapping):
        return {}
    return {str(code): decode_value(str(cell.get("type", "")), cell.get("value"))
            for code, cell in cells.items() if isinstance(cell, Mapping)}


def decode_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A record as kintone sends it → ``{field_code: value}`` with ``$id``/``$revision``
    as strings.

    Example:
        >>> decode_record({"$id": {"type": "__ID__", "value": "7"},
        ...                "スコア": {"type": "NUMBER", "value": "42"},
        ...                "担当者": {"type": "USER_SELECT",
        ...                          "value": [{"code": "tanaka", "name": "田中 一郎"}]}})
        {'$id': '7', 'スコア': 42, '担当者': ['tanaka']}
    """
    out = decode_row(raw)
    for key in (ID, REVISION):
        if out.get(key) is not None:
            out[key] = str(out[key])
    return out
