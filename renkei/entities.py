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
_FIELDS_KEPT = 2048
"""Field checks compiled for key orders, per entity and mode (~0.3 KB each); records in
further key orders take the loop."""


# A strict subset of RFC 3339 date-times (what jsonschema's "date-time" format accepts): every
# day of every month but February 29 (leap years), no year 0000, no leap second.
_SURE_DATETIME = re.compile(r"(?!0000)\d{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])"
                            r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
                            r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
                            r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)", re.ASCII)


def _conforms(func: Callable[[Any], Any], value: Any) -> bool:
    try:
        return bool(func(value))
    except Exception:  # noqa: BLE001 - the full check raises or reports it
        return False


def _field_block(validator: Draft202012Validator, sub: Mapping[str, Any], v: str, c: str,
                 consts: dict[str, Any]) -> list[str] | None:
    """Source lines that ``return False`` (or raise) unless the value in variable ``v`` surely
    passes the field schema ``sub`` and is storable (see :func:`_unstorable`); None: keywords
    it does not know.

    Only the branches the field needs are generated (a nullable string with a maxLength is
    one line). The schema's values go into ``consts`` under names ending in ``c``; only plain
    numbers are written into the source. A format's answer for null and booleans does not
    depend on the value beyond that, so it is asked here, once.
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
    checker = validator.format_checker
    fmt = (checker.checkers[sub["format"]][0]  # bare: _compile's except refuses what raises
           if checker is not None and isinstance(sub.get("format"), str)
           and sub["format"] in checker.checkers else None)
    consts.update({
        f"ENUM_{c}": frozenset(e for e in enum or () if type(e) is str and not _unstorable(e)),
        f"PATTERN_{c}": re.compile(sub["pattern"]).search if "pattern" in sub else None,
        f"FMT_{c}": fmt, f"ITEM_{c}": item_accept})
    fmt_fails = [] if fmt is None else [f"not FMT_{c}({v})"]
    # Each branch: a Python type and the conditions that refuse a value of it. Of an enum only
    # the unambiguous members count (1 == True in Python, not in JSON): strings and null.
    branches: list[tuple[str, list[str]]] = []
    if "string" in types:
        # Enum members are storable. Other strings: a printable one has neither NUL nor a lone
        # surrogate; the rest are asked (a lone surrogate makes encode raise).
        fails = [f"{v} not in ENUM_{c}" if enum is not None
                 else f"not {v}.isprintable() and ('\\x00' in {v} or not {v}.encode())"]
        if "maxLength" in sub:
            fails.append(f"len({v}) > {sub['maxLength']!r}")
        if sub.get("minLength", 0):
            fails.append(f"len({v}) < {sub['minLength']!r}")
        if "pattern" in sub:
            fails.append(f"PATTERN_{c}({v}) is None")
        if sub.get("format") == "date-time" and fmt is not None:
            fails.append(f"SURE_DT({v}) is None and not FMT_{c}({v})")  # canonical ones: regex
        else:
            fails += fmt_fails
        branches.append(("str", fails))
    bounds = [f"{v} < {sub['minimum']!r}"] if "minimum" in sub else []
    bounds += [f"{v} > {sub['maximum']!r}"] if "maximum" in sub else []
    if enum is None and types & {"integer", "number"}:
        branches.append(("int", bounds + fmt_fails))
        if "number" in types:
            branches.append(("float", [f"not isfinite({v})", *bounds, *fmt_fails]))
    if "boolean" in types and enum is None:
        bool_ok = fmt is None or (_conforms(fmt, True) and _conforms(fmt, False))
        branches.append(("bool", [] if bool_ok else fmt_fails))
    if "array" in types and enum is None:
        each = [f"not all(map(ITEM_{c}, {v}))"] if item_accept is not None else []
        branches.append(("list", [f"unstorable({v})", *each, *fmt_fails]))
    if "object" in types and enum is None and fmt is None:
        branches.append(("dict", [f"unstorable({v})"]))
    null_ok = ("null" in types and (enum is None or None in enum)
               and (fmt is None or _conforms(fmt, None)))

    def refuse(fails: list[str]) -> str:
        return f"if {' or '.join(f'({f})' for f in fails)}: return False" if fails else "pass"
    if len(branches) == 1 and null_ok:  # the common case in one line
        pytype, fails = branches[0]
        return [refuse([f"{v} is not None and (type({v}) is not {pytype}"
                        + "".join(f" or ({f})" for f in fails) + ")"])]
    lines = [f"if {v} is None:", f"    {refuse([] if null_ok else ['True'])}"]
    for pytype, fails in branches:  # Decimal, tuples, subclasses...: the full check decides
        lines += [f"elif type({v}) is {pytype}:", f"    {refuse(fails)}"]
    return [*lines, "else:", "    return False"]


def _compile(params: list[str], lines: list[str], consts: dict[str, Any]) -> Callable[..., bool]:
    """``def accept(*params)`` running ``lines`` with ``consts`` as its globals: True when the
    lines neither refuse nor raise."""
    source = "\n        ".join([f"def accept({', '.join(params)}):\n    try:", *lines])
    source += "\n    except Exception:\n        return False\n    return True"
    defined: dict[str, Any] = {}
    exec(source, consts, defined)  # noqa: S102 - source built from numbers and variable names
    return cast(Callable[..., bool], defined["accept"])


def _constants() -> dict[str, Any]:
    """The names every generated check may use besides its fields' constants."""
    return {"isfinite": math.isfinite, "unstorable": _unstorable,
            "SURE_DT": _SURE_DATETIME.fullmatch}


