"""The ``leads`` stream's JSON Schema, built from Describe Leads.

Describe is "the primary source of truth for whether fields are available for use"
(``leads.md``) [C]: each item has ``dataType``, an optional ``length`` and
``rest: {name, readOnly}``; fields without a ``rest`` entry cannot be used over REST.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["SYSTEM_FIELDS", "lead_schema", "rest_fields"]

SYSTEM_FIELDS = ("id", "createdAt", "updatedAt")
"""Fields Marketo manages; never written, never worth watching for changes."""

_TYPES: Mapping[str, dict[str, Any]] = {
    "string": {"type": ["string", "null"]},
    "text": {"type": ["string", "null"]},
    "email": {"type": ["string", "null"], "format": "email"},
    "phone": {"type": ["string", "null"]},
    "url": {"type": ["string", "null"]},
    "reference": {"type": ["string", "null"]},
    "integer": {"type": ["integer", "null"]},
    "score": {"type": ["integer", "null"]},
    "float": {"type": ["number", "null"]},
    "currency": {"type": ["number", "null"]},
    "percent": {"type": ["number", "null"]},
    "boolean": {"type": ["boolean", "null"]},
    "datetime": {"type": ["string", "null"], "format": "date-time"},
    "date": {"type": ["string", "null"], "format": "date"},
}


def rest_fields(describe: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The describe items usable over REST (those with a ``rest`` name)."""
    out = []
    for item in describe:
        rest = item.get("rest")
        if isinstance(rest, Mapping) and isinstance(rest.get("name"), str):
            out.append(item)
    return out


def lead_schema(describe: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A JSON Schema of one lead record from Describe Leads.

    Example:
        >>> s = lead_schema([{"id": 2, "displayName": "Company Name", "dataType": "string",
        ...                   "length": 255, "rest": {"name": "company", "readOnly": False}}])
        >>> s["properties"]["company"]["maxLength"]
        255
    """
    props: dict[str, Any] = {}
    for item in rest_fields(describe):
        rest = item["rest"]
        kind = str(item.get("dataType", "string"))
        prop: dict[str, Any] = dict(_TYPES.get(kind, {"type": ["string", "null"]}))
        prop["title"] = str(item.get("displayName", rest["name"]))
        prop["x-marketo-type"] = kind
        field_id = item.get("id")
        if isinstance(field_id, int) and not isinstance(field_id, bool):
            # Change Data Value activities name the field by this id (incremental.py).
            prop["x-marketo-id"] = field_id
        length = item.get("length")
        if isinstance(length, int) and length > 0 and "string" in prop["type"]:
            prop["maxLength"] = length
        if rest.get("readOnly"):
            prop["readOnly"] = True
        props[rest["name"]] = prop
    if "id" in props:
        props["id"]["type"] = "integer"  # never null on a stored lead
    return {"type": "object", "properties": props, "required": ["id"] if "id" in props else []}
