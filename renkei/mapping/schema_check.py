"""Check a mapping document against schemas/mapping.schema.json, with positions.

jsonschema's own messages are written for JSON; these name YAML notions (a mapping, a list),
point at the offending key or value, and for ``anyOf`` pick the branch that the value's type
selects instead of reporting "is not valid under any of the given schemas".
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from renkei.mapping.diagnostics import Diagnostic
from renkei.mapping.loader import Document, PathKey, dotted

SCHEMA_PATH = Path(__file__).resolve().parent.parent.parent / "schemas" / "mapping.schema.json"

_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a string",
               "number": "a number", "integer": "an integer", "boolean": "true or false",
               "null": "null"}
_REQUIRED_HINTS = {
    "connection": " (the connection name from the project configuration)",
    "stream": " (the connector's stream name)",
    "entity": " (lead, account, activity, deal or alert)",
    "match": " (at least one match key is needed to identify records)",
    "fields": " (the field mappings)",
    "system": " (the system field name or a jmespath expression)",
}


@cache
def mapping_schema() -> dict[str, Any]:
    """The mapping file JSON Schema."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(mapping_schema())


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a near miss, else an empty string."""
    options = list(choices)
    folded = [c for c in options if c.casefold() == word.casefold()]
    close = folded or difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def yaml_type(value: Any) -> str:
    """How a value's type is called in messages (``a mapping``, ``a list``, ``an integer``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _wanted(types: Any) -> list[str]:
    listed = [types] if isinstance(types, str) else list(types)
    return [_TYPE_WORDS.get(str(t), str(t)) for t in listed]


def _or(words: Sequence[str]) -> str:
    unique = list(dict.fromkeys(words))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " or " + unique[-1]


def schema_diagnostics(doc: Document) -> list[Diagnostic]:
    """Every schema violation in ``doc``, each at the offending node."""
    out: list[Diagnostic] = []
    for error in _validator().iter_errors(doc.data):
        out.extend(convert_error(doc, error))
    return out


def convert_error(doc: Document, error: ValidationError) -> list[Diagnostic]:
    """One JSON Schema error as diagnostics at the offending key (mapping and rule files)."""
    path: PathKey = tuple(error.absolute_path)
    kind = str(error.validator)
    rule: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    if kind == "required":
        return _missing(doc, path, rule, instance)
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list(schema.get("properties", {}))
        return [
            doc.diagnostic((*path, key), f"unknown key '{key}'{suggest(key, allowed)}",
                           at_key=True)
            for key in instance if key not in allowed
        ]
    if kind in ("anyOf", "oneOf") and error.context:
        return _branch(doc, error, path)
    return [doc.diagnostic(path, _message(path, kind, rule, instance, error))]


def _missing(doc: Document, path: PathKey, rule: Any, instance: Any) -> list[Diagnostic]:
    out = []
    for key in rule:
        if isinstance(instance, dict) and key not in instance:
            hint = _REQUIRED_HINTS.get(str(key), "") if len(path) < 3 else ""
            line, col = doc.position(path, key=True)
            out.append(Diagnostic(doc.path, line, col, f"missing required key '{key}'{hint}",
                                  dotted((*path, key))))
    return out


def _branch(doc: Document, error: ValidationError, path: PathKey) -> list[Diagnostic]:
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    plausible = {
        index: errors for index, errors in branches.items()
        if not any(e.validator == "type" and not e.relative_path for e in errors)
    }
    if len(plausible) == 1:
        (errors,) = plausible.values()
        return [d for sub in errors for d in convert_error(doc, sub)]
    if not plausible:
        wanted = [w for errors in branches.values() for e in errors
                  if e.validator == "type" and not e.relative_path
                  for w in _wanted(e.validator_value)]
        return [doc.diagnostic(path, f"expected {_or(wanted)}, got {yaml_type(error.instance)}")]
    return [doc.diagnostic(path, f"invalid value: {error.message}")]


def _message(path: PathKey, kind: str, rule: Any, instance: Any, error: ValidationError) -> str:
    if kind == "type":
        return f"expected {_or(_wanted(rule))}, got {yaml_type(instance)}"
    if kind == "enum":
        choices = [str(c) for c in rule]
        near = suggest(instance, choices) if isinstance(instance, str) else ""
        return f"'{instance}' is not one of: {', '.join(choices)}{near}"
    if kind == "minItems" and path == ("match",):
        return "no match keys: at least one is needed (the first is the primary identity)"
    if kind == "minItems":
        return "must not be empty" if rule == 1 else f"needs at least {rule} items"
    if kind == "minProperties" and path == ("fields",):
        return "no fields mapped: map at least one entity field"
    if kind in ("minProperties", "maxProperties") and len(path) >= 2 and "transform" in path:
        return "a transform with arguments is a one-key mapping like {phone: {region: JP}}"
    if kind == "minProperties":
        return "must not be empty"
    if kind == "minLength":
        return "must not be empty"
    if kind == "pattern" and path == ("name",):
        return f"'{instance}' is not a valid name: use letters, digits, '_', '.' and '-'"
    return str(error.message)
