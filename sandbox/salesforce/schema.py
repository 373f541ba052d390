"""The emulated org's objects (Lead, Contact, Account, Opportunity, OpportunityContactRole,
Task) and their describe results.

Field names, types and lengths follow the standard objects (Lead.LastName 80, FirstName 40,
Company 255, Email 80, Title 128, Phone 40 ...) [S: Salesforce Object Reference field lists];
the custom fields (``__c``) are this org's own: kana names and department for Japanese
B2B data, and ``Renkei_Id__c``, a unique external id the hub upserts by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CLOSED_TASK_STATUSES", "CONTACT_ROLES", "LOSS_REASONS", "OBJECTS",
           "OPPORTUNITY_STAGES", "TASK_STATUSES", "FieldDef", "ObjectDef", "describe_global",
           "object_def"]


@dataclass(frozen=True)
class FieldDef:
    """One field as describe reports it.

    Attributes:
        name: API name.
        type: Salesforce field type (``id``, ``string``, ``email``, ``picklist``...).
        length: Maximum length of text fields (0 otherwise).
        required: Not nillable on create (and not defaulted): REQUIRED_FIELD_MISSING.
        createable: May be set on create.
        updateable: May be set on update.
        picklist: Allowed values of a picklist.
        restricted: A restricted picklist rejects other values.
        default: Value set on create when the field is absent.
        external_id: Usable as the key of an upsert.
        unique: Values must be unique across records (case-insensitive).
        reference_to: Target objects of a lookup.
    """

    name: str
    type: str
    label: str = ""
    length: int = 0
    required: bool = False
    createable: bool = True
    updateable: bool = True
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: Any = None
    external_id: bool = False
    unique: bool = False
    reference_to: tuple[str, ...] = ()
    precision: int = 0
    scale: int = 0

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def nillable(self) -> bool:
        return not self.required and self.type not in ("boolean", "id") and self.createable

    def describe(self) -> dict[str, Any]:
        """This field as an entry of ``describe().fields``."""
        soap = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean",
                "datetime": "xsd:dateTime", "date": "xsd:date", "int": "xsd:int",
                "double": "xsd:double", "currency": "xsd:double"}.get(self.type, "xsd:string")
        return {
            "aggregatable": self.type not in ("textarea",),
            "autoNumber": False,
            "byteLength": self.length * 3,
            "calculated": False,
            "caseSensitive": False,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if self.type == "boolean" else None,
            "defaultedOnCreate": self.default is not None or self.name in (
                "Id", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp",
                "IsDeleted", "CreatedById", "LastModifiedById"),
            "digits": 9 if self.type == "int" else 0,
            "externalId": self.external_id,
            "filterable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "double", "currency", "datetime"),
            "idLookup": self.type == "id" or self.external_id or self.type == "email",
            "label": self.label or self.name.replace("__c", "").replace("_", " "),
            "length": self.length,
            "name": self.name,
            "nameField": self.name == "Name",
            "nillable": self.nillable,
            "picklistValues": [
                {"active": True, "defaultValue": value == self.default, "label": value,
                 "validFor": None, "value": value}
                for value in self.picklist
            ],
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.name[:-2] if self.type == "reference" else None,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": soap,
            "sortable": self.type != "textarea",
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass(frozen=True)
class ObjectDef:
    """One sObject type."""

    name: str
    label: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    by_lower: Mapping[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_lower", {f.name.lower(): f for f in self.fields})

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name``, matched case-insensitively as Salesforce does."""
        return self.by_lower.get(name.lower())

    @property
    def external_ids(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.external_id)

    def describe(self, version: str) -> dict[str, Any]:
        """The ``sobjects/{Obj}/describe`` body."""
        return {
            **self.summary(version),
            "fields": [f.describe() for f in self.fields],
            "childRelationships": [],
            "recordTypeInfos": [],
            "urls": {**self.summary(version)["urls"],
                     "describe": f"/services/data/v{version}/sobjects/{self.name}/describe"},
        }

    def summary(self, version: str) -> dict[str, Any]:
        """This object's entry in the describe-global ``sobjects`` list."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "activateable": False, "createable": True, "custom": False, "customSetting": False,
            "deletable": True, "deprecatedAndHidden": False, "feedEnabled": True,
            "keyPrefix": self.key_prefix, "label": self.label, "labelPlural": self.label + "s",
            "layoutable": True, "mergeable": True, "mruEnabled": True, "name": self.name,
            "queryable": True, "replicateable": True, "retrieveable": True,
            "searchable": True, "triggerable": True, "undeletable": True, "updateable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe",
                     "rowTemplate": f"{base}/{{ID}}"},
        }


def _s(name: str, length: int, **kw: Any) -> FieldDef:
    return FieldDef(name, kw.pop("type", "string"), length=length, **kw)


_AUDIT = (
    FieldDef("IsDeleted", "boolean", createable=False, updateable=False, default=False),
    FieldDef("OwnerId", "reference", length=18, reference_to=("User", "Group")),
    FieldDef("CreatedDate", "datetime", createable=False, updateable=False),
    FieldDef("CreatedById", "reference", length=18, createable=False, updateable=False,
             reference_to=("User",)),
    FieldDef("LastModifiedDate", "datetime", createable=False, updateable=False),
    FieldDef("LastModifiedById", "reference", length=18, createable=False, updateable=False,
             reference_to=("User",)),
    FieldDef("SystemModstamp", "datetime", createable=False, updateable=False),
)

# This org localised its picklists, as Japanese orgs commonly do; the standard English
# lead sources stay as inactive-looking leftovers that old records still carry.
LEAD_SOURCES = ("セミナー", "展示会", "資料請求", "問い合わせ", "トライアル", "ウェビナー", "紹介",
                "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
INDUSTRIES = ("製造業", "卸売業", "小売業", "情報通信業", "建設業", "不動産業", "金融業",
              "サービス業", "運輸業", "医療・福祉", "教育", "官公庁", "その他")
LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted")
RATINGS = ("Hot", "Warm", "Cold")
KANA_AND_REF = (
    _s("LastNameKana__c", 80, label="Last Name (Kana)"),
    _s("FirstNameKana__c", 40, label="First Name (Kana)"),
)
RENKEI_ID = _s("Renkei_Id__c", 64, label="Renkei Id", external_id=True, unique=True)

LEAD = ObjectDef("Lead", "Lead", "00Q", (
    FieldDef("Id", "id", length=18, createable=False, updateable=False),
    _s("LastName", 80, required=True),
    _s("FirstName", 40),
    _s("Name", 121, createable=False, updateable=False),
    _s("Title", 128),
    _s("Company", 255, required=True),
    _s("City", 40),
    _s("State", 80, label="State/Province"),
    _s("PostalCode", 20, label="Zip/Postal Code"),
    _s("Country", 80),
    _s("Phone", 40, type="phone"),
    _s("MobilePhone", 40, type="phone"),
    _s("Email", 80, type="email"),
    _s("Website", 255, type="url"),
    _s("Description", 32000, type="textarea"),
    _s("LeadSource", 255, type="picklist", picklist=LEAD_SOURCES),
    _s("Status", 255, type="picklist", picklist=LEAD_STATUSES, restricted=True,
       default="Open - Not Contacted"),
    _s("Industry", 255, type="picklist", picklist=INDUSTRIES),
    _s("Rating", 255, type="picklist", picklist=RATINGS, restricted=True),
    FieldDef("AnnualRevenue", "currency", precision=18, scale=0),
    FieldDef("NumberOfEmployees", "int"),
    FieldDef("HasOptedOutOfEmail", "boolean", label="Email Opt Out", default=False),
    FieldDef("IsConverted", "boolean", updateable=False, default=False),
    *_AUDIT,
    *KANA_AND_REF,
    _s("Department__c", 80, label="Department"),
    FieldDef("Lead_Score__c", "double", label="Lead Score", precision=18, scale=0),
    RENKEI_ID,
))

CONTACT = ObjectDef("Contact", "Contact", "003", (
    FieldDef("Id", "id", length=18, createable=False, updateable=False),
    FieldDef("AccountId", "reference", length=18, reference_to=("Account",)),
    _s("LastName", 80, required=True),
    _s("FirstName", 40),
    _s("Name", 121, createable=False, updateable=False),
    _s("Title", 128),
    _s("Department", 80),
    _s("MailingCity", 40),
    _s("MailingState", 80),
    _s("MailingPostalCode", 20),
    _s("MailingCountry", 80),
    _s("Phone", 40, type="phone"),
    _s("MobilePhone", 40, type="phone"),
    _s("Email", 80, type="email"),
    _s("Description", 32000, type="textarea"),
    _s("LeadSource", 255, type="picklist", picklist=LEAD_SOURCES),
    FieldDef("HasOptedOutOfEmail", "boolean", label="Email Opt Out", default=False),
    *_AUDIT,
    *KANA_AND_REF,
    RENKEI_ID,
))

ACCOUNT = ObjectDef("Account", "Account", "001", (
    FieldDef("Id", "id", length=18, createable=False, updateable=False),
    _s("Name", 255, required=True),
    _s("Website", 255, type="url"),
    _s("Phone", 40, type="phone"),
    _s("Industry", 255, type="picklist", picklist=INDUSTRIES),
    FieldDef("NumberOfEmployees", "int"),
    FieldDef("AnnualRevenue", "currency", precision=18, scale=0),
    _s("BillingCity", 40),
    _s("BillingState", 80),
    _s("BillingPostalCode", 20),
    _s("BillingCountry", 80),
    _s("Description", 32000, type="textarea"),
    *_AUDIT,
    _s("NameKana__c", 255, label="Account Name (Kana)"),
    RENKEI_ID,
))

# The standard sales process's stages and their default probabilities [S: Object Reference,
# Opportunity.StageName; Setup "Opportunity Stages"]; whether the API refuses a stage the
# picklist lacks is not documented, so the picklist stays open here [U].
OPPORTUNITY_STAGES: tuple[tuple[str, int], ...] = (
    ("Prospecting", 10), ("Qualification", 10), ("Needs Analysis", 20),
    ("Value Proposition", 50), ("Id. Decision Makers", 60), ("Perception Analysis", 70),
    ("Proposal/Price Quote", 75), ("Negotiation/Review", 90), ("Closed Won", 100),
    ("Closed Lost", 0))
LOSS_REASONS = ("価格", "機能不足", "競合採用", "時期尚早", "予算なし", "その他")
CONTACT_ROLES = ("Business User", "Decision Maker", "Economic Buyer", "Economic Decision Maker",
                 "Evaluator", "Executive Sponsor", "Influencer", "Technical Buyer", "Other")

OPPORTUNITY = ObjectDef("Opportunity", "Opportunity", "006", (
    FieldDef("Id", "id", length=18, createable=False, updateable=False),
    FieldDef("AccountId", "reference", length=18, reference_to=("Account",)),
    _s("Name", 120, required=True),
    _s("StageName", 255, type="picklist", label="Stage", required=True,
       picklist=tuple(name for name, _ in OPPORTUNITY_STAGES)),
    FieldDef("Amount", "currency", precision=18, scale=2),
    FieldDef("CloseDate", "date", required=True),
    FieldDef("Probability", "percent", label="Probability (%)", precision=3, scale=0),
    FieldDef("IsClosed", "boolean", label="Closed", createable=False, updateable=False,
             default=False),
    FieldDef("IsWon", "boolean", label="Won", createable=False, updateable=False, default=False),
    _s("LeadSource", 255, type="picklist", picklist=LEAD_SOURCES),
    FieldDef("CampaignId", "reference", length=18, reference_to=("Campaign",)),
    _s("NextStep", 255),
    _s("Description", 32000, type="textarea"),
    FieldDef("LastStageChangeDate", "datetime", createable=False, updateable=False),
    *_AUDIT,
    _s("LossReason__c", 255, type="picklist", label="Loss Reason", picklist=LOSS_REASONS,
       restricted=True),
    RENKEI_ID,
))

# A contact role has no owner: it is part of its opportunity [S: Object Reference].
OPPORTUNITY_CONTACT_ROLE = ObjectDef("OpportunityContactRole", "Opportunity Contact Role", "00K", (
    FieldDef("Id", "id", length=18, createable=False, updateable=False),
    FieldDef("OpportunityId", "reference", length=18, required=True, updateable=False,
             reference_to=("Opportunity",)),
    FieldDef("ContactId", "reference", length=18, required=True, reference_to=("Contact",)),
    _s("Role", 40, type="picklist", picklist=CONTACT_ROLES),
    FieldDef("IsPrimary", "boolean", label="Primary", default=False),
    *(f for f in _AUDIT if f.name != "OwnerId"),
))

# Task [S: Object Reference, Task; REFERENCE.md §2(c) is U]: WhoId names a person (Lead or
# Contact), WhatId a thing (here Account or Opportunity); IsClosed follows Status (only
# "Completed" is a closed status in a default org); TaskSubtype is set on create only and
# defaults to "Task" for tasks the API creates [U]. The two ``__c`` measures are this org's
# own, for webinar and video activities.
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else",
                 "Deferred")
CLOSED_TASK_STATUSES = frozenset({"Completed"})
TASK_TYPES = ("Call", "Email", "Meeting", "Other", "Webinar", "Video", "Web")
TASK_SUBTYPES = ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")

TASK = ObjectDef("Task", "Task", "00T", (
    FieldDef("Id", "id", length=18, createable=False, updateable=False),
    FieldDef("WhoId", "reference", label="Name ID", length=18, reference_to=("Contact", "Lead")),
    FieldDef("WhatId", "reference", label="Related To ID", length=18,
             reference_to=("Account", "Opportunity")),
    _s("Subject", 255, type="combobox"),
    FieldDef("ActivityDate", "date", label="Due Date Only"),
    _s("Status", 255, type="picklist", picklist=TASK_STATUSES, restricted=True,
       default="Not Started"),
    _s("Priority", 40, type="picklist", picklist=("High", "Normal", "Low"), default="Normal"),
    FieldDef("IsClosed", "boolean", label="Closed", createable=False, updateable=False,
             default=False),
    _s("Type", 40, type="picklist", picklist=TASK_TYPES),
    _s("TaskSubtype", 40, type="picklist", label="Task Subtype", picklist=TASK_SUBTYPES,
       restricted=True, updateable=False, default="Task"),
    _s("Description", 32000, type="textarea", label="Comments"),
    *_AUDIT,
    FieldDef("Attended_Minutes__c", "double", label="Attended Minutes", precision=8, scale=1),
    FieldDef("Percent_Viewed__c", "percent", label="Percent Viewed", precision=6, scale=1),
    # Source ids (zoom:{webinar uuid}:{e-mail}) outgrow the 64 characters of the people's key.
    _s("Renkei_Id__c", 255, label="Renkei Id", external_id=True, unique=True),
))

_ALL = (LEAD, CONTACT, ACCOUNT, OPPORTUNITY, OPPORTUNITY_CONTACT_ROLE, TASK)
OBJECTS: dict[str, ObjectDef] = {o.name.lower(): o for o in _ALL}
PREFIXES: dict[str, ObjectDef] = {o.key_prefix: o for o in _ALL}


def object_def(name: str) -> ObjectDef | None:
    """The object called ``name`` (case-insensitive), or None."""
    return OBJECTS.get(name.lower())


def describe_global(version: str) -> dict[str, Any]:
    """The ``sobjects/`` body."""
    return {"encoding": "UTF-8", "maxBatchSize": 200,
            "sobjects": [o.summary(version) for o in OBJECTS.values()]}
