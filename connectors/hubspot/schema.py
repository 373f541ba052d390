"""The connector's streams and their record schemas, from HubSpot's property definitions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["STREAMS", "StreamDef", "record_schema"]


@dataclass(frozen=True)
class StreamDef:
    """How a stream maps onto HubSpot objects.

    Attributes:
        name: Stream name.
        objects: Object types read into it (several for engagements).
        cursor: The last-modified property, the stream's cursor field.
        upsert_property: Unique property writes may upsert by.
        associate_to: Records carry the ids of associated objects of this type.
        description: For ``renkei connectors``.
    """

    name: str
    objects: tuple[str, ...]
    cursor: str
    upsert_property: str | None = None
    associate_to: str | None = None
    description: str = ""


STREAMS: tuple[StreamDef, ...] = (
    StreamDef("contacts", ("contacts",), "lastmodifieddate", upsert_property="email",
              description="HubSpot contacts (people); upsert by email."),
    StreamDef("companies", ("companies",), "hs_lastmodifieddate",
              description="HubSpot companies."),
    StreamDef("deals", ("deals",), "hs_lastmodifieddate", associate_to="contacts",
              description="HubSpot deals with their contacts' ids (contact_ids)."),
    StreamDef("engagements", ("calls", "meetings", "notes", "emails"), "hs_lastmodifieddate",
              associate_to="contacts",
              description="Calls, meetings, notes and emails (engagement_type) with their "
                          "contacts' ids."),
)
"""Contacts use ``lastmodifieddate``, the other objects ``hs_lastmodifieddate`` [U:
REFERENCE.md §6; the emulator keeps both]."""


def _property_schema(prop: Mapping[str, Any]) -> dict[str, Any]:
    kind = prop.get("type")
    schema: dict[str, Any] = {"type": ["string", "null"], "x-hubspot-type": kind}
    if prop.get("label"):
        schema["title"] = str(prop["label"])
    if kind in ("datetime", "date"):
        schema["format"] = "date-time" if kind == "datetime" else "date"
    options = [o.get("value") for o in prop.get("options") or [] if isinstance(o, dict)]
    if kind == "enumeration" and options:
        schema["enum"] = [*options, None]
    meta = prop.get("modificationMetadata") or {}
    if meta.get("readOnlyValue"):
        schema["readOnly"] = True
    return schema


def record_schema(stream: StreamDef, properties: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """JSON Schema of one record: ``id`` and every property (values are strings or null)."""
    props: dict[str, Any] = {"id": {"type": "string", "readOnly": True}}
    for prop in properties:
        props[str(prop["name"])] = _property_schema(prop)
    if stream.associate_to:
        props["contact_ids"] = {"type": "array", "items": {"type": "string"},
                                "description": "Ids of the associated contacts."}
    if len(stream.objects) > 1:
        props["engagement_type"] = {"type": "string", "enum": list(stream.objects)}
    return {"type": "object", "required": ["id", stream.cursor], "properties": props}
