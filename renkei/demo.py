"""``renkei demo``: the whole loop on the embedded defaults.

The demo starts the Marketo and Salesforce emulators (2,000 Marketo leads, 500 Salesforce
leads, 200 of them the same people, some spelled differently), a Prefect server with its UI
on SQLite, and a project in ``.renkei/demo``; it syncs, edits records on both sides as users
would (one field on each side, the same field on both, a value that becomes blank, an
invalid value, a change that Salesforce rejects as a duplicate), syncs again and reports.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _pick_port(preferred: int) -> int:
    candidates: list[int] = [preferred, *range(preferred + 1, preferred + 50)]
    for port in candidates:
        if _free(port):
            return port
    return 0


@dataclass
class PrefectServer:
    """A ``prefect server start`` subprocess with the UI, its state under the workdir."""

    home: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)
    _log_file: Any = field(default=None, init=False, repr=False)

    def start(self) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        self.log = self.home / "server.log"
        env = {**os.environ, "PREFECT_HOME": str(self.home), "DO_NOT_TRACK": "1",
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
               "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "100"}
        env.pop("PREFECT_API_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(self.port)], env=env, stdout=self._open_log(),
            stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Prefect server exited; see {self.log}")
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the Prefect server did not answer in 120 s; see {self.log}")

    def _open_log(self) -> Any:
        self._log_file = self.log.open("wb")
        return self._log_file

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _linked_pairs(store: Any) -> list[tuple[int, str, str]]:
    """(hub id, Marketo id, Salesforce id) of people linked in both systems."""
    from sqlalchemy import select

    from renkei.store.schema import links

    with store.transaction() as tx:
        rows = tx.conn.execute(select(links.c.mapping, links.c.system_id, links.c.record_id))
        by: dict[int, dict[str, str]] = {}
        for mapping, sid, rid in rows:
            by.setdefault(rid, {})[mapping] = sid
    return sorted((rid, d["marketo-leads"], d["salesforce-leads"]) for rid, d in by.items()
                  if "marketo-leads" in d and "salesforce-leads" in d)


@dataclass
class DemoOutcome:
    """What a demo run did, for tests to check record by record."""

    marketo: Any
    salesforce: Any
    store_url: str
    pairs: list[tuple[int, str, str]]
    new_marketo_id: str
    last_sync_writes: int
    results: list[dict[str, Any]]
    viewers: Viewers


def run_demo(*, workdir: Path, exit_when_done: bool, ui: bool, port: int,
             on_done: Callable[[DemoOutcome], None] | None = None) -> int:
    """Run the demo; ``on_done`` sees the emulators and the store before they stop."""
    from sandbox.brightcove import BrightcoveConfig, BrightcoveEmulator
    from sandbox.core.server import EmulatorServer
    from sandbox.core.tls import make_tls
    from sandbox.kintone import API_TOKENS, KintoneEmulator, KintoneSettings
    from sandbox.marketo.app import MarketoEmulator
    from sandbox.marketo.config import MarketoConfig
    from sandbox.salesforce import SalesforceEmulator, SalesforceSettings
    from sandbox.zoom import ZoomConfig, ZoomEmulator

    workdir = workdir.resolve()
    for stale in ("renkei.db", "renkei.db-wal", "renkei.db-shm"):
        (workdir / stale).unlink(missing_ok=True)
    shutil.rmtree(workdir / "tls", ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print("renkei demo — Marketo ⇄ hub ⇄ Salesforce, kintone, on local emulators\n", flush=True)

    marketo = MarketoEmulator(MarketoConfig(size=2000, seed=42))
    salesforce = SalesforceEmulator(SalesforceSettings(size=500, seed=42, marketo_size=2000))
    kintone = KintoneEmulator(KintoneSettings(size=2000, seed=42))
    zoom = ZoomEmulator(ZoomConfig(seed=42))
    brightcove = BrightcoveEmulator(BrightcoveConfig(size=2000, seed=42))
    tls = make_tls(workdir / "tls")
    servers = [EmulatorServer(marketo.asgi(), name="marketo", port=_pick_port(18081)),
               EmulatorServer(salesforce.asgi(), name="salesforce", port=_pick_port(18443), tls=tls),
               EmulatorServer(kintone.asgi(), name="kintone", port=_pick_port(18070)),
               EmulatorServer(zoom.asgi(), name="zoom", port=_pick_port(18093)),
               EmulatorServer(brightcove.asgi(), name="brightcove", port=_pick_port(18095))]
    prefect: PrefectServer | None = None
    try:
        for s in servers:
            s.start()
        mk_url, sf_url, kn_url, zm_url, bc_url = (s.url for s in servers)
        print(f"  sandbox   marketo {mk_url} (2,000 leads) · salesforce {sf_url} (500 leads, "
              "200 of them also in Marketo)\n"
              f"            kintone {kn_url} (リードマスタ: 400 people sales already know; "
              "アラート: empty)\n"
              f"            zoom {zm_url} (webinars and attendees) · brightcove {bc_url} "
              "(on-demand seminar views)", flush=True)
        ui_url = None
        if ui:
            prefect = PrefectServer(workdir / "prefect", _pick_port(port))
            print("  prefect   starting a Prefect server with its UI ...", flush=True)
            ui_url = prefect.start()
            os.environ["PREFECT_API_URL"] = f"{ui_url}/api"
            print(f"  prefect   UI at {ui_url}", flush=True)
        mk, sf, zm, bc = (marketo.credentials(), salesforce.credentials(), zoom.credentials(),
                          brightcove.credentials())
        from renkei.project import write_project

        write_project(workdir / "renkei.yaml", {
            "database": f"sqlite:///{workdir / 'renkei.db'}",
            "mappings": str(REPO / "mappings"),
            "ca_bundle": str(tls.ca_path),
            "connections": {
                "marketo": {"type": "marketo", "config": {
                    "base_url": mk_url, "client_id": mk["client_id"],
                    "client_secret": mk["client_secret"], "munchkin_id": f"demo-{mk_url}"}},
                "salesforce": {"type": "salesforce", "config": {
                    "login_url": sf_url, "client_id": sf["client_id"],
                    "client_secret": sf["client_secret"], "external_id_field": "Renkei_Id__c",
                    "streams": ["Lead", "Opportunity", "Task"]}},
                "kintone": {"type": "kintone", "config": {
                    "base_url": kn_url,
                    "api_token": ",".join(API_TOKENS[i] for i in (1, 2, 3, 4)),
                    "apps": {"leads": 1, "alerts": 2, "deals": 3, "activities": 4}}},
                "zoom": {"type": "zoom", "config": {
                    "account_id": zm["account_id"], "client_id": zm["client_id"],
                    "client_secret": zm["client_secret"], "base_url": f"{zm_url}/v2",
                    "oauth_url": f"{zm_url}/oauth/token"}},
                "brightcove": {"type": "brightcove", "config": {
                    "account_id": bc["account_id"], "client_id": bc["client_id"],
                    "client_secret": bc["client_secret"], "oauth_url": bc_url,
                    "cms_url": bc_url, "analytics_url": bc_url}},
            },
            "rules": str(REPO / "mappings" / "rules"),
        })
        return _scenario(workdir, marketo, salesforce, kintone, ui_url, exit_when_done,
                         started, on_done)
    finally:
        for s in servers:
            s.stop()
        if prefect:
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)  # ship the last run logs while the server is up
            prefect.stop()


def _sync(workdir: Path) -> tuple[dict[str, Any], str | None]:
    """A full sync as ``renkei sync`` runs it: one flow run per entity, in sync order (leads,
    activities, deals, alerts). The result is the lead run's, with the other runs' mapping
    rows appended and their rules counts added."""
    from flows.sync import sync_entity
    from renkei.project import Project

    entities = Project.load(workdir).entities()
    state = sync_entity(entity="lead", project=str(workdir), return_state=True)
    result: dict[str, Any] = state.result()
    for entity in (e for e in entities if e != "lead"):
        other: dict[str, Any] = sync_entity(entity=entity, project=str(workdir))
        result["mappings"] = [*result["mappings"], *other["mappings"]]
        for key, value in (other.get("rules") or {}).items():
            if isinstance(value, int):
                result["rules"][key] = result["rules"].get(key, 0) + value
        if other["status"] != "completed":
            result["status"] = other["status"]
    return result, str(state.state_details.flow_run_id)


def _print_rules(result: dict[str, Any]) -> None:
    r = result.get("rules") or {}
    if r:
        print(f"  rules: {r.get('qualified', 0)} qualified as MQL, {r.get('routed', 0)} routed, "
              f"{r.get('alerts_created', 0)} alerts created "
              f"({r.get('alerts_suppressed', 0)} held back by owners' preferences)")


def _print_handoff(workdir: Path, kintone: Any) -> None:
    """Teams in the kintone lead master, and one routing decision explained."""
    from collections import Counter

    from renkei.project import Project
    from renkei.rules import explain_route
    from renkei.store import Store

    leads, _ = kintone.list_records("1", offset=0, limit=1_000_000)
    teams = Counter(str((r.get("担当チーム") or {}).get("value") or "-") for r in leads)
    alerts, _ = kintone.list_records("2", offset=0, limit=1_000_000)
    print(f"  kintone リードマスタ: {len(leads)} records; by team: "
          + ", ".join(f"{t} {n}" for t, n in teams.most_common()))
    print(f"  kintone アラート: {len(alerts)} alerts for their owners")
    routed = [r for r in leads if (r.get("振り分け理由") or {}).get("value")]
    if not routed:
        return
    email = str(routed[0]["メールアドレス"]["value"])
    project = Project.load(workdir)
    store = Store.open(project.database_url)
    try:
        rules = project.rules()
        if rules is not None:
            with store.transaction() as tx:
                lines = explain_route(rules, tx, email).lines
            print(f"  why (renkei --project {workdir} route --explain <email>):")
            for line in lines[:12]:
                print(f"    {mask_line(line)}")
    finally:
        store.close()
        project.close()


@dataclass(frozen=True)
class Viewers:
    """On-demand viewers who watched 80 % or more, and what the rules made of them (hub ids)."""

    watched: frozenset[int]
    """Leads of the people with a video view of ≥ 80 %."""
    by_video: frozenset[int]
    """Of those, the leads the video rule qualified (MQL, reason ``on_demand_seminar``)."""
    with_sales: frozenset[int]
    """Of those, the leads already MQL or further on by another rule before the view."""
    below: frozenset[int]
    """Of those, the leads still with marketing: attribute score under the rule's 20."""
    alerted: frozenset[int]
    """Of those, the leads with a ``video_watched`` alert for their owner."""


