"""Leased locks in the state store, so several workers can share one backlog.

A lock is a row ``(name, holder, expires_at)``. Taking it is one ``INSERT … ON CONFLICT DO
NOTHING`` plus one conditional ``UPDATE`` (``WHERE holder = me OR expires_at < now``), which
both SQLite and PostgreSQL run atomically per row, so of two workers racing for a free or
expired lock exactly one gets it. A holder renews its lease while it works; a worker that
dies stops renewing and its lock frees itself after the lease.

Times are wall-clock epoch seconds of the worker taking the lock: the workers' clocks must
agree to well within a lease (NTP does that).

:class:`PartitionLocks` is what the sync runner uses: one lock per mapping and direction (a
*partition*), held for the whole phase, renewed by a background thread.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from renkei.store import schema as t

if TYPE_CHECKING:
    from renkei.store import Store

log = logging.getLogger("renkei.locks")


@dataclass(frozen=True)
class Lease:
    """Who holds a lock, and until when (epoch seconds)."""

    name: str
    holder: str
    acquired_at: float
    expires_at: float


class Locks:
    """Repository of the ``locks`` table, bound to one open connection."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def acquire(self, name: str, holder: str, ttl_s: float, *, now: float | None = None) -> bool:
        """Take (or renew) ``name`` for ``holder`` for ``ttl_s`` seconds.

        Returns:
            True when ``holder`` now holds the lock; False when another holder's lease is live.
        """
        now = time.time() if now is None else now
        values = {"name": name, "holder": holder, "acquired_at": now, "expires_at": now + ttl_s}
        ins: Any = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        self.conn.execute(ins(t.locks).values(**values).on_conflict_do_nothing())
        c = t.locks.c
        taken = self.conn.execute(
            update(t.locks)
            .where(and_(c.name == name, or_(c.holder == holder, c.expires_at < now)))
            .values(holder=holder, expires_at=now + ttl_s)).rowcount
        return bool(taken)

    def take_over(self, name: str, dead: str, holder: str, ttl_s: float) -> bool:
        """Take ``name`` from ``dead`` (a holder known to have died); False if it moved on."""
        c = t.locks.c
        now = time.time()
        return bool(self.conn.execute(
            update(t.locks).where(and_(c.name == name, c.holder == dead))
            .values(holder=holder, acquired_at=now, expires_at=now + ttl_s)).rowcount)

    def renew(self, name: str, holder: str, ttl_s: float) -> bool:
        """Extend ``holder``'s lease; False when the lock was lost (expired and taken)."""
        c = t.locks.c
        return bool(self.conn.execute(
            update(t.locks).where(and_(c.name == name, c.holder == holder))
            .values(expires_at=time.time() + ttl_s)).rowcount)

    def release(self, name: str, holder: str) -> bool:
        """Give the lock up; False when ``holder`` no longer held it."""
        c = t.locks.c
        return bool(self.conn.execute(
            delete(t.locks).where(and_(c.name == name, c.holder == holder))).rowcount)

    def get(self, name: str) -> Lease | None:
        """The lease on ``name``, live or expired, if any."""
        r = self.conn.execute(select(t.locks).where(t.locks.c.name == name)).first()
        return Lease(r.name, r.holder, r.acquired_at, r.expires_at) if r else None

    def all(self) -> list[Lease]:
        """Every lease, by name (``renkei status`` and tests)."""
        rows = self.conn.execute(select(t.locks).order_by(t.locks.c.name))
        return [Lease(r.name, r.holder, r.acquired_at, r.expires_at) for r in rows]


def new_holder() -> str:
    """A holder id naming the machine and process (readable in ``locks``), unique per call."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def is_dead_local_holder(holder: str) -> bool:
    """True when ``holder`` ran on this machine and its process is gone (killed, crashed):
    its lease need not be waited out. Holders on other machines are never judged dead here."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


@dataclass
class LockEvent:
    """What happened when a partition was asked for (for run reports and tests)."""

    name: str
    acquired: bool
    waited_s: float
    other_holder: str | None = None


class PartitionLocks:
    """Per-partition leases for one worker process.

    Args:
        store: The shared state store.
        ttl_s: Lease length; a dead worker's partition frees after this long.
        wait_s: How long to wait for a partition another worker holds before skipping it
            (0 skips at once: the other worker is doing that work).
        poll_s: How often to look again while waiting.
        holder: This worker's id (default: host, pid and a random suffix).
    """

    def __init__(self, store: Store, *, ttl_s: float = 60.0, wait_s: float = 0.0,
                 poll_s: float = 0.2, holder: str | None = None):
        if ttl_s <= 0 or wait_s < 0 or poll_s <= 0:
            raise ValueError(f"lock timings must be positive: ttl_s={ttl_s}, wait_s={wait_s}, "
                             f"poll_s={poll_s}")
        self.store = store
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.holder = holder or new_holder()
        self.events: list[LockEvent] = []

    def _try(self, name: str) -> tuple[bool, str | None]:
        for _ in range(3):  # the holder may release between our UPDATE and SELECT: go again
            with self.store.transaction() as tx:
                if tx.locks.acquire(name, self.holder, self.ttl_s):
                    return True, None
                lease = tx.locks.get(name)
                # A worker of this machine that died mid-phase (SIGKILL, OOM) left its lease:
                # a restarted sync takes it over instead of skipping the work for a minute.
                if lease is not None and is_dead_local_holder(lease.holder) and \
                        tx.locks.take_over(name, lease.holder, self.holder, self.ttl_s):
                    log.warning("took over %s from %s, whose process is gone", name,
                                lease.holder)
                    return True, None
            if lease is not None:
                return False, lease.holder
        return False, None

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        """Hold ``name`` for the block; yields False (and holds nothing) when another worker
        kept it for longer than ``wait_s``. The lease is renewed every third of its length."""
        started = time.monotonic()
        acquired, other = self._try(name)
        while not acquired and time.monotonic() - started < self.wait_s:
            time.sleep(self.poll_s)
            acquired, other = self._try(name)
        event = LockEvent(name, acquired, round(time.monotonic() - started, 3), other)
        self.events.append(event)
        if not acquired:
            log.info("partition %s is held by %s: skipped", name, other)
            yield False
            return
        stop = threading.Event()
        beat = threading.Thread(target=self._renew_until, args=(name, stop),
                                name=f"lease-{name}", daemon=True)
        beat.start()
        try:
            yield True
        finally:
            stop.set()
            beat.join()
            with self.store.transaction() as tx:
                if not tx.locks.release(name, self.holder):
                    log.error("lease on %s had expired and was taken over before release", name)

    def _renew_until(self, name: str, stop: threading.Event) -> None:
        while not stop.wait(self.ttl_s / 3):
            try:
                with self.store.transaction() as tx:
                    if not tx.locks.renew(name, self.holder, self.ttl_s):
                        log.error("lease on %s was lost while this worker held it", name)
                        return
            except Exception:  # a failed renewal is retried at the next beat
                log.exception("renewing the lease on %s failed", name)
