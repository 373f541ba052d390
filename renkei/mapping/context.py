"""Shared state while one mapping document is checked and compiled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from renkei import entities
from renkei.mapping.diagnostics import Diagnostic
from renkei.mapping.loader import Document, PathKey
from renkei.mapping.model import POLICIES, ConflictPolicy

if TYPE_CHECKING:
    from connectors.sdk.types import StreamSpec


@dataclass
class BuildContext:
    """What the checks of one document share.

    Attributes:
        doc: The parsed document.
        entity: The hub entity when it is a known one, else ``None`` (field checks skipped).
        spec: The connector's stream, when the caller's lookup knows it.
        connection: Connection name (``?`` when missing).
        stream: Stream name (``?`` when missing).
        diagnostics: Problems found so far.
    """

    doc: Document
    entity: str | None
    spec: StreamSpec | None
    connection: str
    stream: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, path: PathKey, message: str, *, at_key: bool = False) -> None:
        """Record an error about ``path``."""
        self.diagnostics.append(self.doc.diagnostic(path, message, at_key=at_key))

    def warn(self, path: PathKey, message: str, *, at_key: bool = False) -> None:
        """Record a warning about ``path``."""
        self.diagnostics.append(self.doc.diagnostic(path, message, at_key=at_key, warning=True))

    def has_field(self, name: str) -> bool:
        """True when the entity is known and has the field."""
        return self.entity is not None and name in entities.entity_fields(self.entity)

    def unknown_field(self, path: PathKey, name: str, *, at_key: bool = False) -> None:
        """Report a name that is not a field of the entity."""
        from renkei.mapping.schema_check import suggest

        assert self.entity is not None
        near = suggest(name, entities.entity_fields(self.entity))
        self.error(path, f"unknown field '{name}' of entity {self.entity}{near}", at_key=at_key)

    def system_fields(self) -> frozenset[str] | None:
        """Field names of the stream's record schema, when the stream is known and declares
        them."""
        if self.spec is None or not self.spec.fields:
            return None
        return frozenset(self.spec.fields)

    def policy(self, raw: Any, path: PathKey) -> ConflictPolicy | None:
        """Parse a policy (a name or ``{policy, owner}``); ``None`` when malformed."""
        owner: Any = None
        if isinstance(raw, dict):
            kind, owner = raw.get("policy"), raw.get("owner")
            if owner is not None and not isinstance(owner, str):
                return None
        else:
            kind = raw
        if not isinstance(kind, str) or kind not in POLICIES:
            return None
        if kind == "system_wins" and not owner:
            self.error(path, "system_wins needs an owner: write {policy: system_wins, "
                             "owner: CONNECTION}")
            return None
        if kind != "system_wins" and owner:
            self.warn((*path, "owner"), f"owner is only used by system_wins, not by {kind}")
            owner = None
        return ConflictPolicy(kind, owner or None)