def viewers_of(store: Any) -> Viewers:
    """The ≥ 80 % viewers' leads, their stages and alerts, from the hub."""
    from renkei.mapping.normalize import email_key

    with store.transaction() as tx:
        views = [a.data for a in tx.records.page("activity", limit=1_000_000)
                 if a.data.get("type") == "video_viewed"
                 and float(a.data.get("percent") or 0) >= 80 and a.data.get("email")]
        leads = tx.records.page("lead", limit=1_000_000)
        alerts = tx.records.page("alert", limit=1_000_000)
    emails = {email_key(str(v["email"])) for v in views}
    watched = {r.id: r.data for r in leads
               if r.data.get("email") and email_key(str(r.data["email"])) in emails}
    sales = {"mql", "sql", "opportunity", "customer"}
    by_video = {i for i, d in watched.items() if d.get("lifecycle_stage") == "mql"
                and str(d.get("qualification_reason") or "").startswith("on_demand_seminar:")}
    return Viewers(
        watched=frozenset(watched),
        by_video=frozenset(by_video),
        with_sales=frozenset(i for i, d in watched.items()
                             if d.get("lifecycle_stage") in sales and i not in by_video),
        below=frozenset(i for i, d in watched.items() if d.get("lifecycle_stage") not in sales
                        and int(d.get("attribute_score") or 0) < 20),
        alerted=frozenset(int(a.data["lead_id"]) for a in alerts
                          if a.data.get("rule") == "video_watched" and a.data.get("lead_id")))


