"""The API quota budget one Marketo account shares between every sync and every process
(issue #8): low priority pauses at 80 %, high priority goes on, one event per crossing
(deduplicated through the store), a paused sync resumes after the window and loses nothing,
and `renkei status` shows it. Real Marketo emulator over HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from renkei.cli import main as renkei_main
from renkei.engine.runner import SyncRunner
from renkei.engine.stats import RunSummary
from renkei.project import Project, write_project
from renkei.store import Store
from renkei.store import schema as t
from sandbox.core.server import EmulatorServer
from sandbox.marketo.app import MarketoEmulator
from sandbox.marketo.config import MarketoConfig

REPO = Path(__file__).resolve().parents[2]
SIZE = 200  # leads: 10 lead-change pages of 20, two calls each
CONNECTIONS = {"mk-high": "marketo", "mk-low": "marketo-bulk"}  # one Marketo subscription
MAPPING = """name: {name}
connection: {connection}
stream: leads
entity: lead
system_modified: updatedAt
match:
  - name: email
    fields: [email]
    normalize: email
conflict:
  default: newest_wins
fields:
  email: {{system: email, transform: [trim, lower], direction: in}}
  last_name: {{system: lastName, transform: [trim], direction: in}}
  title: {{system: title, direction: in}}
"""


class Marketo:
    """The emulator, its server and a project with two connections to it (one vendor
    account, one budget: ``quota.account``), each with one lead mapping."""

    def __init__(self, tmp: Path, db_url: str):
        self.munchkin = f"quota-{tmp.name}"[:40]
        self.app = MarketoEmulator(MarketoConfig(size=SIZE, seed=5, munchkin_id=self.munchkin))
        self.server = EmulatorServer(self.app.asgi(), name="marketo")
        self.root, self.db_url = tmp / "project", db_url
        (self.root / "mappings").mkdir(parents=True)
        for name in ("mk-high", "mk-low"):
            (self.root / "mappings" / f"{name}.yaml").write_text(
                MAPPING.format(name=name, connection=CONNECTIONS[name]))

    def configure(self, quota: dict[str, Any], syncs: dict[str, Any]) -> None:
        creds = self.app.credentials()
        config = {"base_url": self.server.url, "client_id": creds["client_id"],
                  "client_secret": creds["client_secret"], "munchkin_id": self.munchkin,
                  "page_size": 20}
        write_project(self.root / "renkei.yaml", {
            "database": self.db_url, "mappings": "mappings", "rules": "no-rules",
            "connections": {name: {"type": "marketo", "config": config,
                                   "quota": {**quota, "account": "mk-sub"}}
                            for name in ("marketo", "marketo-bulk")},
            "syncs": syncs})

    def sync(self, mapping: str) -> RunSummary:
        """One run of one mapping in a fresh project (its own connector and budget)."""
        project = Project.load(self.root)
        store = Store.open(project.database_url)
        try:
            return SyncRunner(project, store).sync("lead", mappings=[mapping])
        finally:
            store.close()
            project.close()

    def store(self) -> Store:
        return Store.open(self.db_url)


@pytest.fixture
def marketo(tmp_path: Path, db_url: str) -> Iterator[Marketo]:
    m = Marketo(tmp_path, db_url)
    m.server.start()
    Store.open(db_url).close()  # the schema, before any process races to create it
    yield m
    m.server.stop()


@pytest.fixture
def prefect_events() -> Iterator[Callable[[], list[Any]]]:
    """Prefect events emitted in this process, through Prefect's own asserting client."""
    from prefect.events.clients import AssertingEventsClient
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    AssertingEventsClient.reset()
    EventsWorker.set_client_override(AssertingEventsClient)

    def emitted() -> list[Any]:
        EventsWorker.drain_all()
        return [e for c in AssertingEventsClient.all for e in getattr(c, "events", [])]

    try:
        with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
            yield emitted
    finally:
        EventsWorker.drain_all()
        EventsWorker.set_client_override(None)
        AssertingEventsClient.reset()


