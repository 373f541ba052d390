"""Semantic checks of one parsed mapping document, and its compilation.

Runs after the JSON Schema check and is written defensively: any part the schema already
rejected is skipped here, so a file with many problems gets all of them reported at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from renkei import entities
from renkei.mapping.compiler import Mapping, modified_converter
from renkei.mapping.context import BuildContext
from renkei.mapping.diagnostics import Diagnostic, has_errors
from renkei.mapping.expressions import (
    ExpressionError,
    Getter,
    evaluator,
    parse,
    root_fields,
    system_side,
)
from renkei.mapping.fields import FieldPlan, build_field
from renkei.mapping.loader import Document
from renkei.mapping.model import DEFAULT_POLICY, ConflictPolicy, MatchKey
from renkei.mapping.normalize import NORMALIZERS

if TYPE_CHECKING:
    from connectors.sdk.types import StreamSpec

StreamLookup = Callable[[str, str], "StreamSpec | None"]
"""(connection, stream) → the connector's StreamSpec, or ``None`` when unknown."""


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def compile_document(
    doc: Document, *, source_path: Path | None, default_name: str,
    streams: StreamLookup | None = None,
) -> tuple[Mapping | None, list[Diagnostic]]:
    """Check a schema-valid-or-not document semantically and compile it.

    Returns:
        The mapping (``None`` when there are errors) and the diagnostics found here.
    """
    data: dict[str, Any] = doc.data if isinstance(doc.data, dict) else {}
    entity = _text(data, "entity")
    known_entity = entity if entity in entities.entity_names() else None
    connection, stream = _text(data, "connection"), _text(data, "stream")
    spec = None
    if streams is not None and connection and stream:
        try:
            spec = streams(connection, stream)
        except Exception:  # noqa: BLE001 - a broken lookup only skips the stream checks
            spec = None
    ctx = BuildContext(doc, known_entity, spec, connection or "?", stream or "?")
    if entity is not None and known_entity is None:
        ctx.error(("entity",), f"unknown entity '{entity}' (known: "
                               f"{', '.join(entities.entity_names())})")
    default_policy = _default_policy(ctx, data)
    plans = _fields(ctx, data, default_policy)
    match_keys = _match(ctx, data, plans)
    outbound_filter = _filter(ctx, data)
    computed = _computed(ctx, data, plans)
    modified = _system_modified(ctx, data, plans)
    if has_errors(ctx.diagnostics) or entity is None or not connection or not stream:
        return None, ctx.diagnostics
    name = _text(data, "name") or default_name
    description = data.get("description")
    mapping = Mapping(
        name=name, connection=connection, stream=stream, entity=entity,
        description=description if isinstance(description, str) else "",
        source_path=source_path, plans=plans, match_keys=match_keys,
        default_policy=default_policy, system_modified=modified,
        outbound_filter=outbound_filter, computed=computed,
        warnings=tuple(d for d in ctx.diagnostics if not d.is_error),
    )
    return mapping, ctx.diagnostics


def _default_policy(ctx: BuildContext, data: dict[str, Any]) -> ConflictPolicy:
    conflict = data.get("conflict")
    if isinstance(conflict, dict) and "default" in conflict:
        policy = ctx.policy(conflict["default"], ("conflict", "default"))
        if policy is not None:
            return policy
    return ConflictPolicy(DEFAULT_POLICY)


def _fields(ctx: BuildContext, data: dict[str, Any], default: ConflictPolicy
            ) -> dict[str, FieldPlan]:
    raw = data.get("fields")
    plans: dict[str, FieldPlan] = {}
    if not isinstance(raw, dict):
        return plans
    writers: dict[str, str] = {}
    for name, spec in raw.items():
        if not isinstance(spec, (str, dict)):
            continue
        plan = build_field(ctx, name, spec, default)
        if plan is None:
            continue
        plans[name] = plan
        target = plan.mapping.system_field
        if plan.mapping.outbound and target is not None:
            if target in writers:
                path = ("fields", name) if isinstance(spec, str) else ("fields", name, "system")
                ctx.error(path, f"system field '{target}' is already written by field "
                                f"'{writers[target]}'")
            writers.setdefault(target, name)
    return plans


def _match(ctx: BuildContext, data: dict[str, Any], plans: dict[str, FieldPlan]
           ) -> tuple[MatchKey, ...]:
    raw = data.get("match")
    keys: list[MatchKey] = []
    if not isinstance(raw, list):
        return ()
    seen: set[str] = set()
    for index, item in enumerate(raw):
        path = ("match", index)
        if not isinstance(item, dict):
            continue
        name, fields, normalize = item.get("name"), item.get("fields"), item.get("normalize",
                                                                                  "none")
        if not isinstance(name, str) or not isinstance(fields, list) or not all(
                isinstance(f, str) for f in fields) or not fields:
            continue
        if name in seen:
            ctx.error((*path, "name"), f"duplicate match key name '{name}'")
        seen.add(name)
        ok = _match_fields(ctx, path, fields, plans)
        normalizers = _normalizers(ctx, path, fields, normalize)
        if ok and normalizers is not None:
            keys.append(MatchKey(name, tuple(fields), normalizers))
    return tuple(keys)


