"""The emulated subscription's lead fields: describe results and write-time validation.

Standard fields carry their REST names from the vendor's list of standard fields
(``list-of-standard-fields.md``) [C]; data types ``string``, ``email``, ``phone``, ``integer``,
``currency``, ``url``, ``boolean``, ``datetime`` and the 255-character length of text fields
follow the Lead Field examples in ``leads.md`` [C]. Field ids are this subscription's own (they
differ between real subscriptions too). The custom fields are this subscription's: kana names
for Japanese B2B data, a lifecycle stage, and ``renkeiHubId``, a searchable string the hub may
use as its own key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_FIELDS",
    "EMAIL_RE",
    "FIELDS",
    "FIELD_BY_NAME",
    "SEARCHABLE",
    "FieldDef",
    "FieldError",
    "coerce",
    "describe",
    "describe2",
    "format_dt",
    "parse_dt",
]


@dataclass(frozen=True)
class FieldDef:
    """One lead field as Describe Leads reports it.

    Attributes:
        id: The field id (Change Data Value activities name it).
        name: REST API name.
        display: Friendly label.
        data_type: Marketo data type.
        length: Maximum length of text types (0: no length).
        read_only: System managed: a write that sets it is rejected.
        soap: SOAP API name (standard fields only).
        custom: A custom field of this subscription.
    """

    id: int
    name: str
    display: str
    data_type: str
    length: int = 0
    read_only: bool = False
    soap: str | None = None
    custom: bool = False


_TEXT = {"string", "email", "phone", "url", "text"}


def _std(fid: int, name: str, display: str, dtype: str = "string", *, length: int | None = None,
         read_only: bool = False) -> FieldDef:
    if length is None:
        length = 255 if dtype in _TEXT - {"text"} else 0
    return FieldDef(fid, name, display, dtype, length, read_only, name[0].upper() + name[1:])


def _custom(fid: int, name: str, display: str, dtype: str = "string") -> FieldDef:
    return FieldDef(fid, name, display, dtype, 255 if dtype in _TEXT else 0, custom=True)


FIELDS: tuple[FieldDef, ...] = (
    FieldDef(1, "id", "Id", "integer", read_only=True, soap="Id"),
    _std(2, "company", "Company Name"),
    _std(3, "site", "Site"),
    _std(4, "website", "Website", "url"),
    _std(5, "annualRevenue", "Annual Revenue", "currency"),
    _std(6, "numberOfEmployees", "Num Employees", "integer"),
    _std(7, "industry", "Industry"),
    _std(20, "firstName", "First Name"),
    _std(21, "lastName", "Last Name"),
    _std(22, "salutation", "Salutation"),
    _std(23, "title", "Job Title"),
    _std(24, "department", "Department"),
    _std(25, "email", "Email Address", "email"),
    _std(26, "phone", "Phone Number", "phone"),
    _std(27, "mobilePhone", "Mobile Phone Number", "phone"),
    _std(28, "fax", "Fax Number", "phone"),
    _std(30, "address", "Address", "text"),
    _std(31, "city", "City"),
    _std(32, "state", "State"),
    _std(33, "postalCode", "Postal Code"),
    _std(34, "country", "Country"),
    _std(40, "leadSource", "Lead Source"),
    _std(41, "leadStatus", "Lead Status"),
    _std(42, "leadScore", "Lead Score", "integer"),
    _std(43, "rating", "Lead Rating"),
    _std(44, "leadRole", "Role"),
    _std(45, "unsubscribed", "Unsubscribed", "boolean"),
    _std(46, "unsubscribedReason", "Unsubscribed Reason", "text"),
    _std(47, "doNotCall", "Do Not Call", "boolean"),
    _std(48, "emailInvalid", "Email Invalid", "boolean"),
    FieldDef(50, "createdAt", "Created At", "datetime", read_only=True),
    FieldDef(51, "updatedAt", "Updated At", "datetime", read_only=True),
    _custom(1001, "lastNameKana", "Last Name Kana"),
    _custom(1002, "firstNameKana", "First Name Kana"),
    _custom(1003, "renkeiLifecycleStage", "Renkei Lifecycle Stage"),
    _custom(1004, "renkeiHubId", "Renkei Hub Id"),
    _custom(1005, "renkeiEmailOptIn", "Renkei Email Opt In", "boolean"),
    _custom(1006, "renkeiOptInAt", "Renkei Opt In At", "datetime"),
    _custom(1007, "behaviorScore", "Behavior Score", "integer"),
    _custom(1008, "demographicScore", "Demographic Score", "integer"),
    # Recycle (sales hands a lead back for nurturing, with their choices): renkei rules/outcomes.
    _custom(1101, "renkeiRecycleReason", "Renkei Recycle Reason"),
    _custom(1102, "renkeiRecycleContent", "Renkei Recycle Content"),
    _custom(1103, "renkeiRecycleFrequency", "Renkei Recycle Frequency"),
    _custom(1104, "renkeiRecycleEmail", "Renkei Recycle Email"),
)

FIELD_BY_NAME: Mapping[str, FieldDef] = {f.name: f for f in FIELDS}

DEFAULT_FIELDS: tuple[str, ...] = ("id", "email", "updatedAt", "createdAt", "firstName",
                                   "lastName")
"""Returned when a query names no ``fields`` (``leads.md``) [C]."""

SEARCHABLE: tuple[str, ...] = ("id", "email", "renkeiHubId", "lastNameKana", "firstNameKana")
"""Valid ``filterType`` values: ids, email, and custom string fields (``leads.md``: "only
``string``, ``email``, ``integer`` custom fields") [C]."""

EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
"""ASCII-only address check: "only ASCII characters are supported in the email address
field" (``leads.md``) [C]; the exact check the vendor applies is [U]."""


def describe() -> list[dict[str, Any]]:
    """The ``result`` of ``GET /rest/v1/leads/describe.json``."""
    out = []
    for f in FIELDS:
        item: dict[str, Any] = {"id": f.id, "displayName": f.display, "dataType": f.data_type}
        if f.length:
            item["length"] = f.length
        item["rest"] = {"name": f.name, "readOnly": f.read_only}
        if f.soap:
            item["soap"] = {"name": f.soap, "readOnly": f.read_only}
        out.append(item)
    return out


def describe2() -> list[dict[str, Any]]:
    """The ``result`` of ``GET /rest/v1/leads/describe2.json`` [S: shape seen in third-party
    example payloads: name, searchableFields, fields with updateable/crmManaged]."""
    return [{
        "name": "API Lead",
        "searchableFields": [[name] for name in SEARCHABLE],
        "fields": [
            {"name": f.name, "displayName": f.display, "dataType": f.data_type,
             **({"length": f.length} if f.length else {}),
             "updateable": not f.read_only, "crmManaged": False}
            for f in FIELDS
        ],
    }]


class FieldError(Exception):
    """A value a field cannot take; carries the record-level reason code.

    Args:
        code: ``1001`` (wrong type), ``1003`` (invalid data) or ``1006`` (no such field).
        message: The reason's message.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def format_dt(ts: float) -> str:
    """Epoch seconds as the API writes datetimes: ``2024-01-01T00:00:00Z`` (no millis)."""
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_dt(value: str) -> float:
    """ISO-8601 (``Z``, ``+hh:mm`` or ``+hhmm``; a date alone is midnight UTC) to epoch seconds.

    Raises:
        ValueError: not a datetime.
    """
    text = value.strip().replace(" ", "+")  # a '+' sent unencoded in a query decodes to ' '
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":" and "T" in text:
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def coerce(name: str, value: Any) -> Any:
    """The stored form of ``value`` for field ``name``, or a :class:`FieldError`.

    ``null`` and ``""`` both store null (``lead-database.md``: "a value of null, or an empty
    string, is written to the database as null") [C]. Text longer than the field's length is
    rejected with 1003 rather than cut [U: the vendor's behaviour is not documented].

    Raises:
        FieldError: unknown or read-only field, wrong type, too long, bad email.
    """
    f = FIELD_BY_NAME.get(name)
    if f is None:
        raise FieldError("1006", f"Field '{name}' not found")
    if f.read_only:
        raise FieldError("1003", f"Field '{name}' is read only")
    if value is None or value == "":
        return None
    kind = f.data_type
    if kind in _TEXT:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FieldError("1001", f"Invalid value '{value}'. Required of type '{kind}'")
        text = str(value)
        if f.length and len(text) > f.length:
            raise FieldError("1003", f"Value for field '{name}' exceeds max length {f.length}")
        if kind == "email" and not EMAIL_RE.match(text):
            raise FieldError("1003", "Invalid email address")
        return text
    if kind == "integer":
        return _number(name, value, kind, integral=True)
    if kind in ("currency", "float"):
        return _number(name, value, kind, integral=False)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, str)) and str(value).lower() in ("true", "false", "1", "0"):
            return str(value).lower() in ("true", "1")
        raise FieldError("1001", f"Invalid value '{value}'. Required of type 'boolean'")
    if kind == "datetime":
        try:
            return format_dt(parse_dt(str(value)))
        except ValueError:
            raise FieldError("1001", f"Invalid value '{value}'. Required of type 'datetime'") from None
    return value


def _number(name: str, value: Any, kind: str, *, integral: bool) -> int | float:
    if isinstance(value, bool):
        raise FieldError("1001", f"Invalid value '{value}'. Required of type '{kind}'")
    try:
        number = float(value) if not isinstance(value, (int, float)) else value
    except (TypeError, ValueError):
        raise FieldError("1001", f"Invalid value '{value}'. Required of type '{kind}'") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise FieldError("1001", f"Invalid value '{value}'. Required of type '{kind}'")
    if integral:
        if float(number) != int(number):
            raise FieldError("1001", f"Invalid value '{value}'. Required of type '{kind}'")
        if abs(int(number)) > 2**31 - 1:
            raise FieldError("1003", f"Value for field '{name}' is out of range")
        return int(number)
    return float(number)
