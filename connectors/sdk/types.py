"""Plain data types shared by every connector and the engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

JSON = dict[str, Any]
"""A JSON object as Python sees it."""


class WriteMode(str, Enum):
    """How a record is written to a system."""

    CREATE = "create"
    UPDATE = "update"
    UPSERT = "upsert"


class ErrorCategory(str, Enum):
    """Why a record or a call failed, in the vocabulary of the run reports."""

    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    VALIDATION = "validation"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMIT = "rate_limit"
    VENDOR_OUTAGE = "vendor_outage"
    CONFIGURATION = "configuration"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StreamSpec:
    """What a connector says about one of its streams.

    Attributes:
        name: Stream name as mapping files refer to it (``leads``, ``Lead``).
        schema: JSON Schema of one record. Picklist fields carry ``enum``.
        primary_key: Field names whose values identify a record (compared as a tuple).
        cursor_field: The vendor's own modification time of a record, if it has one.
        page_size: Records per read call the vendor allows at most.
        write_batch_size: Records per write call the vendor allows at most.
        write_modes: Which :class:`WriteMode` values :meth:`Connector.write` accepts.
        writable_fields: System fields a write may set (``None``: every field in the schema).
        version_field: A field that carries the record's version token for optimistic
            locking (kintone's ``$revision``). The engine keeps the token seen with each
            link's baseline and passes it back as :attr:`WriteOp.version`, so a record
            edited in the system since then is refused instead of overwritten blind.
        create_idempotent: False when a create sent twice makes two records and the vendor
            has no key to stop it (Marketo custom activities). The engine then stores a
            marker before each such create and clears it with the link; a run that finds a
            marker left by a crash asks :meth:`Connector.find_created` whether the create
            landed before writing it again.
        readable: False for a stream that only takes writes (Marketo custom activities):
            mappings may only write to it, and the conformance kit does not read it.
    """

    name: str
    schema: Mapping[str, Any]
    primary_key: tuple[str, ...] = ("id",)
    cursor_field: str | None = None
    page_size: int = 200
    write_batch_size: int = 200
    write_modes: frozenset[WriteMode] = frozenset({WriteMode.CREATE, WriteMode.UPDATE})
    writable_fields: frozenset[str] | None = None
    description: str = ""
    version_field: str | None = None
    create_idempotent: bool = True
    readable: bool = True

    @property
    def fields(self) -> Mapping[str, Any]:
        """The ``properties`` of the record schema."""
        props = self.schema.get("properties", {})
        assert isinstance(props, Mapping)
        return props

    def record_id(self, record: Mapping[str, Any]) -> str:
        """The record's primary key as one string (``|``-joined for compound keys).

        Raises:
            KeyError: a key field is missing or null.
        """
        parts = []
        for key in self.primary_key:
            value = record.get(key)
            if value is None or value == "":
                raise KeyError(key)
            parts.append(str(value))
        return "|".join(parts)


@dataclass
class Page:
    """One page of records read from a stream.

    Attributes:
        records: The records, as the vendor returned them (system field names).
        state: The read state to persist once this page has been committed; passing it
            back to :meth:`Connector.read` resumes right after this page.
        deleted: System ids the vendor reported deleted in the span this page covers.
    """

    records: list[JSON]
    state: JSON
    deleted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WriteOp:
    """One record to write.

    Attributes:
        mode: create, update (``id`` is set) or upsert (by the connector's configured key).
        values: System field names to values; only the fields that should change, plus
            whatever the vendor needs to create the record.
        id: The system's id of the record, for updates.
        ref: A stable hub reference (``lead:42``); connectors may store it in an external-id
            field so that a repeated create is an idempotent upsert.
        version: For updates on a stream with a ``version_field``: the version token the
            engine last saw. The connector makes the vendor refuse the write when the
            record has changed since (a failed result of category ``conflict``); ``None``
            writes without the check.
    """

    mode: WriteMode
    values: Mapping[str, Any]
    id: str | None = None
    ref: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class RecordError:
    """Why the vendor rejected one record.

    Attributes:
        category: What kind of failure, for grouping in reports.
        message: The vendor's own message, verbatim.
        code: The vendor's error code.
        retriable: True when the same write may succeed later unchanged (row lock, rate limit,
            outage); False for permanent reasons (validation, duplicate, permission).
        fields: System fields the vendor blamed, if it said.
    """

    category: ErrorCategory
    message: str
    code: str | None = None
    retriable: bool = False
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one :class:`WriteOp`, in the order the ops were given.

    Attributes:
        ok: True when the vendor stored the record.
        id: The system's id of the record (set on success).
        created: True when the write created a new record.
        error: Why it failed (set when ``ok`` is false).
        version: The record's version token after the write, on streams with a
            ``version_field`` (kintone's new revision).
    """

    ok: bool
    id: str | None = None
    created: bool = False
    error: RecordError | None = None
    version: str | None = None

    @classmethod
    def success(cls, id: str, *, created: bool = False,
                version: str | None = None) -> WriteResult:
        return cls(ok=True, id=id, created=created, version=version)

    @classmethod
    def failure(cls, error: RecordError) -> WriteResult:
        return cls(ok=False, error=error)
