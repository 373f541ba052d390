"""From a Salesforce describe result to a :class:`StreamSpec` (JSON Schema of a record)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.sdk import StreamSpec, WriteMode

__all__ = ["PAGE_SIZE", "WRITE_BATCH", "stream_from_describe"]

PAGE_SIZE = 2000
"""Records per query page: Salesforce's default and maximum batch size."""
WRITE_BATCH = 200
"""Records per sObject Collections call: the documented maximum."""

_TEXT = {"string", "email", "phone", "url", "textarea", "picklist", "multipicklist", "id",
         "reference", "combobox", "encryptedstring"}


def _property(field: Mapping[str, Any]) -> dict[str, Any]:
    ftype = str(field.get("type", "string"))
    prop: dict[str, Any] = {"title": field.get("label") or field["name"], "x-sf-type": ftype}
    if ftype == "boolean":
        prop["type"] = "boolean"
    elif ftype == "int":
        prop["type"] = ["integer", "null"]
    elif ftype in ("double", "currency", "percent"):
        prop["type"] = ["number", "null"]
    elif ftype == "datetime":
        prop.update(type=["string", "null"], format="date-time")
    elif ftype == "date":
        prop.update(type=["string", "null"], format="date")
    else:
        prop["type"] = ["string", "null"]
        if ftype in _TEXT and field.get("length"):
            prop["maxLength"] = int(field["length"])
    values = [p["value"] for p in field.get("picklistValues") or () if p.get("active", True)]
    if values:
        if field.get("restrictedPicklist"):
            # Only a restricted picklist refuses other values; an open one may hold anything.
            prop["enum"] = [*values, None]
        else:
            prop["examples"] = values
    if not field.get("createable") and not field.get("updateable"):
        prop["readOnly"] = True
    if field.get("externalId"):
        prop["x-external-id"] = True
    return prop


def stream_from_describe(describe: Mapping[str, Any], *, external_id_field: str | None) -> StreamSpec:
    """The stream of one sObject: every field, keyed by ``Id``, cursor ``SystemModstamp``."""
    fields = describe.get("fields") or []
    properties = {f["name"]: _property(f) for f in fields}
    required_on_create = sorted(
        f["name"] for f in fields
        if f.get("createable") and not f.get("nillable") and not f.get("defaultedOnCreate")
        and f.get("type") != "boolean")
    writable = frozenset(f["name"] for f in fields if f.get("createable") or f.get("updateable"))
    modes = {WriteMode.CREATE, WriteMode.UPDATE}
    if external_id_field:
        modes.add(WriteMode.UPSERT)
    name = str(describe["name"])
    return StreamSpec(
        name=name,
        schema={"type": "object", "title": str(describe.get("label") or name),
                "properties": properties, "required": ["Id"],
                "x-required-on-create": required_on_create},
        primary_key=("Id",),
        cursor_field="SystemModstamp",
        page_size=PAGE_SIZE,
        write_batch_size=WRITE_BATCH,
        write_modes=frozenset(modes),
        writable_fields=writable,
        description=f"Salesforce {name} records (sObject {name}).",
    )
