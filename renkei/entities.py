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
import math
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, cast

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


def _schema_for(entity: str, partial: bool) -> dict[str, Any]:
    schema = dict(entity_schema(entity))
    if partial:
        schema.pop("required", None)
        schema.pop("anyOf", None)
    return schema


@cache
def _validator(entity: str, partial: bool) -> Draft202012Validator:
    return Draft202012Validator(_schema_for(entity, partial), format_checker=FormatChecker())


# Keywords the fast path below understands; a schema with any other keeps the full check.
_ANNOTATIONS = frozenset({"description", "title", "examples", "default", "$comment",
                          "x-renkei-entity", "x-renkei-required-message", "$schema", "$id"})
_FIELD_KEYWORDS = frozenset({"type", "enum", "maxLength", "minLength", "pattern", "minimum",
                             "maximum", "format", "items"}) | _ANNOTATIONS
_KINDS = {"null", "boolean", "integer", "number", "string", "array", "object"}


# A strict subset of RFC 3339 date-times (what jsonschema's "date-time" format accepts).
_SURE_DATETIME = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3])"
                            r":[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)",
                            re.ASCII)


def _utf8_ok(v: str) -> bool:
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _format_test(checker: FormatChecker | None, fmt: str) -> Callable[[Any], bool] | None:
    """``checker.conforms(v, fmt)`` without its per-call lookups; any doubt is False (the
    full check then decides, and words the message)."""
    if checker is None or fmt not in checker.checkers:
        return None
    func, _raises = checker.checkers[fmt]

    def test(v: Any) -> bool:
        try:
            return bool(func(v))
        except Exception:  # noqa: BLE001 - the full check raises or reports it
            return False
    if fmt != "date-time":
        return test

    def datetime_test(v: Any) -> bool:
        # The hub's canonical timestamps in one regex (days 1-28 exist in every month, year
        # 0000 does not); anything else asks the checker (lower-case t/z, days 29-31, ...).
        if type(v) is str and _SURE_DATETIME.fullmatch(v) is not None and v[:4] != "0000":
            return True
        return test(v)
    return datetime_test


def _field_accept(validator: Draft202012Validator, sub: Mapping[str, Any],
                  ) -> Callable[[Any], bool] | None:
    """A check compiled for one field schema: True only where the full check surely finds no
    error and the value is storable (see :func:`_unstorable`); None: keywords it does not know.

    The check is generated as Python source with only the branches this field needs (a
    nullable string with a maxLength is three comparisons), the schema's values passed in as
    constants, never as text.
    """
    keys = {k for k in sub if not k.startswith("x-")}
    if not keys <= _FIELD_KEYWORDS:
        return None
    items = sub.get("items")
    item_accept = _field_accept(validator, items) if isinstance(items, Mapping) else None
    if "items" in sub and item_accept is None:
        return None
    declared = sub.get("type")
    types = {declared} if isinstance(declared, str) else set(declared or _KINDS)
    if not types <= _KINDS:
        return None
    numbers = [sub[k] for k in ("maxLength", "minLength", "minimum", "maximum") if k in sub]
    if any(type(n) not in (int, float) or not math.isfinite(n) for n in numbers):
        return None  # only plain numbers are written into the generated source
    enum = sub.get("enum")
    fmt = _format_test(validator.format_checker, sub["format"]) if "format" in sub else None
    consts: dict[str, Any] = {
        "ENUM": frozenset(e for e in enum or () if type(e) is str and not _unstorable(e)),
        "PATTERN": re.compile(sub["pattern"]) if "pattern" in sub else None,
        "FMT": fmt, "ITEM": item_accept, "isfinite": math.isfinite, "utf8_ok": _utf8_ok,
        "unstorable": _unstorable}
    # enum: only the unambiguous members (1 == True in Python, not in JSON): str and null
    null_ok = "null" in types and (enum is None or None in enum)
    null_ret = "False" if not null_ok else "True" if fmt is None else "FMT(v)"
    lines = ["def accept(v):", "    if v is None:", f"        return {null_ret}", "    t = type(v)"]
    if "string" in types:
        lines += ["    if t is str:"]
        if enum is not None:  # its members are storable, so the scan below can be skipped
            lines += ["        if v not in ENUM:", "            return False"]
        else:
            lines += ["        if '\\x00' in v or not (v.isascii() or utf8_ok(v)):",
                      "            return False"]
        if "maxLength" in sub:
            lines += [f"        if len(v) > {int(sub['maxLength'])}:", "            return False"]
        if sub.get("minLength", 0):
            lines += [f"        if len(v) < {int(sub['minLength'])}:", "            return False"]
        if "pattern" in sub:
            lines += ["        if PATTERN.search(v) is None:", "            return False"]
        lines += ["        return True" if fmt is None else "        return FMT(v)"]
    bounds = []
    if "minimum" in sub:
        bounds.append(f"v < {sub['minimum']!r}")
    if "maximum" in sub:
        bounds.append(f"v > {sub['maximum']!r}")
    numeric = ("integer" in types or "number" in types) and enum is None
    for kind, pytype, extra in (("integer", "int", ""), ("number", "float", " or not isfinite(v)")):
        if numeric and (kind in types or (kind == "integer" and "number" in types)):
            cond = " or ".join(bounds) + extra if bounds else extra.removeprefix(" or ")
            lines += [f"    if t is {pytype}:"]
            if cond:
                lines += [f"        if {cond}:", "            return False"]
            lines += ["        return True" if fmt is None else "        return FMT(v)"]
    if "boolean" in types and enum is None:
        lines += ["    if t is bool:", "        return True" if fmt is None else
                  "        return FMT(v)"]
    if "array" in types and enum is None:
        check = " and all(ITEM(x) for x in v)" if item_accept is not None else ""
        lines += ["    if t is list:", f"        return not unstorable(v){check}"
                  + ("" if fmt is None else " and FMT(v)")]
    if "object" in types and enum is None and fmt is None:
        lines += ["    if t is dict:", "        return not unstorable(v)"]
    lines += ["    return False"]  # Decimal, tuples, subclasses...: the full check decides
    namespace = dict(consts)
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from numbers only
    return cast(Callable[[Any], bool], namespace["accept"])


