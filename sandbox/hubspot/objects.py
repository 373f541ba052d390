"""The CRM object types of the emulated portal and their property definitions.

Standard property names follow HubSpot's default properties (contacts ``email``,
``firstname``, ``lastname``, ``jobtitle``...; companies ``name``, ``domain``; deals
``dealname``, ``dealstage``, ``pipeline``, ``amount``, ``closedate``; engagements
``hs_timestamp`` and ``hs_<type>_...``). ``*_kana``, ``department`` and ``lead_source`` are
custom properties this portal defines, as Japanese portals commonly do.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ASSOCIATION_TYPES",
    "ENGAGEMENT_TYPES",
    "OBJECT_TYPES",
    "READ_ONLY",
    "ObjectType",
    "PropertyDef",
    "object_type",
]


@dataclass(frozen=True)
class PropertyDef:
    """One property of an object type, as ``GET /crm/v3/properties/{type}`` describes it.

    Attributes:
        name: Internal name.
        type: ``string``, ``number``, ``datetime``, ``date``, ``enumeration`` or ``bool``.
        label: UI label.
        unique: ``hasUniqueValue``: usable as an upsert ``idProperty``.
        read_only: ``modificationMetadata.readOnlyValue``: writes are refused.
        options: Allowed values of an enumeration.
    """

    name: str
    type: str = "string"
    label: str = ""
    unique: bool = False
    read_only: bool = False
    options: tuple[str, ...] = ()

    def to_json(self, object_name: str) -> dict[str, object]:
        field_type = {"number": "number", "datetime": "date", "date": "date",
                      "enumeration": "select", "bool": "booleancheckbox"}.get(self.type, "text")
        return {
            "name": self.name, "label": self.label or self.name, "type": self.type,
            "fieldType": field_type, "groupName": f"{object_name[:-1]}information",
            "description": "", "hasUniqueValue": self.unique, "hidden": False,
            "formField": not self.read_only, "calculated": False,
            "modificationMetadata": {"archivable": not self.read_only,
                                     "readOnlyDefinition": True,
                                     "readOnlyValue": self.read_only},
            "options": [{"label": o, "value": o, "displayOrder": i, "hidden": False}
                        for i, o in enumerate(self.options)],
            "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z",
            "archived": False,
        }


READ_ONLY = ("hs_object_id", "createdate", "hs_createdate", "lastmodifieddate",
             "hs_lastmodifieddate")
"""System properties every object has; the portal maintains them, writes are refused."""

_SYSTEM = (
    PropertyDef("hs_object_id", "number", "Record ID", unique=True, read_only=True),
    PropertyDef("createdate", "datetime", "Create Date", read_only=True),
    PropertyDef("hs_createdate", "datetime", "Object create date", read_only=True),
    PropertyDef("lastmodifieddate", "datetime", "Last Modified Date", read_only=True),
    PropertyDef("hs_lastmodifieddate", "datetime", "Object last modified date/time",
                read_only=True),
)

LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
             "opportunity", "customer", "evangelist", "other")
DEAL_STAGES = ("appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
               "decisionmakerboughtin", "contractsent", "closedwon", "closedlost")


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type.

    Attributes:
        name: Path name (``contacts``).
        singular: For messages (``Contact``).
        type_id: HubSpot's object type id (``0-1``).
        properties: Every property, system ones included.
        defaults: Properties returned when a call names none.
        shared_ids: Engagement types draw ids from one sequence, as HubSpot's do.
    """

    name: str
    singular: str
    type_id: str
    properties: tuple[PropertyDef, ...]
    defaults: tuple[str, ...]
    shared_ids: bool = False

    def prop(self, name: str) -> PropertyDef | None:
        for p in self.properties:
            if p.name == name:
                return p
        return None

    @property
    def names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.properties)


def _s(*names: str) -> tuple[PropertyDef, ...]:
    return tuple(PropertyDef(n) for n in names)


_CONTACT = ObjectType(
    "contacts", "Contact", "0-1",
    (*_SYSTEM, PropertyDef("email", label="Email", unique=True),
     *_s("firstname", "lastname", "firstname_kana", "lastname_kana", "company", "department",
         "jobtitle", "phone", "mobilephone", "country", "state", "city", "zip", "address",
         "website", "industry", "lead_source", "hs_lead_status"),
     PropertyDef("numemployees", "number"), PropertyDef("annualrevenue", "number"),
     PropertyDef("lifecyclestage", "enumeration", options=LIFECYCLE),
     PropertyDef("hs_email_optout", "bool")),
    ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
)
_COMPANY = ObjectType(
    "companies", "Company", "0-2",
    (*_SYSTEM, *_s("name", "domain", "industry", "state", "city", "phone", "website"),
     PropertyDef("numberofemployees", "number"), PropertyDef("annualrevenue", "number")),
    ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
)
_DEAL = ObjectType(
    "deals", "Deal", "0-3",
    (*_SYSTEM, *_s("dealname", "pipeline", "hubspot_owner_id", "closed_lost_reason"),
     PropertyDef("dealstage", "enumeration", options=DEAL_STAGES),
     PropertyDef("amount", "number"), PropertyDef("closedate", "datetime"),
     PropertyDef("hs_is_closed", "bool", read_only=True),
     PropertyDef("hs_is_closed_won", "bool", read_only=True)),
    ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
     "hs_object_id", "pipeline"),
)


def _engagement(name: str, singular: str, type_id: str, *extra: str) -> ObjectType:
    props = (*_SYSTEM, PropertyDef("hs_timestamp", "datetime"), *_s("hubspot_owner_id", *extra))
    return ObjectType(name, singular, type_id, props,
                      ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"), shared_ids=True)


_ENGAGEMENTS = (
    _engagement("calls", "Call", "0-48", "hs_call_title", "hs_call_body", "hs_call_duration",
                "hs_call_direction", "hs_call_status"),
    _engagement("meetings", "Meeting", "0-47", "hs_meeting_title", "hs_meeting_body",
                "hs_meeting_start_time", "hs_meeting_end_time", "hs_meeting_outcome"),
    _engagement("notes", "Note", "0-46", "hs_note_body"),
    _engagement("emails", "Email", "0-49", "hs_email_subject", "hs_email_text",
                "hs_email_direction", "hs_email_status"),
)

OBJECT_TYPES: dict[str, ObjectType] = {
    o.name: o for o in (_CONTACT, _COMPANY, _DEAL, *_ENGAGEMENTS)}
ENGAGEMENT_TYPES: tuple[str, ...] = tuple(o.name for o in _ENGAGEMENTS)

ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279, ("companies", "contacts"): 280,
    ("deals", "contacts"): 3, ("contacts", "deals"): 4,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("calls", "contacts"): 194, ("contacts", "calls"): 193,
    ("meetings", "contacts"): 200, ("contacts", "meetings"): 199,
    ("notes", "contacts"): 202, ("contacts", "notes"): 201,
    ("emails", "contacts"): 198, ("contacts", "emails"): 197,
}
"""HUBSPOT_DEFINED association type ids by (from, to) [U: REFERENCE.md §6 lists 3, 4, 194,
200, 202; the rest are this emulator's choice]."""

_ALIASES = {"contact": "contacts", "company": "companies", "deal": "deals", "call": "calls",
            "meeting": "meetings", "note": "notes", "email": "emails",
            **{o.type_id: o.name for o in OBJECT_TYPES.values()}}


def object_type(name: str) -> ObjectType | None:
    """The object type a path segment names (``contacts``, ``contact``, ``0-1``), if any."""
    return OBJECT_TYPES.get(_ALIASES.get(name.lower(), name.lower()))
