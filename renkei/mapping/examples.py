"""Run the ``examples:`` of a mapping file like tests (``renkei validate`` does)."""

from __future__ import annotations

import json
from typing import Any

from renkei.mapping.compiler import SET_PREFIX, Mapping
from renkei.mapping.diagnostics import Diagnostic
from renkei.mapping.loader import Document, PathKey, parse_yaml


def _show(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def run_examples(mapping: Mapping, doc: Document | None = None) -> list[Diagnostic]:
    """Project each example and compare with its expected values.

    Inbound examples (the default) project ``system`` with :meth:`Mapping.to_hub` and compare
    the fields listed under ``entity``; outbound ones project ``entity`` with
    :meth:`Mapping.to_system` and compare the fields listed under ``system``.

    Args:
        mapping: The compiled mapping.
        doc: Its parsed document (for positions); re-read from ``mapping.source_path``
            when omitted.

    Returns:
        One diagnostic per differing or failing field, showing expected and got.
    """
    if doc is None:
        if mapping.source_path is None:
            return []
        try:
            doc, _ = parse_yaml(str(mapping.source_path), mapping.source_path.read_bytes())
        except OSError:
            return []
        if doc is None:
            return []
    data = doc.data if isinstance(doc.data, dict) else {}
    examples = data.get("examples")
    if not isinstance(examples, list):
        return []
    out: list[Diagnostic] = []
    for index, example in enumerate(examples):
        if isinstance(example, dict):
            out.extend(_run(mapping, doc, ("examples", index), example))
    return out


def _run(mapping: Mapping, doc: Document, path: PathKey, example: dict[str, Any]
         ) -> list[Diagnostic]:
    label = f"example '{example.get('name', path[-1])}'"
    system = example.get("system") or {}
    entity = example.get("entity") or {}
    if not isinstance(system, dict) or not isinstance(entity, dict):
        return []
    out: list[Diagnostic] = []
    if example.get("direction", "in") == "out":
        for key in entity:
            if key not in mapping.outbound_fields:
                out.append(doc.diagnostic((*path, "entity", key), f"{label}: '{key}' is not "
                                          f"written by this mapping (no outbound field mapping)"))
        projection = mapping.to_system(mapping.outbound_view(entity))
        expected, side = system, "system"
        by_system = {f.system_field: name for name, f in mapping.fields.items() if f.outbound}
        by_system.update({name.removeprefix(SET_PREFIX): name for name in mapping.computed})
    else:
        projection = mapping.to_hub(system)
        expected, side = entity, "entity"
        by_system = {name: name for name in mapping.inbound_fields}
    errors = {e.field: e.message for e in projection.errors}
    for key, want in expected.items():
        where = (*path, side, key)
        field = by_system.get(key)
        if field is None:
            direction = "outbound" if side == "system" else "inbound"
            out.append(doc.diagnostic(where, f"{label}: '{key}' is not produced by this "
                                             f"mapping (no {direction} field mapping)"))
        elif field in errors:
            out.append(doc.diagnostic(where, f"{label}: expected {_show(want)}, got an error: "
                                             f"{errors.pop(field)}"))
        elif key not in projection.values:
            out.append(doc.diagnostic(where, f"{label}: expected {_show(want)}, got nothing "
                                             f"(the field is not in the example's input)"))
        elif not _equal(projection.values[key], want):
            out.append(doc.diagnostic(where, f"{label}: expected {_show(want)}, "
                                             f"got {_show(projection.values[key])}"))
    for field, message in errors.items():
        out.append(doc.diagnostic((*path, "system" if side == "entity" else "entity"),
                                  f"{label}: field '{field}' failed: {message}"))
    return out


def _equal(got: Any, want: Any) -> bool:
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    return bool(got == want)
