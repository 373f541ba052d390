"""The compiled mapping: projects records system → hub and hub → system.

Everything is compiled when the file is loaded (jmespath expressions, transform chains,
value maps, canonical converters); per record, a plain field costs one ``dict.get`` and
one canonical conversion. The two hottest paths, :meth:`Mapping.to_hub` and
:meth:`Mapping.key_values`, run Python generated for the mapping (:mod:`renkei.mapping.codegen`);
the loops here are their reference. A :class:`Mapping` is immutable and safe to share
between threads.
"""

from __future__ import annotations

from collections.abc import Mapping as AbcMapping
from pathlib import Path
from typing import Any

from renkei.mapping.canonical import canonical_datetime, to_text
from renkei.mapping.codegen import compile_key_values, compile_to_hub, failure
from renkei.mapping.diagnostics import Diagnostic
from renkei.mapping.expressions import Getter, truthy
from renkei.mapping.fields import Converter, FieldPlan
from renkei.mapping.model import (
    KEY_SEPARATOR,
    ConflictPolicy,
    FieldError,
    FieldMapping,
    MatchKey,
    Projection,
)
from renkei.mapping.normalize import normalize_key

_InStep = tuple[str, str, Getter | None, Converter | None, Any]
_OutStep = tuple[str, str, tuple[Converter, ...], Any]

SET_PREFIX = "set:"
"""Computed outbound values (the mapping's ``set:``) are diffed and kept in baselines under
``set:<system field>``, a name no entity field can have."""