def _match_fields(ctx: BuildContext, path: tuple[str | int, ...], fields: list[str],
                  plans: dict[str, FieldPlan]) -> bool:
    raw = ctx.doc.data.get("fields") if isinstance(ctx.doc.data, dict) else None
    mapped = raw if isinstance(raw, dict) else {}
    ok = True
    for index, field in enumerate(fields):
        where = (*path, "fields", index)
        if ctx.entity is None:
            ok = False
        elif not ctx.has_field(field):
            ctx.unknown_field(where, field)
            ok = False
        elif field in plans and not plans[field].mapping.inbound:
            ctx.warn(where, f"match field '{field}' is not read from the system by this "
                            f"mapping (direction {plans[field].mapping.direction})")
        elif field not in mapped:
            ctx.warn(where, f"match field '{field}' is not mapped in this file")
    return ok


def _normalizers(ctx: BuildContext, path: tuple[str | int, ...], fields: list[str],
                 normalize: Any) -> tuple[str, ...] | None:
    if isinstance(normalize, str):
        names, paths = [normalize] * len(fields), [(*path, "normalize")] * len(fields)
    elif isinstance(normalize, list) and all(isinstance(n, str) for n in normalize):
        names = list(normalize)
        paths = [(*path, "normalize", i) for i in range(len(names))]
        if len(names) != len(fields):
            ctx.error((*path, "normalize"),
                      f"{len(names)} normaliser(s) for {len(fields)} field(s): give one "
                      f"normaliser, or one per field")
            return None
    else:
        return None
    ok = True
    for name, where in dict(zip(names, paths)).items():
        if name not in NORMALIZERS:
            ctx.error(where, f"unknown normaliser '{name}' (known: "
                             f"{', '.join(sorted(NORMALIZERS))})")
            ok = False
    return tuple(names) if ok else None


def _filter(ctx: BuildContext, data: dict[str, Any]) -> tuple[str, Getter] | None:
    raw = data.get("filter")
    text = raw.get("outbound") if isinstance(raw, dict) else None
    if not isinstance(text, str) or not text:
        return None
    path = ("filter", "outbound")
    try:
        parsed = parse(text)
    except ExpressionError as exc:
        ctx.error(path, str(exc))
        return None
    if ctx.entity is not None:
        for name in dict.fromkeys(root_fields(parsed)):
            if name in ("true", "false"):
                ctx.warn(path, f"bare {name} is a field name in jmespath (always null here): "
                               f"write `{name}` in backticks for the literal")
            elif name != "null" and not ctx.has_field(name):
                # A bare `null` reads a field no entity has, so it is null: allowed.
                ctx.unknown_field(path, name)
    return text, evaluator(parsed)


def _computed(ctx: BuildContext, data: dict[str, Any], plans: dict[str, FieldPlan]
              ) -> tuple[tuple[str, str, Getter], ...]:
    """``set:`` — system fields written from an expression over the hub record."""
    raw = data.get("set")
    if not isinstance(raw, dict):
        return ()
    written = {p.mapping.system_field: name for name, p in plans.items()
               if p.mapping.outbound and p.mapping.system_field}
    out: list[tuple[str, str, Getter]] = []
    for system_field, text in raw.items():
        path = ("set", system_field)
        if not isinstance(text, str) or not text:
            continue  # the JSON Schema reports it
        if system_field in written:
            ctx.error(path, f"{system_field} is also written by fields.{written[system_field]}: "
                            "one value per system field")
            continue
        try:
            parsed = parse(text)
        except ExpressionError as exc:
            ctx.error(path, str(exc))
            continue
        if ctx.entity is not None:
            for name in dict.fromkeys(root_fields(parsed)):
                if name not in ("null", "true", "false") and not ctx.has_field(name):
                    ctx.unknown_field(path, name)
        out.append((system_field, text, evaluator(parsed)))
    return tuple(out)


def _system_modified(ctx: BuildContext, data: dict[str, Any], plans: dict[str, FieldPlan]
                     ) -> tuple[str, Getter | None, Any] | None:
    text = _text(data, "system_modified")
    if text is None:
        return None
    try:
        side = system_side(text)
    except ExpressionError as exc:
        ctx.error(("system_modified",), str(exc))
        return None
    known = ctx.system_fields()
    if known is not None and side.field is not None and side.field not in known:
        ctx.error(("system_modified",), f"system field '{side.field}' is not in stream "
                                        f"'{ctx.stream}' of connection '{ctx.connection}'")
    return side.field or text, side.getter, modified_converter(plans, text)