@cache
def _fast_accept(entity: str, partial: bool) -> Callable[[Mapping[str, Any]], bool] | None:
    """A quick check that passes the common valid, storable record, so only doubtful ones pay
    for the storability scan and the full JSON Schema walk (which is also what words the
    messages). ``None``: the schema uses keywords this does not know, and every record gets
    the full check."""
    validator = _validator(entity, partial)
    schema: Mapping[str, Any] = _schema_for(entity, partial)
    known = {"type", "properties", "additionalProperties", "required", "anyOf"} | _ANNOTATIONS
    if (not set(schema) <= known or schema.get("type") != "object"
            or schema.get("additionalProperties") is not False):
        return None
    fields: dict[str, Callable[[Any], bool]] = {}
    for name, sub in schema.get("properties", {}).items():
        check = _field_accept(validator, sub)
        if check is None:
            return None
        fields[name] = check
    required = frozenset(schema.get("required", ()))
    alternatives = []
    for alt in schema.get("anyOf", ()):
        if set(alt) != {"required"}:
            return None
        alternatives.append(frozenset(alt["required"]))
    get = fields.get

    def accept(instance: Mapping[str, Any]) -> bool:
        for name, value in instance.items():
            check = get(name)
            if check is None or not check(value):
                return False
        keys = instance.keys()
        if not keys >= required:
            return False
        return not alternatives or any(keys >= alt for alt in alternatives)

    return accept


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


def _unstorable(value: Any) -> bool:
    """NUL (PostgreSQL text refuses it), a lone surrogate (not encodable as UTF-8), or a
    float JSON cannot hold."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, Mapping):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


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
    accept = _fast_accept(entity, partial)
    if accept is not None and accept(values):
        return []  # valid and storable (the fast check refuses anything unstorable)
    broken = [f"{k}: contains NaN/infinity, a NUL character or broken Unicode (a lone "
              "surrogate), which no store can keep" for k, v in values.items() if _unstorable(v)]
    if broken:
        return broken
    instance = dict(values)
    validator = _validator(entity, partial)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path)))
    return list(dict.fromkeys(_message(entity, e) for e in errors))
