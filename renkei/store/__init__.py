"""The hub state store: golden records, links with baselines, journal, cursors, dead letters,
conflicts, the API-call ledger and run summaries.

SQLite file by default (zero set-up); PostgreSQL by URL. Work happens in transactions::

    store = Store.open("sqlite:///renkei.db")
    with store.transaction() as tx:
        links = tx.links.by_system_ids("marketo-leads", ["1", "2"])

A dry run (``renkei plan``) opens the store with ``dry_run=True``: everything happens inside one
outer transaction that is rolled back at :meth:`Store.close`, so the engine runs unchanged and
nothing is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, insert, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from renkei.store import codec
from renkei.store import schema as t
from renkei.store.audit import Conflict, Conflicts, Ledger, NewConflict, RunRow, Runs
from renkei.store.inbox import Inbox, InboxEvent, StoredEvent
from renkei.store.locks import Locks
from renkei.store.pending import PendingCreates
from renkei.store.repos import (
    ALL_FIELDS,
    Cursors,
    DeadLetter,
    DeadLetters,
    Failure,
    HubRecord,
    Journal,
    JournalEntry,
    Link,
    Links,
    MatchKeys,
    Records,
)

DEFAULT_URL = "sqlite:///.renkei/renkei.db"


class StoreError(Exception):
    """The state store cannot be used (wrong schema version, unreachable database)."""


class Tx:
    """One transaction with a repository per table."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.records = Records(conn)
        self.match_keys = MatchKeys(conn)
        self.links = Links(conn)
        self.journal = Journal(conn)
        self.cursors = Cursors(conn)
        self.dead_letters = DeadLetters(conn)
        self.conflicts = Conflicts(conn)
        self.ledger = Ledger(conn)
        self.runs = Runs(conn)
        self.inbox = Inbox(conn)
        self.locks = Locks(conn)
        self.pending = PendingCreates(conn)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINTs (a dry run's outer transaction
    # would be committed by the first RELEASE): let SQLAlchemy emit BEGIN itself.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # 16 MiB of page cache per connection (the default is 2 MiB): the indexes that identity
    # and link lookups walk (match keys, links by system id) stop fitting in 2 MiB beyond ~10k
    # records. 64 MiB measured no faster at 100k and cost 50 MB more per process.
    cur.execute("PRAGMA cache_size=-16384")
    cur.close()


def resolve_url(url: str | None) -> str:
    """The database URL: the argument, else ``RENKEI_DATABASE_URL``, else the SQLite default.

    ``postgresql://`` URLs get the psycopg 3 driver.
    """
    url = url or os.environ.get("RENKEI_DATABASE_URL") or DEFAULT_URL
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Store:
    """Handle on the state store. Thread-safe; open one per process."""

    def __init__(self, engine: Engine, *, dry_run: bool = False):
        self.engine = engine
        self.dry_run = dry_run
        self._outer: Connection | None = None
        if dry_run:
            self._outer = engine.connect()
            self._outer.begin()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    @classmethod
    def open(cls, url: str | None = None, *, dry_run: bool = False, create: bool = True) -> Store:
        """Open (and on first use create) the store at ``url``.

        Raises:
            StoreError: the database holds a different schema version, or cannot be reached.
        """
        url = resolve_url(url)
        parsed = make_url(url)
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            db = parsed.database
            if db and db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True
        engine = create_engine(url, json_serializer=codec.dumps, json_deserializer=codec.loads,
                               **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            # IMMEDIATE: a deferred transaction that read first cannot upgrade to a writer
            # once another connection (a lease renewal, the webhook receiver, a second
            # worker) has committed since its read — SQLite refuses at once, no busy wait.
            # Taking the write lock up front makes it wait its turn (busy_timeout) instead.
            event.listen(engine, "begin",
                         lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        try:
            with engine.begin() as conn:
                version = _schema_version(conn)
                if version is None:
                    if not create:
                        raise StoreError(f"no renkei store at {parsed.render_as_string(hide_password=True)}")
                    t.metadata.create_all(conn)
                    conn.execute(insert(t.meta).values(key="schema_version",
                                                       value=str(t.SCHEMA_VERSION)))
                elif version > t.SCHEMA_VERSION:
                    raise StoreError(
                        f"the store has schema version {version}, newer than this renkei's "
                        f"{t.SCHEMA_VERSION}; upgrade renkei or point RENKEI_DATABASE_URL elsewhere")
                elif version < t.SCHEMA_VERSION:
                    _migrate(conn, version)
        except OperationalError as exc:
            engine.dispose()
            raise StoreError(f"cannot open the store at "
                             f"{parsed.render_as_string(hide_password=True)}: {exc.orig}") from None
        return cls(engine, dry_run=dry_run)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        if self._outer is not None:
            with self._outer.begin_nested():
                yield Tx(self._outer)
            return
        with self.engine.begin() as conn:
            yield Tx(conn)

    def close(self) -> None:
        """Release connections; a dry run's work is rolled back here."""
        if self._outer is not None:
            self._outer.rollback()
            self._outer.close()
            self._outer = None
        self.engine.dispose()


def _migrate(conn: Connection, version: int) -> None:
    """Bring the store from ``version`` to the current schema, in the caller's transaction."""
    for step in range(version, t.SCHEMA_VERSION):
        for sql in t.MIGRATIONS[step]:
            conn.exec_driver_sql(sql)
    t.metadata.create_all(conn)  # tables added since ``version``; existing ones untouched
    conn.execute(update(t.meta).where(t.meta.c.key == "schema_version")
                 .values(value=str(t.SCHEMA_VERSION)))


def _schema_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table(t.meta.name):
        return None
    row = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).first()
    return int(row.value) if row else None


__all__ = [
    "ALL_FIELDS",
    "Conflict",
    "Cursors",
    "DeadLetter",
    "DeadLetters",
    "Failure",
    "HubRecord",
    "Inbox",
    "InboxEvent",
    "Journal",
    "JournalEntry",
    "Link",
    "Links",
    "MatchKeys",
    "NewConflict",
    "Records",
    "RunRow",
    "Store",
    "StoreError",
    "StoredEvent",
    "Tx",
    "resolve_url",
]