class _Unset:
    """A ``set:`` expression that failed on a record; reported by :meth:`Mapping.to_system`."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def _chain(steps: tuple[Converter, ...]) -> Converter | None:
    """One converter for a field's steps; ``None`` for a plain text field (the hot path).

    A text field's final ``to_text`` is inlined: most transforms already return text.
    """
    if not steps or steps == (to_text,):
        return None
    if steps[-1] is to_text:
        body = steps[:-1]
        first = body[0]

        def text(value: Any) -> Any:
            value = first(value)
            for step in body[1:]:
                value = step(value)
            if value.__class__ is str:
                return value if value and not value.isspace() else None
            return None if value is None else to_text(value)
        return text
    if len(steps) == 1:
        return steps[0]

    def run(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value
    return run


class Mapping:
    """One stream of one connection bound to one hub entity, compiled.

    Attributes:
        name: Unique mapping name (the file stem unless the file names one).
        connection: Connection name.
        stream: The connector's stream name.
        entity: Hub entity name.
        description: Free text from the file.
        source_path: The file it was loaded from, if any.
        system_modified: System field (or expression) of the record's own modification time.
        fields: Field mappings by entity field (every direction, ``none`` included).
        inbound_fields: Entity fields read from the system (direction in/both).
        outbound_fields: Entity fields written to the system (direction out/both).
        computed: The mapping's ``set:`` values, by their ``set:<system field>`` name.
        match_keys: Identity keys in order; the first is the primary.
        default_policy: The mapping's default conflict policy.
        warnings: Warning diagnostics found when it was loaded.
    """

    def __init__(
        self,
        *,
        name: str,
        connection: str,
        stream: str,
        entity: str,
        description: str,
        source_path: Path | None,
        plans: AbcMapping[str, FieldPlan],
        match_keys: tuple[MatchKey, ...],
        default_policy: ConflictPolicy,
        system_modified: tuple[str, Getter | None, Converter] | None = None,
        outbound_filter: tuple[str, Getter] | None = None,
        computed: tuple[tuple[str, str, Getter], ...] = (),
        warnings: tuple[Diagnostic, ...] = (),
    ) -> None:
        self.name = name
        self.connection = connection
        self.stream = stream
        self.entity = entity
        self.description = description
        self.source_path = source_path
        self.default_policy = default_policy
        self.match_keys = match_keys
        self.warnings = warnings
        self.fields: dict[str, FieldMapping] = {k: p.mapping for k, p in plans.items()}
        self.inbound_fields = tuple(k for k, p in plans.items() if p.mapping.inbound)
        self.outbound_fields = tuple(k for k, p in plans.items() if p.mapping.outbound)
        self.system_modified = system_modified[0] if system_modified else None
        self.outbound_filter = outbound_filter[0] if outbound_filter else None
        self._modified = system_modified
        self._filter = outbound_filter[1] if outbound_filter else None
        self._in: tuple[_InStep, ...] = tuple(
            (k, p.mapping.system_field or "", p.getter, _chain(p.inbound), p.default_in)
            for k, p in plans.items() if p.mapping.inbound
        )
        self._out: tuple[_OutStep, ...] = tuple(
            (k, p.mapping.system_field or "", p.outbound, p.default_out)
            for k, p in plans.items() if p.mapping.outbound
        )
        self._keys = tuple((k.name, tuple(zip(k.fields, k.normalizers))) for k in match_keys)
        # The per-record hot paths, generated for this mapping; the loops below are the
        # reference they must agree with (tests/mapping/test_mapping_codegen.py).
        self._to_hub = compile_to_hub(tuple(
            (k, p.mapping.system_field or "", p.getter, p.inbound, p.default_in)
            for k, p in plans.items() if p.mapping.inbound))
        self._key_values = compile_key_values(self._keys)
        self.computed: dict[str, str] = {SET_PREFIX + sf: text for sf, text, _ in computed}
        """``set:<system field>`` → its expression, as written."""
        self._computed = tuple((SET_PREFIX + sf, sf, get) for sf, _, get in computed)
        self.outbound_diff_fields = self.outbound_fields + tuple(self.computed)
        """What outbound compares with a link's baseline: the outbound entity fields, then
        the computed values (``set:<system field>``)."""

    def __repr__(self) -> str:
        return (f"<Mapping {self.name}: {self.connection}.{self.stream} ↔ {self.entity}, "
                f"{len(self.fields)} fields>")

    def to_hub(self, record: AbcMapping[str, Any]) -> Projection:
        """Project a system record onto the hub entity (inbound fields only).

        A missing or blank system value gives the field's inbound default, else ``None``.
        Values are canonical for the entity field's type (see
        :mod:`renkei.mapping.canonical`). A value that cannot be converted is left out of
        ``values`` and reported in ``errors``.
        """
        return self._to_hub(record)

    def _to_hub_interpreted(self, record: AbcMapping[str, Any]) -> Projection:
        """:meth:`to_hub` as a loop over the fields: the reference of the generated code."""
        values: dict[str, Any] = {}
        errors: list[FieldError] = []
        get = record.get
        for field, name, getter, convert, default in self._in:
            value = get(name) if getter is None else getter(record)
            if value.__class__ is str:
                if not value or value.isspace():
                    values[field] = default
                    continue
                if convert is None:  # a text field without transforms: already canonical
                    values[field] = value
                    continue
            elif value is None or (value.__class__ is list and not value):
                values[field] = default
                continue
            try:
                values[field] = (convert or to_text)(value)
            except Exception as exc:  # noqa: BLE001 - one bad value must not stop the batch
                errors.append(failure(field, exc))
        return Projection(values, errors)

    def outbound_view(self, entity: AbcMapping[str, Any]) -> AbcMapping[str, Any]:
        """The hub record as outbound compares it: with each ``set:`` value computed from it.

        Without ``set:`` the record itself (no copy).
        """
        if not self._computed:
            return entity
        view = dict(entity)
        for name, _, get in self._computed:
            try:
                view[name] = get(entity)
            except Exception as exc:  # noqa: BLE001 - reported per record by to_system
                view[name] = _Unset(f"{type(exc).__name__} in the set: expression")
        return view

    def to_system(self, values: AbcMapping[str, Any]) -> Projection:
        """Project hub values onto system fields (outbound fields present in ``values``).

        The result's keys are system field names. A blank hub value gives the field's
        outbound default, else ``None``.
        """
        out: dict[str, Any] = {}
        errors: list[FieldError] = []
        for field, name, steps, default in self._out:
            if field not in values:
                continue
            value = values[field]
            if value is None or value == "" or value == [] or value == {}:
                out[name] = default
                continue
            try:
                for step in steps:
                    value = step(value)
            except Exception as exc:  # noqa: BLE001 - one bad value must not stop the batch
                errors.append(failure(field, exc))
                continue
            out[name] = value
        for field, name, _ in self._computed:
            if field in values:
                value = values[field]
                if isinstance(value, _Unset):
                    errors.append(FieldError(field, value.message))
                else:
                    out[name] = value
        return Projection(out, errors)

    def passes_outbound_filter(self, entity: AbcMapping[str, Any]) -> bool:
        """True when the record may be written out (no filter, or the filter is truthy)."""
        if self._filter is None:
            return True
        try:
            return truthy(self._filter(entity))
        except Exception:  # noqa: BLE001 - a filter that cannot evaluate excludes the record
            return False

    def policy(self, entity_field: str) -> ConflictPolicy:
        """The conflict policy of a field (the mapping default for unmapped fields)."""
        mapping = self.fields.get(entity_field)
        return mapping.policy if mapping is not None else self.default_policy

    def key_values(self, entity: AbcMapping[str, Any]) -> list[tuple[str, str]]:
        """(key name, normalised value) for every match key whose fields are all non-blank.

        Multi-field keys join their normalised parts with :data:`KEY_SEPARATOR`.
        """
        return self._key_values(entity)

    def _key_values_interpreted(self, entity: AbcMapping[str, Any]) -> list[tuple[str, str]]:
        """:meth:`key_values` as a loop over the keys: the reference of the generated code."""
        out: list[tuple[str, str]] = []
        for name, parts in self._keys:
            normalised = []
            for field, normalizer in parts:
                try:
                    key = normalize_key(normalizer, entity.get(field))
                except Exception:  # noqa: BLE001 - an odd value just gives no key
                    key = None
                if key is None:
                    break
                normalised.append(key)
            else:
                out.append((name, KEY_SEPARATOR.join(normalised)))
        return out

    def system_modified_at(self, record: AbcMapping[str, Any]) -> str | None:
        """The record's own modification time in canonical UTC, if declared and readable."""
        if self._modified is None:
            return None
        name, getter, convert = self._modified
        value = record.get(name) if getter is None else getter(record)
        if value is None or value == "":
            return None
        try:
            result = convert(value)
        except Exception:  # noqa: BLE001 - unreadable: no modification time
            return None
        return result if isinstance(result, str) else None


def modified_converter(plans: AbcMapping[str, FieldPlan], system: str) -> Converter:
    """How to read ``system_modified``: like a date-time field mapping of the same system
    field (so its ``tz`` applies), else as canonical UTC."""
    steps = next((plan.inbound for plan in plans.values()
                  if plan.mapping.system == system and plan.inbound), None)
    if steps is None:
        return canonical_datetime
    chain = steps

    def convert(value: Any) -> Any:
        for step in chain:
            value = step(value)
        return canonical_datetime(value)
    return convert
