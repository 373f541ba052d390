"""Quota budget configuration in renkei.yaml: clear errors naming file and key, the older
``daily_quota`` setting, vendor reset windows, and the per-process backstop's rolling day."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.sdk.errors import QuotaExhaustedError
from connectors.sdk.limits import AccountLimiter, RatePolicy
from renkei.ops.quota import AccountQuota, SyncQuota, budget_config, pause_reason
from renkei.project import Project, ProjectError, write_project


def _project(tmp_path: Path, marketo: dict[str, Any], syncs: Any = None) -> Path:
    (tmp_path / "mappings").mkdir(exist_ok=True)
    settings: dict[str, Any] = {"mappings": "mappings", "connections": {"marketo": {
        "type": "marketo", "config": {"base_url": "https://x.mktorest.com"}, **marketo}}}
    if syncs is not None:
        settings["syncs"] = syncs
    return write_project(tmp_path / "renkei.yaml", settings)


@pytest.mark.parametrize("marketo, syncs, message", [
    ({"quota": {"daily": -5}}, None,
     "connections.marketo.quota.daily: must be a whole number of calls >= 0"),
    ({"quota": {"pause_low_priority_at": 80}}, None,
     "connections.marketo.quota.pause_low_priority_at: must be more than 0 and at most 1"),
    ({"quota": {"pause_low_priority_at": "0.9", "pause_normal_priority_at": "50%"}}, None,
     "connections.marketo.quota.pause_low_priority_at: must be a share such as 0.8"),
    ({"quota": {"pause_low_priority_at": 0.9, "pause_normal_priority_at": "50%"}}, None,
     ("connections.marketo.quota.pause_low_priority_at: must not be above "
      "pause_normal_priority_at")),
    ({"quota": {"daliy": 5}}, None, "connections.marketo.quota.daliy: unknown setting"),
    ({"quota": {"resets": "24:00 America/Chicago"}}, None,
     "connections.marketo.quota.resets: '24:00 America/Chicago' is not a time of day"),
    ({"quota": {"resets": "00:00 Mars/Olympus"}}, None,
     "connections.marketo.quota.resets: unknown time zone 'Mars/Olympus'"),
    ({}, {"marketo-leads": {"priority": "urgent"}},
     "syncs.marketo-leads.priority: must be one of high, normal, low (got 'urgent')"),
    ({}, {"marketo-leads": {"allocation": 0.2}},
     "syncs.marketo-leads.allocation: must be a whole number of calls > 0 or a share"),
    ({}, {"marketo-leads": {"allocation": "120%"}},
     "syncs.marketo-leads.allocation: must be more than 0 and at most 1 (100%)"),
    ({}, {"marketo-leads": {"prio": "low"}}, "syncs.marketo-leads.prio: unknown setting"),
])
def test_bad_quota_settings_name_the_file_and_key(tmp_path: Path, marketo: dict[str, Any],
                                                  syncs: Any, message: str) -> None:
    path = _project(tmp_path, marketo, syncs)
    with pytest.raises(ProjectError) as err:
        Project.load(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_syncs_naming_no_mapping_is_an_error_before_any_sync(tmp_path: Path) -> None:
    project = Project.load(_project(tmp_path, {}, {"marketo-leeds": {"priority": "low"}}))
    with pytest.raises(ProjectError, match=r"syncs\.marketo-leeds: no mapping of that name"):
        budget_config(project)


def test_older_daily_quota_setting_and_connector_default_still_set_the_budget(
        tmp_path: Path) -> None:
    old = Project.load(_project(tmp_path, {"config": {"daily_quota": 1234}}))
    assert budget_config(old).accounts["marketo"].daily == 1234
    default = Project.load(_project(tmp_path, {}))
    assert budget_config(default).accounts["marketo"].daily == 50_000  # Marketo's spec
    new = Project.load(_project(tmp_path, {"config": {"daily_quota": 1234},
                                           "quota": {"daily": 900, "resets": "rolling"}}))
    acct = budget_config(new).accounts["marketo"]
    assert (acct.daily, acct.pause_low_at, acct.pause_normal_at) == (900, 0.8, 0.95)


def test_connections_of_one_account_must_agree(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    conn = {"type": "marketo", "config": {"base_url": "https://x.mktorest.com"}}
    write_project(tmp_path / "renkei.yaml", {"connections": {
        "a": {**conn, "quota": {"account": "sub", "daily": 100}},
        "b": {**conn, "quota": {"account": "sub", "daily": 200}}}})
    with pytest.raises(ProjectError, match=r"connections\.b\.quota\.daily: 200 differs from "
                                           r"100 in connections\.a\.quota"):
        budget_config(Project.load(tmp_path))


def test_priorities_pause_at_their_levels_and_allocations_cap_one_mapping() -> None:
    acct = AccountQuota("mk", ("marketo",), 50_000)
    low, normal, high = SyncQuota("a", "low"), SyncQuota("b"), SyncQuota("c", "high")
    assert pause_reason(acct, 39_999, low, 0) is None
    assert pause_reason(acct, 41_000, low, 0) == "paused: quota 82% of 50,000 used"
    assert pause_reason(acct, 41_000, normal, 0) is None
    assert pause_reason(acct, 47_500, normal, 0) == "paused: quota 95% of 50,000 used"
    assert pause_reason(acct, 49_999, high, 0) is None
    assert pause_reason(acct, 50_000, high, 0) == "paused: quota 100% of 50,000 used"
    capped = SyncQuota("d", "high", share=0.1)
    assert pause_reason(acct, 10_000, capped, 4_999) is None
    assert pause_reason(acct, 10_000, capped, 5_000) == \
        "paused: allocation 100% of 5,000 used (d)"


def test_a_vendor_reset_time_starts_the_window_at_the_last_reset() -> None:
    acct = AccountQuota("mk", ("marketo",), 100, resets="00:00 America/Chicago")
    # 03:00 UTC on 2 May is 22:00 CDT on 1 May: the window began at 05:00 UTC on 1 May.
    assert acct.window_start(datetime(2024, 5, 2, 3, 0, tzinfo=UTC)) == \
        datetime(2024, 5, 1, 5, 0, tzinfo=UTC)
    assert acct.window_start(datetime(2024, 5, 2, 6, 0, tzinfo=UTC)) == \
        datetime(2024, 5, 2, 5, 0, tzinfo=UTC)
    rolling = AccountQuota("mk", ("marketo",), 100)
    assert rolling.window_start(datetime(2024, 5, 2, 6, 0, tzinfo=UTC)) == \
        datetime(2024, 5, 1, 6, 0, tzinfo=UTC)


def test_the_per_process_backstop_counts_a_rolling_day_not_since_start() -> None:
    now = [1_000_000.0]
    limiter = AccountLimiter(RatePolicy(daily_quota=2), clock=lambda: now[0],
                             sleep=lambda s: None)
    for _ in range(2):
        with limiter.slot():
            pass
    with pytest.raises(QuotaExhaustedError), limiter.slot():
        pass
    now[0] += 23 * 3600
    assert limiter.used_today == 2
    now[0] += 2 * 3600  # a day after those calls, a long-lived worker may call again
    assert limiter.used_today == 0
    with limiter.slot():
        pass
    assert limiter.used_today == 1
