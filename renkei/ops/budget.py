"""The API budget every process of a project shares, enforced through the state store.

:class:`SharedBudget` is what the sync runner asks before each mapping runs and between its
pages and batches: "may ``mapping`` make more calls now?" (see :mod:`renkei.ops.quota` for
the configuration and the reasons for its design). The answer comes from the ledger in the
store, so calls of every worker on every machine count:

- **One aggregate query per account window**, cached for ``ttl_s`` (5 s): between reads,
  the calls this process itself wrote since are added to the cached figure, so a burst of
  pages is checked exactly against its own use and at most ``ttl_s`` late on others'.
- **One event per crossing.** When an account's use reaches ``pause_low_priority_at``
  (``renkei.quota.threshold``) or 100 % (``renkei.quota.exhausted``), the process whose
  check sees it first claims a row in the store's ``meta`` table (``INSERT … ON CONFLICT DO
  NOTHING``: exactly one process wins on SQLite and PostgreSQL) and emits the event; the
  others see the row and stay quiet. The row is removed once use falls 5 points below the
  level again (the window rolled on, or the vendor reset), re-arming it; the margin keeps a
  rolling window hovering at 80 % from emitting an event per page.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connectors.sdk.ledger import ApiCall
from renkei.ops import events
from renkei.ops.quota import (
    AccountQuota,
    BudgetConfig,
    account_use,
    budget_config,
    mapping_calls,
    mapping_use,
    pause_reason,
    percent,
)
from renkei.project import Project
from renkei.store import Store, Tx
from renkei.store import schema as t

log = logging.getLogger("renkei.quota")

REARM_MARGIN = 0.05
"""A crossed level re-arms once use is this share of the quota below it."""
_KEY_PREFIX = "quota:"


def _key(account: str, level: str) -> str:
    """The ``meta`` row of a crossed level (keys hold 64 characters: long names are hashed)."""
    key = f"{_KEY_PREFIX}{level}:{account}"
    if len(key) > 64:
        key = f"{_KEY_PREFIX}{level}:#{hashlib.sha256(account.encode()).hexdigest()[:40]}"
    return key


@dataclass
class _View:
    """One account's use as last read, plus this process's calls since."""

    used: int
    mappings: dict[str, int]
    crossed: set[str]
    read_at: float
    local: int = 0


@dataclass
class Crossing:
    """An account's use reached a level (what the event says)."""

    event: str
    account: str
    connection: str
    used: int
    quota: int
    level: float
    paused: list[str] = field(default_factory=list)

    def as_event(self) -> dict[str, Any]:
        return events.quota_event(self.event, account=self.account, connection=self.connection,
                                  used=self.used, quota=self.quota, level=self.level,
                                  paused=self.paused)


class SharedBudget:
    """Store-backed budgets of a project's accounts, for one process.

    Args:
        project: Connections, quotas and ``syncs:``.
        store: The shared state store.
        ttl_s: How long a read of the store's use is reused.
        now: Wall clock (UTC) for windows.
        emit: Sends an event (default: :func:`renkei.ops.events.emit`).
    """

    def __init__(self, project: Project, store: Store, *, ttl_s: float = 5.0,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 emit: Callable[[dict[str, Any]], bool] | None = None,
                 config: BudgetConfig | None = None):
        self.project = project
        self.store = store
        self.config = config or budget_config(project)
        self.ttl_s = ttl_s
        self._now = now
        self._emit = emit or events.emit
        self._views: dict[str, _View] = {}
        self.crossings: list[Crossing] = []
        """Crossings this process announced (for run logs and tests)."""

    @classmethod
    def for_project(cls, project: Project, store: Store, **kwargs: Any) -> SharedBudget | None:
        """The budget, or None when no account has a quota and no mapping an allocation."""
        config = budget_config(project)
        if not any(q.daily for q in config.accounts.values()) and not any(
                s.allocation or s.share for s in config.syncs.values()):
            return None
        return cls(project, store, config=config, **kwargs)

    def noted(self, calls: Sequence[ApiCall]) -> None:
        """This process wrote these calls to the ledger: count them until the next read."""
        for c in calls:
            view = self._views.get(self.config.account_of.get(c.connection, ""))
            if view is not None:
                view.local += 1

    def check(self, mapping: str, connection: str, *, run_calls: int = 0) -> str | None:
        """Why ``mapping`` must pause now (``"paused: quota 82% of 50,000 used"``), or None.

        Args:
            mapping: The mapping about to make calls.
            connection: Its connection.
            run_calls: Its calls in the run in progress (not in the store's run summaries yet).
        """
        acct = self.config.account_for(connection)
        if acct is None:
            return None
        view = self._view(acct, connection)
        sync = self.config.sync(mapping)
        return pause_reason(acct, view.used + view.local, sync,
                            view.mappings.get(mapping, 0) + run_calls)

    def _view(self, acct: AccountQuota, connection: str) -> _View:
        view = self._views.get(acct.account)
        if view is None or time.monotonic() - view.read_at >= self.ttl_s:
            view = self._read(acct)
            self._views[acct.account] = view
        self._announce(acct, view, connection)
        return view

    def _read(self, acct: AccountQuota) -> _View:
        now = self._now()
        since = acct.window_start(now)
        needs_mappings = any(s.allocation or s.share for s in self.config.syncs.values())
        with self.store.transaction() as tx:
            used = account_use(tx, _only(self.config, acct), now)[acct.account]
            rows = mapping_use(tx, since) if needs_mappings else []
            crossed = _crossed(tx, acct.account)
        return _View(used, mapping_calls(rows, since), crossed, time.monotonic())

    def _announce(self, acct: AccountQuota, view: _View, connection: str) -> None:
        """Claim and emit each level the account's use has reached; re-arm passed ones."""
        if not acct.daily:
            return
        used = view.used + view.local
        for level_name, event, level in (("threshold", events.QUOTA_THRESHOLD, acct.pause_low_at),
                                         ("exhausted", events.QUOTA_EXHAUSTED, 1.0)):
            if used >= level * acct.daily and level_name not in view.crossed:
                view.crossed.add(level_name)
                if self._claim(acct.account, level_name, used, acct.daily):
                    crossing = Crossing(event, acct.account, connection, used, acct.daily, level,
                                        self._paused_at(acct, used))
                    self.crossings.append(crossing)
                    log.warning("API budget of %s: %d%% of %s used; paused: %s", acct.account,
                                percent(used, acct.daily), f"{acct.daily:,}",
                                ", ".join(crossing.paused) or "none")
                    self._emit(crossing.as_event())
            elif used < (level - REARM_MARGIN) * acct.daily and level_name in view.crossed:
                view.crossed.discard(level_name)
                with self.store.transaction() as tx:
                    tx.conn.execute(delete(t.meta).where(t.meta.c.key == _key(acct.account,
                                                                               level_name)))

    def _claim(self, account: str, level: str, used: int, quota: int) -> bool:
        value = json.dumps({"used": used, "quota": quota, "at": self._now().isoformat()})
        with self.store.transaction() as tx:
            ins: Any = pg_insert if tx.conn.dialect.name == "postgresql" else sqlite_insert
            return bool(tx.conn.execute(ins(t.meta).values(key=_key(account, level), value=value)
                                        .on_conflict_do_nothing()).rowcount)

    def _paused_at(self, acct: AccountQuota, used: int) -> list[str]:
        """Mappings of the account that pause at this use (by priority)."""
        return sorted(m.name for m in self.project.mappings()
                      if m.connection in acct.connections
                      and used >= acct.pause_at(self.config.sync(m.name).priority) * (acct.daily or 0))


