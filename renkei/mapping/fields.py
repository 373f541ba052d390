"""Check and compile one field mapping: system side, direction, transforms, value maps,
defaults and policy, into the converter chains the compiled mapping runs per record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from renkei import entities
from renkei.mapping.canonical import FieldValueError, canonicalizer, describe, to_text
from renkei.mapping.context import BuildContext
from renkei.mapping.expressions import ExpressionError, Getter, system_side
from renkei.mapping.loader import PathKey, value_key
from renkei.mapping.model import DIRECTIONS, ConflictPolicy, FieldMapping, Lookup
from renkei.mapping.schema_check import suggest
from renkei.mapping.transforms import TRANSFORMS, Transform, TransformArgsError, build_transform

Converter = Callable[[Any], Any]
_MISSING = object()


@dataclass(frozen=True)
class FieldPlan:
    """A compiled field mapping.

    Attributes:
        mapping: The public description.
        getter: Reads the raw value from a system record; ``None`` for a plain name.
        inbound: Converters system → hub (transforms, value map, canonical form).
        outbound: Converters hub → system (value map, transforms in reverse).
        default_in: Hub value when the system value is blank.
        default_out: System value when the hub value is blank.
    """

    mapping: FieldMapping
    getter: Getter | None
    inbound: tuple[Converter, ...]
    outbound: tuple[Converter, ...]
    default_in: Any
    default_out: Any


def _scalar(value: Any) -> bool:
    return value is _MISSING or value is None or isinstance(value, (str, int, float, bool))


def _in_map(table: dict[str, Any], fallback: Any) -> Converter:
    def lookup(value: Any) -> Any:
        hub = table.get(value if value.__class__ is str else value_key(value), _MISSING)
        if hub is _MISSING:
            if fallback is _MISSING:
                raise FieldValueError(f"value not in the value map ({describe(value)})")
            return fallback
        return hub
    return lookup


def _out_map(table: dict[str, Any]) -> Converter:
    def lookup(value: Any) -> Any:
        system = table.get(value_key(value), _MISSING)
        if system is _MISSING:
            raise FieldValueError(f"no system value for this hub value ({describe(value)})")
        return system
    return lookup


class _FieldBuilder:
    def __init__(self, ctx: BuildContext, name: str, raw: Any, default: ConflictPolicy) -> None:
        self.ctx, self.name, self.default_policy = ctx, name, default
        self.path: PathKey = ("fields", name)
        self.spec: dict[str, Any] = raw if isinstance(raw, dict) else {"system": raw}
        self.shorthand = not isinstance(raw, dict)
        self.entity = ctx.entity if ctx.has_field(name) else None
        self.enum = (set(entities.picklist_values(self.entity, name))
                     if self.entity and entities.is_picklist(self.entity, name) else None)

    def at(self, key: str) -> PathKey:
        return self.path if self.shorthand else (*self.path, key)

    def build(self) -> FieldPlan | None:
        ctx = self.ctx
        if ctx.entity is not None and self.entity is None:
            ctx.unknown_field(self.path, self.name, at_key=True)
        text = self.spec.get("system")
        if not isinstance(text, str) or not text:
            return None
        try:
            side = system_side(text)
        except ExpressionError as exc:
            ctx.error(self.at("system"), str(exc))
            return None
        direction = self._direction(side.field is not None)
        transforms = self._transforms()
        map_in, map_out = self._value_maps()
        raw_policy = self.spec.get("conflict")
        policy = ctx.policy(raw_policy, self.at("conflict")) if raw_policy is not None else None
        if direction is None or transforms is None or map_in is _MISSING:
            return None
        self._stream_checks(side.field, direction)
        canonical = (canonicalizer(entities.field_type(self.entity, self.name),
                                   entities.field_format(self.entity, self.name))
                     if self.entity else None)
        inbound = [t.to_hub for t in transforms]
        if callable(map_in) and canonical is to_text:
            canonical = None  # the map's targets are enum strings (checked above) or None
        inbound += [c for c in (map_in, canonical) if callable(c)]
        outbound = [c for c in (map_out,) if callable(c)]
        outbound += [t.to_system for t in reversed(transforms)]
        defaults = self._defaults(tuple(outbound), direction in ("out", "both"))
        if defaults is None:
            return None
        lookup = self._lookup(direction)
        if lookup is _MISSING:
            return None
        mapping = FieldMapping(self.name, text, side.field, direction,
                               policy or self.default_policy, lookup)
        return FieldPlan(mapping, side.getter, tuple(inbound), tuple(outbound), *defaults)

    def _lookup(self, direction: str) -> Any:
        """The field's :class:`Lookup`, ``None`` without one, ``_MISSING`` on an error.

        The named mapping is checked with the other files (``cross_file_diagnostics``)."""
        raw = self.spec.get("lookup")
        if raw is None:
            return None
        path = self.at("lookup")
        if not isinstance(raw, dict):
            return _MISSING  # the schema check reports the shape
        if direction not in ("out", "both"):
            self.ctx.error(path, f"lookup needs direction out or both (it resolves the hub "
                                 f"value for writing), not {direction}")
            return _MISSING
        entity, by, mapping = raw.get("entity"), raw.get("by"), raw.get("mapping")
        if not all(isinstance(v, str) and v for v in (entity, by, mapping)):
            return _MISSING
        known = entities.entity_names()
        if entity not in known:
            self.ctx.error((*path, "entity"), f"unknown entity '{entity}'"
                                              f"{suggest(str(entity), known)}")
            return _MISSING
        fields = entities.entity_fields(str(entity))
        if by not in fields:
            self.ctx.error((*path, "by"), f"unknown field '{by}' of entity {entity}"
                                          f"{suggest(str(by), fields)}")
            return _MISSING
        return Lookup(str(entity), str(by), str(mapping))

    def _direction(self, plain: bool) -> str | None:
        raw = self.spec.get("direction")
        if raw is None:
            return "both" if plain else "in"
        if raw not in DIRECTIONS:
            return None
        if not plain and raw in ("out", "both"):
            self.ctx.error(self.at("direction"),
                           f"'{self.spec['system']}' is a jmespath expression, which can only be "
                           f"read: direction must be in (or none), not {raw}")
            return None
        return str(raw)

    def _transforms(self) -> list[Transform] | None:
        raw = self.spec.get("transform", [])
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list):
            return None
        built: list[Transform] = []
        ok = True
        for index, item in enumerate(items):
            path = (*self.at("transform"), index) if isinstance(raw, list) else self.at(
                "transform")
            args: Any
            if isinstance(item, str):
                name, args = item, {}
            elif isinstance(item, dict) and len(item) == 1:
                ((name, args),) = item.items()
                args = {} if args is None else args
            else:
                ok = False
                continue
            if not isinstance(args, dict):
                ok = False
                continue
            if name not in TRANSFORMS:
                near = suggest(name, TRANSFORMS) or f" (known: {', '.join(sorted(TRANSFORMS))})"
                self.ctx.error(path, f"unknown transform '{name}'{near}")
                ok = False
                continue
            try:
                built.append(build_transform(name, args))
            except TransformArgsError as exc:
                self.ctx.error(path, str(exc))
                ok = False
        return built if ok else None

    def _value_maps(self) -> tuple[Any, Any]:
        """(inbound converter | None | _MISSING on error, outbound converter | None)."""
        values, fallback_raw = self.spec.get("values"), self.spec.get("values_default", _MISSING)
        values_out = self.spec.get("values_out")
        if not isinstance(values, (dict, type(None))) or not isinstance(
                values_out, (dict, type(None))) or not _scalar(fallback_raw):
            return _MISSING, None
        if values is None and values_out is None:
            if fallback_raw is not _MISSING:
                self.ctx.warn(self.at("values_default"), "values_default has no effect "
                                                         "without a values map")
            return None, None
        if self.entity is None:
            return _MISSING, None
        if self.enum is None:
            key = "values" if values is not None else "values_out"
            self.ctx.error(self.at(key), f"value map on a non-picklist field '{self.name}'")
            return _MISSING, None
        ok = True
        shown = ", ".join(sorted(map(str, self.enum)))
        table: dict[str, Any] = {}
        inverse: dict[str, Any] = {}
        typed = self.ctx.doc.typed_keys.get(self.at("values"), {})
        for system_value, hub in (values or {}).items():
            if not _scalar(hub):
                ok = False
            elif hub is not None and hub not in self.enum:
                self.ctx.error((*self.at("values"), system_value),
                               f"value map target '{hub}' is not a {self.name} value"
                               f"{self._near(hub, shown)}")
                ok = False
            table[system_value] = hub
            if hub is not None:
                inverse.setdefault(value_key(hub), typed.get(system_value, system_value))
        if fallback_raw is not _MISSING and fallback_raw is not None \
                and fallback_raw not in self.enum:
            self.ctx.error(self.at("values_default"),
                           f"values_default '{fallback_raw}' is not a {self.name} value"
                           f"{self._near(fallback_raw, shown)}")
            ok = False
        if values_out is not None:
            inverse = {}
            for hub_value, system_value in values_out.items():
                if hub_value not in self.enum:
                    self.ctx.error((*self.at("values_out"), hub_value),
                                   f"values_out key '{hub_value}' is not a {self.name} value"
                                   f"{self._near(hub_value, shown)}")
                    ok = False
                inverse[hub_value] = system_value
        if not ok:
            return _MISSING, None
        map_in = _in_map(table, fallback_raw) if values is not None else None
        return map_in, _out_map(inverse)

    def _near(self, value: Any, shown: str) -> str:
        near = suggest(str(value), map(str, self.enum or ()))
        return near or f" ({shown})"

    def _defaults(self, outbound: tuple[Converter, ...], writes: bool
                  ) -> tuple[Any, Any] | None:
        if "default" not in self.spec:
            return None, None
        raw = self.spec["default"]
        path = self.at("default")
        if isinstance(raw, dict):
            hub, system = raw.get("in"), raw.get("out")
            hub_path = (*path, "in")
        else:
            hub, system, hub_path = raw, _MISSING, path
        if hub is not None and self.entity is not None:
            problems = entities.validate_entity(self.entity, {self.name: hub}, partial=True)
            if problems:
                self.ctx.error(hub_path, f"default is not a valid {self.name}: "
                                         f"{problems[0].split(': ', 1)[-1]}")
                return None
        if system is _MISSING and not writes:
            system = None
        elif system is _MISSING:
            system = hub
            try:
                for convert in outbound:
                    system = convert(system) if system is not None else None
            except (FieldValueError, ValueError, TypeError) as exc:
                self.ctx.error(path, f"default cannot be written to the system: {exc}")
                return None
        return hub, system

    def _stream_checks(self, system_field: str | None, direction: str) -> None:
        known = self.ctx.system_fields()
        if known is None or system_field is None or direction == "none":
            return
        where = f"stream '{self.ctx.stream}' of connection '{self.ctx.connection}'"
        path = self.at("system")
        writes = direction in ("out", "both")
        if system_field not in known:
            message = f"system field '{system_field}' is not in {where}{suggest(system_field, known)}"
            if writes:
                self.ctx.error(path, message)
            else:
                self.ctx.warn(path, message)
            return
        writable = self.ctx.spec.writable_fields if self.ctx.spec else None
        if writes and writable is not None and system_field not in writable:
            self.ctx.error(path, f"system field '{system_field}' is not writable in {where}: "
                                 f"use direction in")


def build_field(ctx: BuildContext, name: str, raw: Any, default: ConflictPolicy
                ) -> FieldPlan | None:
    """Check one ``fields:`` entry and compile it; ``None`` when it has errors."""
    return _FieldBuilder(ctx, name, raw, default).build()
