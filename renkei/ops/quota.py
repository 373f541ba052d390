"""API quota budgets: configuration, and use against quota per vendor account and mapping.

A vendor's daily quota belongs to the account, and every flow of every worker spends it, so
one budget per account is kept in the state store (the API-call ledger) and checked by
:mod:`renkei.ops.budget` before each mapping runs and between its pages. ``renkei.yaml``::

    connections:
      marketo:
        type: marketo
        config: {...}                 # config.daily_quota still works (see below)
        quota:
          daily: 50000                # calls per window for the account
          pause_low_priority_at: 0.8  # or "80%": low-priority syncs pause here
          pause_normal_priority_at: 0.95  # normal ones here; high ones only at 100 %
          resets: "00:00 America/Chicago"  # the vendor's reset; default: rolling 24 h
          account: marketo-prod       # connections naming one account share one budget
    syncs:                            # per mapping (mapping file name)
      marketo-leads: {priority: high}
      marketo-activities: {priority: low, allocation: 20%}   # or 5000 (calls per window)

Why this design (the one API-governance products converge on):

- **Priority tiers reserve headroom.** A low-priority sync (activities, enrichment) stops
  at 80 %, a normal one at 95 %, a high one (lead hand-off) runs to 100 %: the last fifth of
  the quota is kept for what sales waits for, without anyone carving it up by hand. The
  tiers are what protects important syncs; no mapping has to declare anything to be safe.
- **Allocations are ceilings, not reservations.** ``allocation`` caps one mapping's share
  (a runaway backfill cannot eat the account), but unused allocation is not held back from
  others, so allocations may add up to more than 100 % and nothing idles. A mapping over
  its allocation pauses whatever its priority.
- **Pausing loses nothing.** A paused mapping stops before its next page or batch; its
  cursor stays at the last committed page, and it resumes where it stopped once the window
  rolls on (or the vendor resets) — its run report says ``paused: quota 82% of 50,000 used``.
- **Use is the ledger's.** Every process writes its calls to the ``api_calls`` table page by
  page; use is one aggregate query over the window, so workers on other machines count.

The daily quota of a connection is ``quota.daily``, else its ``config.daily_quota`` (the older
setting, also the connector's per-process backstop), else the default in its connector's
config spec (Marketo 50,000, HubSpot 250,000, kintone 10,000 per app...); 0 or none: no cap,
no budget. Use per mapping is the API calls its runs reported (``runs`` summaries in the
window, plus the run in progress in this process).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from renkei.project import Project, ProjectError
from renkei.store import Store, Tx
from renkei.store import schema as t

PRIORITIES = ("high", "normal", "low")
QUOTA_KEYS = ("daily", "pause_low_priority_at", "pause_normal_priority_at", "resets", "account")
SYNC_KEYS = ("priority", "allocation")
_RESET = re.compile(r"^(\d{1,2}):(\d{2})\s+(\S+)$")
_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class AccountQuota:
    """One vendor account's budget.

    Attributes:
        account: Budget name (the connection's name unless ``quota.account`` groups several).
        connections: Connections spending it.
        daily: Calls per window (None: no cap, nothing is paused).
        pause_low_at: Share of ``daily`` at which low-priority syncs pause.
        pause_normal_at: Share at which normal-priority syncs pause (high ones: 1.0).
        resets: ``rolling`` (the last 24 hours) or ``HH:MM Zone``, the vendor's daily reset.
    """

    account: str
    connections: tuple[str, ...]
    daily: int | None
    pause_low_at: float = 0.8
    pause_normal_at: float = 0.95
    resets: str = "rolling"

    def pause_at(self, priority: str) -> float:
        """The share of the quota at which syncs of ``priority`` pause."""
        return {"low": self.pause_low_at, "normal": self.pause_normal_at}.get(priority, 1.0)

    def window_start(self, now: datetime) -> datetime:
        """Start of the window use is counted in (UTC)."""
        m = _RESET.match(self.resets)
        if m is None:
            return now - timedelta(days=1)
        zone = ZoneInfo(m.group(3))
        local = now.astimezone(zone)
        reset = datetime.combine(local.date(), time(int(m.group(1)), int(m.group(2))), zone)
        if reset > local:
            reset -= timedelta(days=1)
        return reset.astimezone(UTC)


@dataclass(frozen=True)
class SyncQuota:
    """One mapping's place in its account's budget (``syncs.<mapping>``)."""

    mapping: str
    priority: str = "normal"
    allocation: int | None = None
    """Calls per window; None: no ceiling of its own."""
    share: float | None = None
    """Share of the account's daily quota (from ``allocation: 20%``)."""

    def allocated(self, daily: int | None) -> int | None:
        """The ceiling in calls (a share needs the account's quota)."""
        if self.allocation is not None:
            return self.allocation
        if self.share is not None and daily:
            return int(self.share * daily)
        return None


@dataclass(frozen=True)
class BudgetConfig:
    """Every account budget of a project and every mapping's priority and allocation."""

    accounts: dict[str, AccountQuota]
    account_of: dict[str, str]
    """Account per connection."""
    syncs: dict[str, SyncQuota] = field(default_factory=dict)

    def sync(self, mapping: str) -> SyncQuota:
        return self.syncs.get(mapping) or SyncQuota(mapping)

    def account_for(self, connection: str) -> AccountQuota | None:
        name = self.account_of.get(connection)
        return self.accounts.get(name) if name else None


def pause_reason(acct: AccountQuota, used: int, sync: SyncQuota, mapping_used: int) -> str | None:
    """Why ``sync`` must not make another call now, or None.

    Args:
        acct: The account's budget.
        used: Calls of the account in the window.
        sync: The mapping's priority and allocation.
        mapping_used: Calls of the mapping in the window.
    """
    if acct.daily and used >= acct.pause_at(sync.priority) * acct.daily:
        return f"paused: quota {percent(used, acct.daily)}% of {acct.daily:,} used"
    ceiling = sync.allocated(acct.daily)
    if ceiling is not None and mapping_used >= ceiling:
        return (f"paused: allocation {percent(mapping_used, ceiling)}% of {ceiling:,} used "
                f"({sync.mapping})")
    return None


def percent(used: int, quota: int) -> int:
    """Whole percent, rounded down: 79.9 % must not read as the 80 % that pauses."""
    return (100 * used) // quota if quota else 0


# -- configuration ------------------------------------------------------------------------

def _share_value(value: Any, where: str) -> float:
    """0.8 or "80%" → 0.8, within (0, 1]."""
    if isinstance(value, str) and (m := _SHARE.match(value)):
        share = float(m.group(1)) / 100
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        share = float(value)
    else:
        raise ProjectError(f"{where}: must be a share such as 0.8 or \"80%\" (got {value!r})")
    if not 0 < share <= 1:
        raise ProjectError(f"{where}: must be more than 0 and at most 1 (100%) (got {value!r})")
    return share


def check_quota(value: Any, where: str) -> dict[str, Any]:
    """Validate a connection's ``quota:`` (an int is short for ``{daily: N}``).

    Raises:
        ProjectError: naming the file and key, e.g. ``renkei.yaml: connections.marketo.quota.
            pause_low_priority_at: must be ...``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"daily": value}
    if not isinstance(value, dict):
        raise ProjectError(f"{where}: must be a mapping such as {{daily: 50000, "
                           f"pause_low_priority_at: 0.8}} (got {value!r})")
    unknown = sorted(set(value) - set(QUOTA_KEYS))
    if unknown:
        raise ProjectError(f"{where}.{unknown[0]}: unknown setting (known: {', '.join(QUOTA_KEYS)})")
    out: dict[str, Any] = {}
    daily = value.get("daily")
    if daily is not None:
        if not isinstance(daily, int) or isinstance(daily, bool) or daily < 0:
            raise ProjectError(f"{where}.daily: must be a whole number of calls >= 0 "
                               f"(0: no cap) (got {daily!r})")
        out["daily"] = daily
    for key in ("pause_low_priority_at", "pause_normal_priority_at"):
        if value.get(key) is not None:
            out[key] = _share_value(value[key], f"{where}.{key}")
    if out.get("pause_low_priority_at", 0.8) > out.get("pause_normal_priority_at", 1.0):
        raise ProjectError(f"{where}.pause_low_priority_at: must not be above "
                           "pause_normal_priority_at (default 0.95): low priority pauses first")
    resets = value.get("resets")
    if resets is not None:
        m = _RESET.match(str(resets))
        if resets != "rolling" and m is None:
            raise ProjectError(f"{where}.resets: must be \"rolling\" or \"HH:MM Area/City\" "
                               f"such as \"00:00 America/Chicago\" (got {resets!r})")
        if m is not None:
            if int(m.group(1)) > 23 or int(m.group(2)) > 59:
                raise ProjectError(f"{where}.resets: {resets!r} is not a time of day")
            try:
                ZoneInfo(m.group(3))
            except (ZoneInfoNotFoundError, ValueError):
                raise ProjectError(f"{where}.resets: unknown time zone {m.group(3)!r}") from None
        out["resets"] = str(resets)
    if value.get("account") is not None:
        if not isinstance(value["account"], str) or not value["account"].strip():
            raise ProjectError(f"{where}.account: must be a name (got {value['account']!r})")
        out["account"] = value["account"].strip()
    return out


def check_syncs(value: Any, where: str) -> dict[str, SyncQuota]:
    """Validate ``syncs:`` (mapping name → priority and allocation).

    Raises:
        ProjectError: naming the file and key.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProjectError(f"{where}: must be a mapping of mapping name → "
                           "{priority, allocation}")
    out: dict[str, SyncQuota] = {}
    for name, spec in value.items():
        at = f"{where}.{name}"
        if not isinstance(spec, dict):
            raise ProjectError(f"{at}: must be a mapping such as {{priority: low}} (got {spec!r})")
        unknown = sorted(set(spec) - set(SYNC_KEYS))
        if unknown:
            raise ProjectError(f"{at}.{unknown[0]}: unknown setting (known: {', '.join(SYNC_KEYS)})")
        priority = spec.get("priority", "normal")
        if priority not in PRIORITIES:
            raise ProjectError(f"{at}.priority: must be one of high, normal, low (got {priority!r})")
        alloc, share = spec.get("allocation"), None
        if alloc is not None:
            if isinstance(alloc, str):
                if not _SHARE.match(alloc):
                    raise ProjectError(f"{at}.allocation: a share must read like \"20%\" "
                                       f"(got {alloc!r})")
                share, alloc = _share_value(alloc, f"{at}.allocation"), None
            elif isinstance(alloc, bool) or not isinstance(alloc, int) or alloc <= 0:
                raise ProjectError(f"{at}.allocation: must be a whole number of calls > 0 or a "
                                   f"share such as \"20%\" (got {alloc!r}; 0.2 is ambiguous: "
                                   "write \"20%\")")
        out[str(name)] = SyncQuota(str(name), str(priority), alloc, share)
    return out


def daily_quota(project: Project, connection: str) -> int | None:
    """The daily quota of a connection: ``quota.daily``, ``config.daily_quota``, or its
    connector's default (None: not configured, or unlimited)."""
    from connectors.sdk.registry import connector_class

    settings = project.connections.get(connection) or {}
    quota = settings.get("quota")
    value: Any = quota if isinstance(quota, int) else (
        quota.get("daily") if isinstance(quota, dict) else None)
    if value is None:
        value = (settings.get("config") or {}).get("daily_quota")
    if value is None and settings.get("type"):
        try:
            spec = getattr(connector_class(str(settings["type"])), "spec", None) or {}
        except Exception:  # noqa: BLE001 — an uninstalled connector has no known default
            spec = {}
        value = ((spec.get("properties") or {}).get("daily_quota") or {}).get("default")
    try:
        return int(value) or None if value is not None else None
    except (TypeError, ValueError):
        return None


def budget_config(project: Project) -> BudgetConfig:
    """Accounts, their quotas and the mappings' places in them, checked.

    Raises:
        ProjectError: a bad value, connections of one account disagreeing, or ``syncs:``
            naming no mapping.
    """
    where = str(project.root / "renkei.yaml")
    groups: dict[str, list[str]] = {}
    given: dict[str, dict[str, tuple[Any, str]]] = {}  # account → key → (value, connection)
    for name in sorted(project.connections):
        at = f"{where}: connections.{name}.quota"
        q = check_quota(project.connections[name].get("quota") or {}, at)
        acct = q.pop("account", name)
        groups.setdefault(acct, []).append(name)
        for key, v in q.items():
            seen = given.setdefault(acct, {}).get(key)
            if seen is not None and seen[0] != v:
                raise ProjectError(f"{at}.{key}: {v!r} differs from {seen[0]!r} in "
                                   f"connections.{seen[1]}.quota (same account {acct!r})")
            given[acct][key] = (v, name)
    out: dict[str, AccountQuota] = {}
    for acct, conns in groups.items():
        g = {k: v for k, (v, _) in given.get(acct, {}).items()}
        if "daily" in g:
            daily = g["daily"] or None
        else:  # the older config.daily_quota or the connector's default; the strictest
            dailies = [d for d in (daily_quota(project, c) for c in conns) if d]
            daily = min(dailies) if dailies else None
        low = g.get("pause_low_priority_at", 0.8)
        out[acct] = AccountQuota(acct, tuple(conns), daily, low,
                                 g.get("pause_normal_priority_at", max(0.95, low)),
                                 g.get("resets", "rolling"))
    syncs = check_syncs(project.syncs, f"{where}: syncs")
    if syncs:
        known = {m.name for m in project.mappings()} | set(project.unconnected_mappings())
        for name in syncs:
            if name not in known:
                raise ProjectError(f"{where}: syncs.{name}: no mapping of that name "
                                   f"(known: {', '.join(sorted(known)) or 'none'})")
    account_of = {c: acct for acct, conns in groups.items() for c in conns}
    return BudgetConfig(out, account_of, syncs)


# -- use ----------------------------------------------------------------------------------

def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def account_use(tx: Tx, config: BudgetConfig, now: datetime) -> dict[str, int]:
    """Calls per account in its window: one aggregate ledger query per distinct window."""
    starts = {a: _stamp(q.window_start(now)) for a, q in config.accounts.items()}
    used = dict.fromkeys(config.accounts, 0)
    for since in sorted(set(starts.values())):
        usage = tx.ledger.usage(since=since)
        for acct, q in config.accounts.items():
            if starts[acct] == since:
                used[acct] = sum(sum(usage.get(c, {}).values()) for c in q.connections)
    return used


def mapping_use(tx: Tx, since: datetime) -> list[tuple[str, str, int]]:
    """(finished at, mapping, calls) of every run finished since ``since``: one query."""
    rows = tx.conn.execute(select(t.runs.c.finished_at, t.runs.c.summary)
                           .where(t.runs.c.finished_at >= _stamp(since)))
    out: list[tuple[str, str, int]] = []
    for finished, summary in rows:
        for row in (summary or {}).get("mappings", []) if isinstance(summary, dict) else []:
            calls = int(row.get("api_calls") or 0)
            if calls:
                out.append((str(finished), str(row.get("mapping")), calls))
    return out


def mapping_calls(rows: list[tuple[str, str, int]], since: datetime) -> dict[str, int]:
    """Calls per mapping of the runs in ``rows`` that finished at or after ``since``."""
    cut = _stamp(since)
    out: dict[str, int] = {}
    for finished, mapping, calls in rows:
        if finished >= cut:
            out[mapping] = out.get(mapping, 0) + calls
    return out


@dataclass(frozen=True)
class QuotaRow:
    """One connection's API use in the last 24 hours.

    ``quota`` and ``remaining`` are its account's: connections sharing one (``quota.account``)
    count together, and ``account_used`` is what they used.
    """

    connection: str
    used: int
    quota: int | None
    by_kind: dict[str, int]
    account: str | None = None
    account_used: int | None = None

    @property
    def remaining(self) -> int | None:
        spent = self.used if self.account_used is None else self.account_used
        return None if not self.quota else max(self.quota - spent, 0)

    def describe(self) -> str:
        if not self.quota:
            return f"{self.used} (no daily quota configured)"
        if self.account not in (None, self.connection) and self.account_used is not None:
            return (f"{self.used}; account {self.account}: {self.account_used} of {self.quota} "
                    f"({100 * self.account_used / self.quota:.1f}%), {self.remaining} left")
        return (f"{self.used} of {self.quota} ({100 * self.used / self.quota:.1f}%), "
                f"{self.remaining} left")


def quota_status(project: Project, store: Store, *, now: datetime | None = None) -> list[QuotaRow]:
    """API use in the last 24 hours of every connection of the project or the ledger."""
    since = _stamp((now or datetime.now(UTC)) - timedelta(days=1))
    with store.transaction() as tx:
        usage = tx.ledger.usage(since=since)
    account = {name: _account_name(project, name) for name in set(project.connections) | set(usage)}
    spent: dict[str, int] = {}
    for name, acct in account.items():
        spent[acct] = spent.get(acct, 0) + sum(usage.get(name, {}).values())
    return [QuotaRow(name, sum(usage.get(name, {}).values()), daily_quota(project, name),
                     dict(usage.get(name, {})), account[name], spent[account[name]])
            for name in sorted(account)]


def _account_name(project: Project, connection: str) -> str:
    quota = (project.connections.get(connection) or {}).get("quota")
    name = quota.get("account") if isinstance(quota, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else connection


__all__ = ["PRIORITIES", "AccountQuota", "BudgetConfig", "QuotaRow", "SyncQuota",
           "account_use", "budget_config", "check_quota", "check_syncs", "daily_quota",
           "mapping_calls", "mapping_use", "pause_reason", "percent", "quota_status"]
