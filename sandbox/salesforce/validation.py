"""Field-level checks of a record write, worded as Salesforce words them.

Two kinds of failure:

* :class:`RequestError` fails the whole request (HTTP 400): an unknown field or a value of
  the wrong JSON type, as Salesforce's JSON deserializer rejects it before saving anything.
* :class:`SfError` rejects one record: returned as the single-record error body, or as one
  entry of a collection's per-record results.

Codes and messages [S: error bodies seen in issue threads and logs; [U] for the exact wording
of INVALID_FIELD_FOR_INSERT_UPDATE and JSON_PARSER_ERROR]:
REQUIRED_FIELD_MISSING "Required fields are missing: [LastName]", STRING_TOO_LONG
"Email: data value too large: ... (max length=80)", INVALID_EMAIL_ADDRESS
"Email: invalid email address: ...", INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST
"Rating: bad value for restricted picklist field: ...", MALFORMED_ID, DUPLICATE_VALUE.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.salesforce.ids import to_18
from sandbox.salesforce.schema import FieldDef, ObjectDef

__all__ = ["RequestError", "SfError", "check_record", "coerce"]

# Salesforce accepts ASCII local parts with the RFC 5322 atom characters and dotted
# domain labels; anything else is INVALID_EMAIL_ADDRESS.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$")


@dataclass
class SfError:
    """One record-level error.

    Attributes:
        code: ``statusCode`` in a SaveResult, ``errorCode`` in a single-record body.
        extra: More keys of the single-record body (``duplicateResult``).
    """

    code: str
    message: str
    fields: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_save_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def as_body(self) -> dict[str, Any]:
        return {"message": self.message, "errorCode": self.code, "fields": self.fields,
                **self.extra}


class RequestError(Exception):
    """The whole request is malformed (HTTP 400 with one error)."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.error = SfError(code, message, fields or [])


def _label(fd: FieldDef) -> str:
    return fd.label or fd.name


def _parser_error(fd: FieldDef, value: Any, java: str) -> RequestError:
    kind = {str: "VALUE_STRING", bool: "VALUE_TRUE" if value else "VALUE_FALSE",
            int: "VALUE_NUMBER_INT", float: "VALUE_NUMBER_FLOAT"}.get(type(value), "START_OBJECT")
    return RequestError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {java} from {kind} value {value} or request may be "
        f"missing a required field", [fd.name])


def coerce(odef: ObjectDef, values: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical field names and Python values, as Salesforce's deserializer reads them.

    ``""`` becomes None (Salesforce stores empty text as null); numbers given for text fields
    become text; numeric strings given for number fields become numbers.

    Raises:
        RequestError: INVALID_FIELD for an unknown field, JSON_PARSER_ERROR for a value that
            cannot be read as the field's type.
    """
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "attributes":
            continue
        fd = odef.field(name)
        if fd is None:
            raise RequestError(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {odef.name}",
                [name])
        out[fd.name] = _coerce_value(fd, value)
    return out


def _coerce_value(fd: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise _parser_error(fd, value, "java.lang.String")
    t = fd.type
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _parser_error(fd, value, "boolean")
    if t == "int":
        if isinstance(value, bool):
            raise _parser_error(fd, value, "int")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        if value == "":
            return None
        raise _parser_error(fd, value, "int")
    if t in ("double", "currency", "percent"):
        if isinstance(value, bool):
            raise _parser_error(fd, value, "double")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return float(value)
            except ValueError:
                raise _parser_error(fd, value, "double") from None
        raise _parser_error(fd, value, "double")
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = str(value)
    else:
        text = str(value)
    return text if text != "" else None


def check_record(odef: ObjectDef, values: Mapping[str, Any], *, creating: bool) -> list[SfError]:
    """Record-level errors of coerced ``values`` (empty when the record may be saved)."""
    errors: list[SfError] = []
    defs = {name: odef.field(name) for name in values}
    locked = [n for n, fd in defs.items()
              if fd is None or not (fd.createable if creating else fd.updateable)]
    if locked:
        errors.append(SfError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
            "settings of this field and verify that it is read/write for your profile or "
            "permission set.", locked))
        return errors
    missing = [fd.name for fd in odef.fields if fd.required and (
        values.get(fd.name) is None if creating or fd.name in values else False)]
    if missing:
        errors.append(SfError("REQUIRED_FIELD_MISSING",
                              f"Required fields are missing: [{', '.join(missing)}]", missing))
        return errors
    for name, value in values.items():
        fd = defs[name]
        assert fd is not None
        if value is None:
            continue
        if fd.type in ("reference", "id"):
            if to_18(value) is None:
                errors.append(SfError("MALFORMED_ID",
                                      f"{_label(fd)}: id value of incorrect type: {value}",
                                      [fd.name]))
            continue
        if isinstance(value, str) and fd.length and len(value) > fd.length:
            errors.append(SfError(
                "STRING_TOO_LONG",
                f"{_label(fd)}: data value too large: {value} (max length={fd.length})",
                [fd.name]))
            continue
        if fd.type == "picklist" and fd.restricted and value not in fd.picklist:
            errors.append(SfError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{_label(fd)}: bad value for restricted picklist field: {value}", [fd.name]))
            continue
        if fd.type == "email" and not _EMAIL.match(value):
            errors.append(SfError("INVALID_EMAIL_ADDRESS",
                                  f"{_label(fd)}: invalid email address: {value}", [fd.name]))
    return errors