def _field_accept(validator: Draft202012Validator, sub: Mapping[str, Any],
                  ) -> Callable[[Any], bool] | None:
    """The check of :func:`_field_block` as a function of one value (None: unknown keywords)."""
    consts = _constants()
    lines = _field_block(validator, sub, "v", "v", consts)
    return None if lines is None else _compile(["v"], lines, consts)


def _refuse(*_values: Any) -> bool:
    return False


def _shape_accept(validator: Draft202012Validator, properties: Mapping[str, Any],
                  keys: tuple[Any, ...], required: frozenset[str],
                  alternatives: list[frozenset[str]], consts: dict[str, Any]) -> Callable[..., bool]:
    """The check of records whose keys are ``keys`` in this order: the unknown / required /
    anyOf questions are answered here, once, and each field's checks are straight-line code
    on its value. Field names are never written into the source (they come from
    user-editable schema files); ``consts`` holds each field's constants under its position in
    ``properties``."""
    present = set(keys)
    if (not present <= properties.keys() or not present >= required
            or (alternatives and not any(present >= alt for alt in alternatives))):
        return _refuse
    position = {name: j for j, name in enumerate(properties)}
    names = [f"v{i}" for i in range(len(keys))]
    lines = [f"{', '.join(names)}, = values.values()"] if names else ["pass"]
    for v, name in zip(names, keys):
        block = _field_block(validator, properties[name], v, f"f{position[name]}", {})
        assert block is not None  # _fast_accept compiled every field before
        lines += block
    return _compile(["values"], lines, consts)


@cache
def _fast_accept(entity: str, partial: bool) -> Callable[[Mapping[str, Any]], bool] | None:
    """A quick check that passes the common valid, storable record, so only doubtful ones pay
    for the storability scan and the full JSON Schema walk (which is also what words the
    messages). ``None``: the schema uses keywords this does not know, and every record gets
    the full check.

    A mapping projects every record to the same keys in the same order, so each key order
    seen (up to ``_FIELDS_KEPT`` fields in all) gets a check of its own
    (:func:`_shape_accept`); other records go through a loop over their fields.
    """
    validator = _validator(entity, partial)
    schema: Mapping[str, Any] = _schema_for(entity, partial)
    known = {"type", "properties", "additionalProperties", "required", "anyOf"} | _ANNOTATIONS
    if (not set(schema) <= known or schema.get("type") != "object"
            or schema.get("additionalProperties") is not False):
        return None
    properties: Mapping[str, Any] = schema.get("properties", {})
    consts = _constants()  # every field's, under its position: shared by all the checks
    fields: dict[str, Callable[[Any], bool]] = {}
    for j, (name, sub) in enumerate(properties.items()):
        block = _field_block(validator, sub, "v", f"f{j}", consts)
        if block is None:
            return None
        fields[name] = _compile(["v"], block, consts)
    required = frozenset(schema.get("required", ()))
    alternatives = []
    for alt in schema.get("anyOf", ()):
        if set(alt) != {"required"}:
            return None
        alternatives.append(frozenset(alt["required"]))
    get = fields.get
    shapes: dict[tuple[Any, ...], Callable[..., bool]] = {}

    def loop(instance: Mapping[str, Any]) -> bool:
        for name, value in instance.items():
            check = get(name)
            if check is None or not check(value):
                return False
        keys = instance.keys()
        if not keys >= required:
            return False
        return not alternatives or any(keys >= alt for alt in alternatives)

    kept = 0
    last: tuple[tuple[Any, ...], Callable[..., bool]] = ((object(),), _refuse)

    def accept(instance: Mapping[str, Any]) -> bool:
        nonlocal kept, last
        if type(instance) is not dict:  # a dict's keys and values come in one order
            return loop(instance)
        keys = tuple(instance)
        seen, check = last  # records come in pages of one mapping: mostly the last key order
        if keys != seen:
            known = shapes.get(keys)
            if known is None:
                if kept + len(keys) > _FIELDS_KEPT:
                    return loop(instance)
                kept += len(keys)
                known = shapes[keys] = _shape_accept(validator, properties, keys, required,
                                                     alternatives, consts)
            check = known
            last = (keys, check)
        return check(instance)

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
