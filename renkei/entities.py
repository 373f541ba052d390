"""The hub entities (lead, account, activity, deal, alert) and their JSON Schemas.

The schemas live in ``schemas/entities/*.schema.json``; picklists are ``enum`` s. The mapping
compiler types projected values by them and the engine validates records with
:func:`validate_entity` before they reach the store.

Example:
    >>> field_type("lead", "score"), is_picklist("lead", "lead_source")
    ('integer', True)
    >>> validate_entity("lead", {"email": "taro@example.co.jp", "score": "high"}, partial=True)
    ['score: expected integer, got string']
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "entities"
"""Where the entity schemas are."""


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        name = schema.get("x-renkei-entity") or path.name.removesuffix(".schema.json")
        schemas[str(name)] = schema
    return schemas


def entity_names() -> tuple[str, ...]:
    """Names of the hub entities, sorted (``account``, ``activity``, ``alert``, ...)."""
    return tuple(sorted(_schemas()))


def entity_schema(name: str) -> Mapping[str, Any]:
    """The JSON Schema of entity ``name``.

    Raises:
        KeyError: no such entity.
    """
    return _schemas()[name]


def entity_fields(name: str) -> tuple[str, ...]:
    """Field names of entity ``name``, in schema order.

    Raises:
        KeyError: no such entity.
    """
    return tuple(entity_schema(name).get("properties", {}))


def field_schema(entity: str, field: str) -> Mapping[str, Any]:
    """The JSON Schema of one field.

    Raises:
        KeyError: no such entity or field.
    """
    properties: Mapping[str, Mapping[str, Any]] = entity_schema(entity).get("properties", {})
    return properties[field]


def field_type(entity: str, field: str) -> str | None:
    """The field's JSON type without ``null`` (``string``, ``integer``, ``number``,
    ``boolean``, ``array``, ``object``); ``None`` when the schema does not say one.

    Raises:
        KeyError: no such entity or field.
    """
    declared = field_schema(entity, field).get("type")
    types = [declared] if isinstance(declared, str) else list(declared or [])
    types = [t for t in types if t != "null"]
    return str(types[0]) if len(types) == 1 else None


def field_format(entity: str, field: str) -> str | None:
    """The field's JSON Schema ``format`` (``date-time``, ``date``, ``email``) or None.

    Raises:
        KeyError: no such entity or field.
    """
    value = field_schema(entity, field).get("format")
    return str(value) if value is not None else None


def is_picklist(entity: str, field: str) -> bool:
    """True when the field's values are an ``enum``.

    Raises:
        KeyError: no such entity or field.
    """
    return "enum" in field_schema(entity, field)


def picklist_values(entity: str, field: str) -> tuple[Any, ...]:
    """The allowed values of a picklist field, without ``null`` (empty if not a picklist).

    Raises:
        KeyError: no such entity or field.
    """
    return tuple(v for v in field_schema(entity, field).get("enum", ()) if v is not None)


@cache
def _validator(entity: str, partial: bool) -> Draft202012Validator:
    schema = dict(entity_schema(entity))
    if partial:
        schema.pop("required", None)
        schema.pop("anyOf", None)
    return Draft202012Validator(schema, format_checker=FormatChecker())


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string",
               list: "array", dict: "object", type(None): "null"}


def _message(entity: str, error: ValidationError) -> str:
    """A message that names the field and the rule but never quotes the value."""
    field = ".".join(str(p) for p in error.absolute_path)
    prefix = f"{field}: " if field else ""
    kind = str(error.validator)
    rule: Any = error.validator_value
    instance: Any = error.instance
    if kind == "type":
        got = _JSON_TYPES.get(type(instance), type(instance).__name__)
        wanted = rule if isinstance(rule, str) else " or ".join(r for r in rule if r != "null")
        return f"{prefix}expected {wanted}, got {got}"
    if kind == "enum":
        allowed = [v for v in rule if v is not None]
        shown = ", ".join(map(str, allowed[:12])) + (", ..." if len(allowed) > 12 else "")
        return f"{prefix}not one of the allowed values ({shown})"
    if kind in ("maxLength", "minLength"):
        return f"{prefix}{'longer' if kind == 'maxLength' else 'shorter'} than {rule} characters"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{prefix}out of range ({kind} {rule})"
    if kind == "pattern":
        return f"{prefix}does not match the pattern {rule}"
    if kind == "format":
        return f"{prefix}not a valid {rule}"
    if kind == "required":
        missing = [k for k in rule if k not in instance]
        return f"missing required field {', '.join(missing)}"
    if kind == "additionalProperties":
        known = entity_schema(entity).get("properties", {})
        extra = sorted(k for k in instance if k not in known)
        return f"unknown field {', '.join(extra)} for entity {entity}"
    if kind == "anyOf" and not error.absolute_path:
        custom = entity_schema(entity).get("x-renkei-required-message")
        if custom:
            return str(custom)
    return f"{prefix}violates {kind}"


def validate_entity(entity: str, values: Mapping[str, Any], *, partial: bool) -> list[str]:
    """Check entity values against the entity's schema.

    Args:
        entity: Entity name.
        values: Field name → canonical hub value.
        partial: True for an update that carries only some fields: ``required`` and the
            lead's "email, or last_name and company" rule are not checked.

    Returns:
        One message per problem (empty when valid). Messages never quote values.

    Raises:
        KeyError: no such entity.
    """
    validator = _validator(entity, partial)
    errors = sorted(validator.iter_errors(dict(values)), key=lambda e: list(map(str, e.path)))
    return list(dict.fromkeys(_message(entity, e) for e in errors))
