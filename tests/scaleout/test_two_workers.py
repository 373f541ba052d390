"""Scale-out: two worker processes on one PostgreSQL store share a backlog of 2,000 new
Marketo leads bound for Salesforce; partition leases keep them off each other's phases, so
every lead is written to Salesforce exactly once (issue #8)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from renkei.store import Store
from renkei.store.locks import PartitionLocks
from sandbox.core.server import EmulatorServer
from sandbox.core.tls import make_tls
from sandbox.marketo.app import MarketoEmulator
from sandbox.marketo.config import MarketoConfig
from sandbox.salesforce import SalesforceEmulator, SalesforceSettings

REPO = Path(__file__).resolve().parents[2]
BACKLOG = 2000


@pytest.fixture
def systems(tmp_path: Path) -> Iterator[tuple[dict[str, Any], MarketoEmulator, SalesforceEmulator]]:
    munchkin = f"scale-{tmp_path.name}"
    mk = MarketoEmulator(MarketoConfig(size=BACKLOG, seed=11, munchkin_id=munchkin))
    # No duplicate rule: a lead written twice must show up as two leads, not be refused.
    sf = SalesforceEmulator(SalesforceSettings(size=0, seed=11, duplicate_rule=False))
    tls = make_tls(tmp_path / "tls")
    servers = [EmulatorServer(mk.asgi(), name="marketo"),
               EmulatorServer(sf.asgi(), name="salesforce", tls=tls)]
    for s in servers:
        s.start()
    mkc, sfc = mk.credentials(), sf.credentials()
    connections = {
        "marketo": {"type": "marketo", "config": {
            "base_url": servers[0].url, "client_id": mkc["client_id"],
            "client_secret": mkc["client_secret"], "munchkin_id": munchkin}},
        "salesforce": {"type": "salesforce", "config": {
            "login_url": servers[1].url, "client_id": sfc["client_id"],
            "client_secret": sfc["client_secret"], "external_id_field": "Renkei_Id__c"}},
    }
    cfg = {"root": str(tmp_path), "mappings_dir": str(REPO / "mappings"),
           "ca_bundle": str(tls.ca_path), "connections": connections}
    yield cfg, mk, sf
    for s in servers:
        s.stop()


def _run_workers(cfg_path: Path, n: int) -> list[dict[str, Any]]:
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.scaleout.worker", str(cfg_path),
                               f"worker-{i}"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(n)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=240)
        assert p.returncode == 0, stderr[-3000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def test_two_workers_write_every_lead_exactly_once(
        systems: tuple[dict[str, Any], MarketoEmulator, SalesforceEmulator],
        pg_url: str, tmp_path: Path) -> None:
    cfg, _, sf = systems
    Store.open(pg_url).close()  # create the schema once, not racing in both workers
    cfg_path = tmp_path / "worker.json"
    cfg_path.write_text(json.dumps({**cfg, "db_url": pg_url, "wait_s": 0}))
    mark = sf.calls.last_seq
    started = time.perf_counter()
    reports = _run_workers(cfg_path, 2)
    elapsed = time.perf_counter() - started

    # every run of every worker completed, and no partition was held by two at once: a
    # skipped partition names the other worker as its holder
    for rep in reports:
        for run in rep["runs"]:
            assert run["errors"] == [], run
            for ev in run["locks"]:
                if not ev["acquired"]:
                    assert ev["other"] not in (None, rep["worker"]), ev
    created = sum(run["written"].get("salesforce-leads:out", 0)
                  for rep in reports for run in rep["runs"])
    assert created == BACKLOG, "the workers together wrote each lead once"

    # the emulator agrees: 2,000 leads, each once, in ⌈2000/200⌉-ish composite calls
    leads, total = sf.list_records("Lead", offset=0, limit=10 * BACKLOG)
    assert total == BACKLOG
    emails = [str(r.get("Email") or "").lower() for r in leads]
    assert len(set(emails)) == BACKLOG
    assert len({r["Renkei_Id__c"] for r in leads}) == BACKLOG
    writes = [c for c in sf.calls.list(since=mark)
              if "composite" in c.path and c.method in ("POST", "PATCH")]
    assert math.ceil(BACKLOG / 200) <= len(writes) <= math.ceil(BACKLOG / 200) + 4

    # the store agrees: one hub record and one link per lead, and no lease left behind
    check = Store.open(pg_url)
    try:
        with check.transaction() as tx:
            assert tx.records.count("lead") == BACKLOG
            assert tx.links.count("salesforce-leads") == BACKLOG
            assert tx.locks.all() == []
    finally:
        check.close()

    per_worker = {rep["worker"]: {
        "runs": len(rep["runs"]),
        "wrote": sum(sum(r["written"].values()) for r in rep["runs"]),
        "ingested": sum(r["read"].get("marketo-leads:in", 0) for r in rep["runs"]),
        "skipped": sorted({e["name"] for r in rep["runs"] for e in r["locks"]
                           if not e["acquired"]})} for rep in reports}
    print(f"\nscale-out: {BACKLOG} leads, 2 workers, {elapsed:.1f} s: {json.dumps(per_worker)}")
    assert any(w["wrote"] or w["ingested"] for w in per_worker.values())


def test_a_dead_workers_lease_expires_and_a_live_one_is_respected(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.locks.acquire("sync:m:in", "dead", ttl_s=0.2)
        assert not tx.locks.acquire("sync:m:in", "live", ttl_s=30)
    time.sleep(0.3)  # the dead worker never renews
    with store.transaction() as tx:
        assert tx.locks.acquire("sync:m:in", "live", ttl_s=30)
        assert not tx.locks.acquire("sync:m:in", "dead", ttl_s=30)
        assert not tx.locks.release("sync:m:in", "dead")
        lease = tx.locks.get("sync:m:in")
        assert lease is not None and lease.holder == "live"


def test_a_held_partition_is_skipped_or_waited_for(store: Store) -> None:
    a = PartitionLocks(store, ttl_s=0.6, holder="a")
    b = PartitionLocks(store, ttl_s=30, wait_s=0, holder="b")
    c = PartitionLocks(store, ttl_s=30, wait_s=5, poll_s=0.05, holder="c")
    with a.hold("sync:x:out") as mine:
        assert mine
        time.sleep(0.9)  # longer than a's lease: the renewal thread keeps it
        with b.hold("sync:x:out") as theirs:
            assert not theirs
    assert b.events[0].other_holder == "a"
    with c.hold("sync:x:out") as mine:
        assert mine
    with store.transaction() as tx:
        assert tx.locks.all() == []