def _only(config: BudgetConfig, acct: AccountQuota) -> BudgetConfig:
    return BudgetConfig({acct.account: acct}, config.account_of, config.syncs)


def _crossed(tx: Tx, account: str) -> set[str]:
    keys = {_key(account, level): level for level in ("threshold", "exhausted")}
    rows = tx.conn.execute(select(t.meta.c.key).where(t.meta.c.key.in_(list(keys))))
    return {keys[r.key] for r in rows}


# -- renkei status -------------------------------------------------------------------------

@dataclass(frozen=True)
class MappingBudget:
    """One mapping's use of its account's budget."""

    mapping: str
    priority: str
    used: int
    allocation: int | None
    paused: str | None

    def as_json(self) -> dict[str, Any]:
        return {"mapping": self.mapping, "priority": self.priority, "used": self.used,
                "allocation": self.allocation, "paused": self.paused}


@dataclass(frozen=True)
class AccountBudget:
    """One account's use against its quota, with its mappings."""

    account: str
    connections: tuple[str, ...]
    used: int
    quota: int | None
    window_start: str
    pause_low_at: float
    pause_normal_at: float
    crossed: tuple[str, ...]
    mappings: list[MappingBudget]

    @property
    def percent(self) -> int | None:
        return percent(self.used, self.quota) if self.quota else None

    def as_json(self) -> dict[str, Any]:
        return {"account": self.account, "connections": list(self.connections),
                "used": self.used, "quota": self.quota, "percent": self.percent,
                "window_start": self.window_start, "pause_low_priority_at": self.pause_low_at,
                "pause_normal_priority_at": self.pause_normal_at, "crossed": list(self.crossed),
                "mappings": [m.as_json() for m in self.mappings]}


def budget_status(project: Project, store: Store, *,
                  now: datetime | None = None) -> list[AccountBudget]:
    """Every account's use against quota, per mapping, and which mappings are paused now."""
    config = budget_config(project)
    now = now or datetime.now(UTC)
    if not config.accounts:
        return []
    earliest = min(q.window_start(now) for q in config.accounts.values())
    with store.transaction() as tx:
        used = account_use(tx, config, now)
        rows = mapping_use(tx, earliest)
        crossed = {a: _crossed(tx, a) for a in config.accounts}
    out = []
    for name, acct in sorted(config.accounts.items()):
        start = acct.window_start(now)
        calls = mapping_calls(rows, start)
        mappings = []
        for m in sorted(project.mappings(), key=lambda m: m.name):
            if m.connection not in acct.connections:
                continue
            sync = config.sync(m.name)
            mapping_used = calls.get(m.name, 0)
            mappings.append(MappingBudget(m.name, sync.priority, mapping_used,
                                          sync.allocated(acct.daily),
                                          pause_reason(acct, used[name], sync, mapping_used)))
        out.append(AccountBudget(name, acct.connections, used[name], acct.daily,
                                 start.strftime("%Y-%m-%dT%H:%M:%SZ"), acct.pause_low_at,
                                 acct.pause_normal_at, tuple(sorted(crossed[name])), mappings))
    return out


__all__ = ["AccountBudget", "Crossing", "MappingBudget", "SharedBudget", "budget_status"]