def _ledger_total(store: Store) -> int:
    with store.transaction() as tx:
        return int(tx.conn.execute(select(func.count()).select_from(t.api_calls)).scalar_one())


def _quota_after_full_read(m: Marketo) -> int:
    """Run the high-priority sync once without a budget worth the name, then size the quota
    so that 80 % falls a few pages into the low-priority sync's first read."""
    m.configure({"daily": 1_000_000}, {"mk-high": {"priority": "high"},
                                      "mk-low": {"priority": "low"}})
    first = m.sync("mk-high")
    assert first.status == "completed", [s.error for s in first.stats]
    store = m.store()
    try:
        used = _ledger_total(store)
    finally:
        store.close()
    daily = math.ceil((used + 6) / 0.8)
    m.configure({"daily": daily, "pause_low_priority_at": "80%"},
                {"mk-high": {"priority": "high"}, "mk-low": {"priority": "low"}})
    return daily


def _paused_percent(error: str | None, daily: int) -> int:
    found = re.fullmatch(rf"paused: quota (\d+)% of {daily:,} used", error or "")
    assert found, error
    return int(found.group(1))


def _age_ledger(m: Marketo) -> None:
    """A day passes: every call so far leaves the rolling window."""
    store = m.store()
    try:
        with store.transaction() as tx:
            tx.conn.execute(update(t.api_calls).values(at="2000-01-01T00:00:00.000000Z"))
            tx.conn.execute(update(t.runs).values(finished_at="2000-01-01T00:00:00.000000Z"))
    finally:
        store.close()


def test_low_priority_pauses_at_80_percent_high_goes_on_and_paused_resumes_losing_nothing(
        marketo: Marketo, prefect_events: Callable[[], list[Any]]) -> None:
    m = marketo
    daily = _quota_after_full_read(m)

    low = m.sync("mk-low").get("mk-low", "in")
    assert _paused_percent(low.error, daily) >= 80
    linked, cursor = _links_and_cursor(m, "mk-low")
    assert 0 < linked < SIZE, "paused part-way, after the pages it committed"
    [event] = prefect_events()
    assert event.event == "renkei.quota.threshold"
    assert event.resource.id == "renkei.connection.marketo-bulk"  # whose check saw it
    assert event.resource["renkei.account"] == "mk-sub"
    assert event.payload["paused_mappings"] == ["mk-low"]
    assert event.payload["quota"] == daily and event.payload["percent"] >= 80

    # A later run of the low-priority sync makes no call, moves nothing, announces nothing.
    calls = len(m.app.calls)
    again = m.sync("mk-low")
    assert _paused_percent(again.get("mk-low", "in").error, daily) >= 80
    assert again.status == "partial" and len(m.app.calls) == calls
    assert _links_and_cursor(m, "mk-low") == (linked, cursor)
    assert len(prefect_events()) == 1

    # High priority goes on above 80 %: a salesperson-relevant edit still arrives.
    changed = _edit_titles(m)
    high = m.sync("mk-high")
    assert high.status == "completed", [s.error for s in high.stats]
    assert _hub_titles(m, changed) == {email: "部長" for email in changed}
    store = m.store()
    try:
        assert _ledger_total(store) >= 0.8 * daily
    finally:
        store.close()

    # The window rolls on: the paused sync resumes from its cursor and gets every lead.
    _age_ledger(m)
    resumed = m.sync("mk-low")
    assert resumed.status == "completed", [s.error for s in resumed.stats]
    assert _links_and_cursor(m, "mk-low")[0] == SIZE
    store = m.store()
    try:
        with store.transaction() as tx:
            assert tx.records.count("lead") == SIZE, "no lead lost, none duplicated"
    finally:
        store.close()
    assert [e.event for e in prefect_events()] == ["renkei.quota.threshold"]


def _links_and_cursor(m: Marketo, mapping: str) -> tuple[int, Any]:
    store = m.store()
    try:
        with store.transaction() as tx:
            return tx.links.count(mapping), tx.cursors.get(mapping, "in")
    finally:
        store.close()


