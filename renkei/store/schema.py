"""Tables of the hub state store (SQLAlchemy Core; SQLite and PostgreSQL).

Bump :data:`SCHEMA_VERSION` whenever a table changes; :func:`renkei.store.Store.open`
refuses a database written by a different version instead of corrupting it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_VERSION = 5

#: SQL that brings a store from version ``n`` to ``n + 1`` (see :func:`renkei.store.Store.open`),
#: run before missing tables are created. Only additive changes, so a migration never
#: rewrites or loses rows.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE links ADD COLUMN system_version VARCHAR(64)",),
    2: (),  # v3 adds the webhook_inbox table
    3: (),  # v4 adds the locks table
    4: (),  # v5 adds the pending_creates table
}

metadata = MetaData()

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for big journals.
Id = BigInteger().with_variant(Integer(), "sqlite")

meta = Table(
    "renkei_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

records = Table(
    "records", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("entity", String(32), nullable=False),
    Column("data", JSON, nullable=False),
    # {field: [source mapping, source modification time]}: newest_wins compares these.
    Column("field_meta", JSON, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Index("ix_records_entity", "entity", "id"),
)

match_keys = Table(
    "match_keys", metadata,
    Column("entity", String(32), primary_key=True),
    Column("key_name", String(64), primary_key=True),
    Column("key_value", String(512), primary_key=True),
    Column("record_id", Id, ForeignKey("records.id"), primary_key=True),
    Index("ix_match_keys_record", "record_id"),
)

links = Table(
    "links", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("mapping", String(128), nullable=False),
    Column("system_id", String(255), nullable=False),
    Column("record_id", Id, ForeignKey("records.id"), nullable=False),
    # The mapped field values (hub representation) as they were when both sides last agreed.
    Column("baseline", JSON, nullable=False),
    Column("system_modified", String(32)),
    Column("updated_at", String(32), nullable=False),
    # The system's version token (kintone $revision) that goes with the baseline: writes
    # carry it so the vendor refuses them when the record was edited since (since v2).
    Column("system_version", String(64)),
    UniqueConstraint("mapping", "system_id", name="uq_links_mapping_system"),
    UniqueConstraint("mapping", "record_id", name="uq_links_mapping_record"),
)

journal = Table(
    "journal", metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("entity", String(32), nullable=False),
    Column("record_id", Id, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("source", String(128), nullable=False),
    Column("run_id", String(64)),
    Column("at", String(32), nullable=False),
    Index("ix_journal_entity_seq", "entity", "seq"),
)

cursors = Table(
    "cursors", metadata,
    Column("mapping", String(128), primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", String(32), nullable=False),
)

dead_letters = Table(
    "dead_letters", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("mapping", String(128), nullable=False),
    Column("direction", String(8), nullable=False),
    # system id (inbound) or hub record id (outbound)
    Column("item_key", String(255), nullable=False),
    Column("record_id", Id),
    Column("payload", JSON),
    Column("category", String(32), nullable=False),
    Column("code", String(64)),
    Column("message", Text, nullable=False),
    Column("retriable", Boolean, nullable=False),
    Column("permanent", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("first_failed_at", String(32), nullable=False),
    Column("last_failed_at", String(32), nullable=False),
    Column("resolved_at", String(32)),
    Column("run_id", String(64)),
    UniqueConstraint("mapping", "direction", "item_key", name="uq_dead_letters_item"),
    Index("ix_dead_letters_open", "mapping", "direction", "resolved_at"),
)

conflicts = Table(
    "conflicts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("entity", String(32), nullable=False),
    Column("record_id", Id, nullable=False),
    Column("field", String(128), nullable=False),
    Column("mapping", String(128), nullable=False),
    Column("hub_value", JSON),
    Column("system_value", JSON),
    Column("baseline_value", JSON),
    Column("status", String(16), nullable=False),
    Column("resolution", String(32)),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("record_id", "field", "mapping", name="uq_conflicts_item"),
    Index("ix_conflicts_status", "status"),
)

api_calls = Table(
    "api_calls", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", String(64)),
    Column("connection", String(128), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(512), nullable=False),
    Column("status", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("at", String(32), nullable=False),
    Index("ix_api_calls_conn_at", "connection", "at"),
)

runs = Table(
    "runs", metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("entity", String(32)),
    Column("status", String(16), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("summary", JSON),
    Column("flow_run_id", String(64)),
)

# Webhook events, written before the receiver answers 200 and processed by the inbox flow.
# (source, event_id) is unique so a vendor's redelivery is stored once; ``signature`` tells
# an exact replay of a request (refused) from a redelivery (acknowledged, not stored again).
webhook_inbox = Table(
    "webhook_inbox", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("event_type", String(128)),
    Column("signature", String(255)),
    Column("received_at", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("processed_at", String(32)),
    Column("error", Text),
    UniqueConstraint("source", "event_id", name="uq_inbox_source_event"),
    Index("ix_inbox_status", "status", "id"),
)

# Leases that keep two workers off the same partition (one mapping + direction) at once; a
# lease that is not renewed expires, so a dead worker's partition frees itself.
locks = Table(
    "locks", metadata,
    Column("name", String(255), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# A create on a stream whose creates are not idempotent (Marketo custom activities), marked
# before the call and cleared in the transaction that stores its link: a marker left behind
# means a run died between the vendor's answer and our commit, and the next run looks the
# record up in the system before writing it again.
pending_creates = Table(
    "pending_creates", metadata,
    Column("mapping", String(128), primary_key=True),
    Column("record_id", Id, primary_key=True, autoincrement=False),
    Column("ref", String(255), nullable=False),
    Column("started_at", String(32), nullable=False),
)
