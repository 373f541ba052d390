"""Shared helpers of the fault, crash and security suites: a small two-emulator world over
real HTTP, and the convergence check (hub and both systems agree field by field, nobody lost,
nobody duplicated)."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from renkei.engine.merge import field_equality, same
from renkei.engine.runner import SyncRunner
from renkei.engine.stats import RunSummary
from renkei.mapping import normalize_key
from renkei.project import Project
from renkei.store import Store
from renkei.store.schema import links
from sandbox.core.faults import FaultRule
from sandbox.core.server import EmulatorServer
from sandbox.core.tls import TLSFiles, make_tls
from sandbox.marketo.app import MarketoEmulator
from sandbox.marketo.config import MarketoConfig
from sandbox.salesforce import SalesforceEmulator, SalesforceSettings
from tests.tally import TALLY

REPO = Path(__file__).resolve().parents[2]
MK, SF = "marketo-leads", "salesforce-leads"
#: 60 Marketo and 40 Salesforce leads; 40% of the Salesforce ones (16) are Marketo people.
MK_SIZE, SF_SIZE, SHARED = 60, 40, 16
PEOPLE = MK_SIZE + SF_SIZE - SHARED




def norm_email(value: Any) -> str:
    return str(value or "").strip().lower()


@dataclass
class World:
    """Marketo (plain HTTP) and Salesforce (HTTPS, sandbox CA) emulators, a project and a store.

    Connector knobs are shrunk so that vendor waits (Marketo's 20 s rate window after a 606,
    exponential backoff) stay well under a second in tests.
    """

    tmp: Path
    db_url: str
    mk: MarketoEmulator
    sf: SalesforceEmulator
    servers: list[EmulatorServer]
    tls: TLSFiles
    munchkin: str
    mk_extra: dict[str, Any] = field(default_factory=dict)
    sf_extra: dict[str, Any] = field(default_factory=dict)
    _open: list[tuple[Project, Store]] = field(default_factory=list)

    def connections(self, *, mk_secret: str | None = None,
                    sf_secret: str | None = None) -> dict[str, dict[str, Any]]:
        mkc, sfc = self.mk.credentials(), self.sf.credentials()
        return {
            "marketo": {"type": "marketo", "config": {
                "base_url": self.servers[0].url, "client_id": mkc["client_id"],
                "client_secret": mk_secret or mkc["client_secret"], "munchkin_id": self.munchkin,
                "rate_limit_window_s": 0.3, "page_size": 25, "retry_attempts": 4,
                "timeout_s": 1.0, **self.mk_extra}},
            "salesforce": {"type": "salesforce", "config": {
                "login_url": self.servers[1].url, "client_id": sfc["client_id"],
                "client_secret": sf_secret or sfc["client_secret"],
                "external_id_field": "Renkei_Id__c", "retry_base_delay_s": 0.05,
                "timeout_s": 1.0, **self.sf_extra}},
        }

    @property
    def mappings_dir(self) -> Path:
        return self.tmp / "mappings"

    def project(self, **secrets: str | None) -> Project:
        return Project(root=self.tmp, database_url=self.db_url, mappings_dir=self.mappings_dir,
                       ca_bundle=str(self.tls.ca_path), connections=self.connections(**secrets))

    def open(self) -> tuple[Project, Store]:
        """A fresh project (new connectors, new tokens) and store; closed with the world."""
        pair = (self.project(), Store.open(self.db_url))
        self._open.append(pair)
        return pair

    def sync(self) -> RunSummary:
        project, store = self.open()
        return SyncRunner(project, store).sync("lead")

    def app(self, target: str) -> MarketoEmulator | SalesforceEmulator:
        return self.mk if target == "marketo" else self.sf

    def fault(self, target: str, **rule: Any) -> FaultRule:
        fr = FaultRule(**rule)
        self.app(target).faults.add(fr)
        return fr

    def calls(self) -> int:
        return len(self.mk.calls) + len(self.sf.calls)

    def close(self) -> None:
        for project, store in self._open:
            store.close()
            project.close()
        for s in self.servers:
            s.stop()


def make_world(tmp: Path, db_url: str, *, mk_size: int = MK_SIZE, sf_size: int = SF_SIZE,
               seed: int = 7, mk_secret: str | None = None,
               sf_secret: str | None = None) -> World:
    """Start both emulators (optionally with the given client secrets) on free ports."""
    munchkin = f"flt-{tmp.name}"
    # Only the two mappings under test: other systems' mappings come and go in the repo.
    (tmp / "mappings").mkdir(parents=True, exist_ok=True)
    for name in (MK, SF):
        shutil.copy(REPO / "mappings" / f"{name}.yaml", tmp / "mappings" / f"{name}.yaml")
    mk_config = MarketoConfig(size=mk_size, seed=seed, munchkin_id=munchkin)
    sf_settings = SalesforceSettings(size=sf_size, seed=seed, marketo_size=mk_size)
    if mk_secret:
        mk_config = replace(mk_config, client_secret=mk_secret)
    if sf_secret:
        sf_settings.credentials = replace(sf_settings.credentials, client_secret=sf_secret)
    mk = MarketoEmulator(mk_config)
    sf = SalesforceEmulator(sf_settings)
    tls = make_tls(tmp / "tls")
    servers = [EmulatorServer(mk.asgi(), name="marketo"),
               EmulatorServer(sf.asgi(), name="salesforce", tls=tls)]
    for s in servers:
        s.start()
    return World(tmp, db_url, mk, sf, servers, tls, munchkin)


def settle(world: World, runs: int = 4) -> RunSummary:
    """Sync until a run writes nothing (at most ``runs`` times); returns the last summary."""
    last = world.sync()
    for _ in range(runs - 1):
        if last.status == "completed" and sum(s.write_calls for s in last.stats) == 0:
            break
        last = world.sync()
    return last


@dataclass
class Convergence:
    """The outcome of :func:`check_convergence`: what was compared and what differed."""

    people: int = 0
    fields_checked: int = 0
    mismatches: list[str] = field(default_factory=list)


def _by_email(rows: Iterable[dict[str, Any]], key: str) -> Counter[str]:
    return Counter(norm_email(r.get(key)) for r in rows if norm_email(r.get(key)))


def check_convergence(world: World, *, expect_people: int | None = None) -> Convergence:
    """Hub, Marketo and Salesforce agree: one record per person on each side, every field
    of every mapping (both directions) equal to the hub's value, up to the normalisers the
    engine itself treats as "same value" (company spellings)."""
    project, store = world.open()
    out = Convergence()
    mk_rows, _ = world.mk.list_records("leads", offset=0, limit=100_000)
    sf_rows, _ = world.sf.list_records("Lead", offset=0, limit=100_000)
    for name, rows, key in (("marketo", mk_rows, "email"), ("salesforce", sf_rows, "Email")):
        dupes = {e: n for e, n in _by_email(rows, key).items() if n > 1}
        if dupes:
            out.mismatches.append(f"{name}: duplicated people {sorted(dupes)[:5]}")
    with store.transaction() as tx:
        hub = {r.id: r.data for r in tx.records.page("lead", limit=1_000_000)}
        pairs = list(tx.conn.execute(select(links.c.mapping, links.c.system_id,
                                            links.c.record_id)))
    hub_dupes = {e: n for e, n in _by_email(hub.values(), "email").items() if n > 1}
    if hub_dupes:
        out.mismatches.append(f"hub: duplicated people {sorted(hub_dupes)[:5]}")
    everyone = set(_by_email(mk_rows, "email")) | set(_by_email(sf_rows, "Email"))
    for name, rows, key in (("marketo", mk_rows, "email"), ("salesforce", sf_rows, "Email")):
        missing = everyone - set(_by_email(rows, key))
        if missing:
            out.mismatches.append(f"{name}: {len(missing)} people missing, e.g. "
                                  f"{sorted(missing)[:3]}")
    if expect_people is not None and len(hub) != expect_people:
        out.mismatches.append(f"hub has {len(hub)} people, expected {expect_people}")
    raw = {MK: {str(r["id"]): r for r in mk_rows}, SF: {str(r["Id"]): r for r in sf_rows}}
    mappings = {m.name: m for m in project.mappings_for("lead")}
    linked: Counter[str] = Counter()
    for mapping, sid, rid in pairs:
        m = mappings[mapping]
        linked[mapping] += 1
        record = raw[mapping].get(str(sid))
        if record is None:
            out.mismatches.append(f"{mapping}: linked record {sid} is gone")
            continue
        proj = m.to_hub(record).values
        equal = field_equality(m.match_keys, normalize_key)
        data = hub.get(rid, {})
        for f in set(m.inbound_fields) & set(m.outbound_fields):
            out.fields_checked += 1
            a, b = data.get(f), proj.get(f)
            if not equal.get(f, same)(a, b):
                out.mismatches.append(f"{mapping} {sid} {f}: hub {a!r} != system {b!r}")
    for mapping in mappings:
        if linked[mapping] != len(hub):
            out.mismatches.append(f"{mapping}: {linked[mapping]} links for {len(hub)} people")
    out.people = len(hub)
    TALLY.add(records_checked=3 * len(hub), mismatches=len(out.mismatches))
    return out
