"""Public value types of compiled mappings: policies, field mappings, keys, projections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DIRECTIONS = ("in", "out", "both", "none")
"""Field directions: system → hub, hub → system, both ways, not synced."""

POLICIES = ("system_wins", "newest_wins", "fill_if_blank", "write_once", "manual")
"""Conflict policies (DESIGN.md, "Sync semantics")."""

DEFAULT_POLICY = "newest_wins"

KEY_SEPARATOR = "\x1f"
"""Joins the normalised parts of a multi-field match key (a character data never holds)."""


@dataclass(frozen=True)
class ConflictPolicy:
    """What to do when a system and the hub both changed a field since their baseline.

    Attributes:
        kind: One of :data:`POLICIES`.
        owner: The connection that owns the field (``system_wins`` only).
    """

    kind: str
    owner: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}(owner={self.owner})" if self.owner else self.kind


@dataclass(frozen=True)
class Lookup:
    """An outbound field whose hub value names a record of another entity, written as that
    record's id in the target system (``lookup: {entity: lead, by: email, mapping: ...}``).

    Attributes:
        entity: The hub entity looked up (``lead``).
        by: Its field the hub value is matched against (``email``).
        mapping: The mapping whose links give the system id (``salesforce-leads``).
        key_name: The match key of ``mapping`` on exactly ``by`` (set when the mapping files
            are checked together; ``None`` until then).
        normalizer: That key's normaliser.
    """

    entity: str
    by: str
    mapping: str
    key_name: str | None = None
    normalizer: str | None = None


@dataclass(frozen=True)
class FieldMapping:
    """How one hub entity field maps to the system.

    Attributes:
        entity_field: The hub entity field.
        system: The system side as written: a field name or a jmespath expression.
        system_field: The plain system field name when it is one (writable), else ``None``.
        direction: ``in``, ``out``, ``both`` or ``none``.
        policy: The field's conflict policy (the mapping default when it names none).
        lookup: Outbound, the hub value is resolved to another record's system id.
    """

    entity_field: str
    system: str
    system_field: str | None
    direction: str
    policy: ConflictPolicy
    lookup: Lookup | None = None

    @property
    def inbound(self) -> bool:
        """True when the field is read from the system."""
        return self.direction in ("in", "both")

    @property
    def outbound(self) -> bool:
        """True when the field is written to the system."""
        return self.direction in ("out", "both")


@dataclass(frozen=True)
class MatchKey:
    """One identity key: entity fields and the normaliser of each.

    Attributes:
        name: The key's name (``email``, ``person_at_company``).
        fields: Hub entity fields.
        normalizers: One normaliser name per field.
    """

    name: str
    fields: tuple[str, ...]
    normalizers: tuple[str, ...]


@dataclass(frozen=True)
class FieldError:
    """A value of one record that could not be projected.

    Attributes:
        field: The hub entity field.
        message: Why; describes the value (``text of 12 characters``), never quotes it.
    """

    field: str
    message: str


@dataclass
class Projection:
    """The result of projecting one record.

    Attributes:
        values: Projected values (entity field names inbound, system field names outbound).
            A field with an error is left out.
        errors: One :class:`FieldError` per field that could not be projected.
    """

    values: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every field projected."""
        return not self.errors