def _edit_titles(m: Marketo) -> list[str]:
    leads, _ = m.app.list_records("leads", offset=0, limit=3)
    for lead in leads:
        m.app.edit_record("leads", str(lead["id"]), {"title": "部長"})
    return [str(lead["email"]).strip().lower() for lead in leads]


def _hub_titles(m: Marketo, emails: list[str]) -> dict[str, Any]:
    store = m.store()
    try:
        with store.transaction() as tx:
            rows = tx.conn.execute(select(t.records.c.data).where(t.records.c.entity == "lead"))
            found = {str(r.data.get("email")): r.data.get("title") for r in rows}
    finally:
        store.close()
    return {e: found.get(e) for e in emails}


def _worker(m: Marketo, mapping: str) -> dict[str, Any]:
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    done = subprocess.run([sys.executable, "-m", "tests.ops.quota_worker", str(m.root), mapping],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_another_process_shares_the_budget_the_event_once_and_status_shows_it(
        marketo: Marketo, prefect_events: Callable[[], list[Any]],
        capsys: pytest.CaptureFixture[str]) -> None:
    m = marketo
    daily = _quota_after_full_read(m)

    # A separate process runs the low-priority sync: it sees this process's calls in the
    # store's ledger, pauses at 80 % and announces the crossing.
    child = _worker(m, "mk-low")
    [row] = child["stats"]
    pct = _paused_percent(row["error"], daily)
    assert pct >= 80 and 0 < row["api_calls"]
    assert [(e["event"], e["payload"]["paused_mappings"]) for e in child["events"]] == [
        ("renkei.quota.threshold", ["mk-low"])]

    # Here, the crossing is already claimed in the store: paused, and no second event.
    here = m.sync("mk-low")
    assert _paused_percent(here.get("mk-low", "in").error, daily) >= 80
    assert prefect_events() == []
    high = m.sync("mk-high")
    assert high.status == "completed", [s.error for s in high.stats]

    capsys.readouterr()
    assert renkei_main(["--project", str(m.root), "status"]) == 0
    out = capsys.readouterr().out
    store = m.store()
    try:
        used = _ledger_total(store)
    finally:
        store.close()
    assert f"mk-sub           {used:,} / {daily:,} ({100 * used // daily}%)" in out
    budget = out.split("API budget per account", 1)[1].splitlines()
    low_line = next(line for line in budget if line.strip().startswith("mk-low"))
    assert re.search(rf"low .* PAUSED \(quota {100 * used // daily}% of {daily:,} used\)",
                     low_line), low_line
    high_line = next(line for line in budget if line.strip().startswith("mk-high"))
    assert "high" in high_line and "PAUSED" not in high_line
    # the per-connection lines count each connection's calls against the shared account
    assert re.search(rf"marketo-bulk +\d+; account mk-sub: {used} of {daily} ", out), out


def test_a_sync_over_its_allocation_pauses_though_the_account_has_room(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = Marketo(tmp_path, f"sqlite:///{tmp_path / 'renkei.db'}")
    m.server.start()
    try:
        m.configure({"daily": 1_000_000}, {"mk-low": {"priority": "high", "allocation": 8}})
        first = m.sync("mk-low").get("mk-low", "in")
        assert re.fullmatch(r"paused: allocation \d+% of 8 used \(mk-low\)", first.error or "")
        assert 8 <= first.api_calls < 20, "stopped at the first page past its allocation"
        calls = len(m.app.calls)
        again = m.sync("mk-low").get("mk-low", "in")
        assert again.error == first.error and len(m.app.calls) == calls  # counted across runs
        assert m.sync("mk-high").status == "completed"  # the account itself has room

        capsys.readouterr()
        assert renkei_main(["--project", str(m.root), "status"]) == 0
        out = capsys.readouterr().out
        pct = 100 * first.api_calls // 8
        budget = out.split("API budget per account", 1)[1]
        assert re.search(rf"mk-low +high +{first.api_calls} calls of 8 allocated \({pct}%\)  "
                         rf"PAUSED \(allocation {pct}% of 8 used \(mk-low\)\)", budget), out
    finally:
        m.server.stop()