def _print_viewers(store: Any) -> Viewers:
    v = viewers_of(store)
    print(f"  on-demand seminar: {len(v.watched)} people watched 80 % or more → "
          f"{len(v.by_video)} MQL by the video rule, {len(v.with_sales)} already with sales, "
          f"{len(v.below)} stay in nurture (attribute score under 20: the cross score); "
          f"{len(v.alerted & v.watched)} owners alerted (video_watched)")
    return v


def _print_outcomes(store: Any, marketo: Any, workdir: Path) -> None:
    """Deal outcomes back to marketing, and the closed-loop report."""
    from collections import Counter

    from renkei.report import build_report, write_outputs

    with store.transaction() as tx:
        leads = tx.records.page("lead", limit=1_000_000)
        deals = tx.records.page("deal", limit=1_000_000)
    stages = Counter(str(r.data.get("lifecycle_stage") or "-") for r in leads)
    won = sum(1 for d in deals if d.data.get("is_won"))
    lost = sum(1 for d in deals if d.data.get("is_closed") and not d.data.get("is_won"))
    reasons = Counter(str(r.data.get("recycle_reason")) for r in leads
                      if r.data.get("lifecycle_stage") == "recycled" and r.data.get("recycle_reason"))
    print(f"\n6) outcomes back to marketing: {len(deals)} deals ({won} won, {lost} lost) → "
          f"{stages.get('customer', 0)} customers, {stages.get('recycled', 0)} recycled; "
          f"Marketo list リサイクル・ナーチャリング holds {len(marketo.lists.members(1001))} people")
    if reasons:
        print("   recycled because: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common(5)))
    report = build_report(store)
    paths = write_outputs(report, workdir / "report")
    first = report.tables[0]
    print(f"\n7) closed-loop report ({len(paths)} files in {workdir / 'report'}): "
          f"{first.title}")
    print(f"   {'':<20}{'leads':>7}{'MQL':>6}{'SQL':>6}{'won':>5}{'won ¥':>14}")
    for row in (*first.rows[:8], first.total):
        print(f"   {row.label[:20]:<20}{first.count(row.leads):>7}{first.count(row.mql):>6}"
              f"{first.count(row.sql):>6}{first.count(row.won):>5}{row.won_amount:>14,}")


def mask_line(line: str) -> str:
    from renkei.redact import mask_text

    return mask_text(line)


def _print_run(title: str, result: dict[str, Any]) -> None:
    print(f"\n{title}: {result['status']}")
    print(f"  {'mapping':<26}{'dir':<5}{'read':>6}{'created':>9}{'updated':>9}{'unchanged':>11}"
          f"{'conflicts':>11}{'failed':>8}{'API calls':>11}")
    for r in result["mappings"]:
        print(f"  {r['mapping']:<26}{r['direction']:<5}{r['read']:>6}{r['created']:>9}"
              f"{r['updated']:>9}{r['unchanged']:>11}{r['conflicts']:>11}{r['failed']:>8}"
              f"{r['api_calls']:>11}")


def _scenario(workdir: Path, marketo: Any, salesforce: Any, kintone: Any, ui_url: str | None,
              exit_when_done: bool, started: float,
              on_done: Callable[[DemoOutcome], None] | None) -> int:
    from renkei.redact import mask_text
    from renkei.store import Store

    print("\n1) first sync: everyone in both systems, the 200 shared people matched, not copied;\n"
          "   qualified leads (cross score per channel) routed to a team and owner, handed to the\n"
          "   kintone lead master with the reason, and their owners alerted", flush=True)
    first, run1 = _sync(workdir)
    _print_run("sync 1", first)
    _print_rules(first)
    store = Store.open(f"sqlite:///{workdir / 'renkei.db'}")
    viewers = _print_viewers(store)
    _print_handoff(workdir, kintone)

    pairs = _linked_pairs(store)
    (_, m0, _), (_, _, s1), (_, m2, s2), (_, m3, s3), (_, _, s4), (_, m5, _), (_, m6, _), \
        (_, m7, _) = pairs[:8]
    other_sf_email = salesforce.get_record("Lead", pairs[8][2])["Email"]
    print("\n2) users edit both systems:", flush=True)
    edits = [
        ("marketo", m0, {"title": "マーケティング部長"}, "title changed in Marketo only"),
        ("salesforce", s1, {"Phone": "03-5555-0101"}, "phone changed in Salesforce only"),
        ("marketo", m2, {"company": "株式会社サクラ精機ホールディングス"}, "company renamed in Marketo ..."),
        ("salesforce", s2, {"Company": "サクラ精機グループ株式会社"}, "... and differently in Salesforce"),
        ("marketo", m3, {"title": "課長"}, "title set in Marketo ..."),
        ("salesforce", s3, {"Title": "部長"}, "... and later in Salesforce (newest wins)"),
        ("salesforce", s4, {"Title": ""}, "title blanked in Salesforce"),
        ("marketo", m5, {"email": other_sf_email}, "email changed to another person's in Marketo"),
        ("marketo", m6, {"state": "トウキョウ"}, "prefecture typed wrong in Marketo"),
        ("marketo", m7, {"leadScore": 95}, "score raised by Marketo"),
    ]
    for system, rid, changes, why in edits:
        if "newest wins" in why:
            # The vendors stamp whole seconds: the edit that must be newer comes a second
            # later, so "newest" is well defined.
            time.sleep(1.05)
        if system == "marketo":
            marketo.edit_record("leads", rid, changes)
        else:
            salesforce.edit_record("Lead", rid, changes)
        time.sleep(0.01)
        print(f"   - {system:<10} {why}")
    new = marketo.create_record("leads", {"email": "newcomer@renkei-demo.co.jp", "lastName": "新井",
                                          "firstName": "春香", "company": "(株)レンケイ商事",
                                          "leadSource": "ウェビナー"})
    print(f"   - marketo    a new lead arrives from a webinar (id {new['id']})")

    print("\n3) second sync", flush=True)
    second, run2 = _sync(workdir)
    _print_run("sync 2", second)

    print("\n3b) two more syncs with no edits: the first still carries values Salesforce filled "
          "in on create (owner, defaults); the second must write nothing", flush=True)
    third, _ = _sync(workdir)
    fourth, run3 = _sync(workdir)
    writes3 = sum(r["created"] + r["updated"] for r in fourth["mappings"] if r["direction"] == "out")
    print(f"   writes in the last sync: {writes3}")

    with store.transaction() as tx:
        conflicts = tx.conflicts.list()
        letters = tx.dead_letters.all_open()
    print("\n4) what needs a person:")
    for c in conflicts:
        print(f"   conflict #{c.id}: {c.field} of hub lead {c.record_id} — hub {c.hub_value!r} "
              f"vs {c.mapping} {c.system_value!r}  (renkei conflicts resolve {c.id} --take system)")
    for d in letters:
        print(f"   failed: {d.mapping} {d.direction} {mask_text(d.item_key)} [{d.category}] "
              f"{mask_text(d.message)[:160]}")
    with store.transaction() as tx:  # the api_calls table: every call of every run
        ledger = {conn: sum(kinds.values()) for conn, kinds in tx.ledger.usage(since="").items()}
    print(f"\n5) API calls over the four syncs — renkei's ledger: marketo {ledger.get('marketo')}, "
          f"salesforce {ledger.get('salesforce')}; the emulators counted: marketo "
          f"{len(marketo.calls)}, salesforce {len(salesforce.calls)}")
    print(f"   Salesforce's phone edit reached Marketo as "
          f"{marketo.get_record('leads', pairs[1][1])['phone']}")
    _print_outcomes(store, marketo, workdir)
    store.close()
    if on_done is not None:
        on_done(DemoOutcome(marketo, salesforce, f"sqlite:///{workdir / 'renkei.db'}", pairs,
                            str(new["id"]), writes3, [first, second, third, fourth], viewers))
    print(f"\nfinished in {time.monotonic() - started:.0f} s. Project: {workdir / 'renkei.yaml'} "
          f"(try: renkei --project {workdir} status)")
    if ui_url:
        for name, run in (("sync 1", run1), ("sync 2", run2), ("last sync", run3)):
            print(f"  {name}: {ui_url}/runs/flow-run/{run}")
        print(f"  artifacts: {ui_url}/artifacts")
        if not exit_when_done:
            print("\nThe UI stays up until Ctrl-C.", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0 if second["status"] == "completed" and writes3 == 0 else 1
