"""Lead sync end to end: real connectors over real HTTP against the Marketo and Salesforce
emulators, on SQLite and PostgreSQL (issue #3)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from renkei.engine.runner import SyncRunner
from renkei.project import Project
from renkei.store import Store
from sandbox.core.server import EmulatorServer
from sandbox.core.tls import make_tls
from sandbox.marketo.app import MarketoEmulator
from sandbox.marketo.config import MarketoConfig
from sandbox.salesforce import SalesforceEmulator, SalesforceSettings

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[tuple[Project, Store, MarketoEmulator, SalesforceEmulator]]:
    mk = MarketoEmulator(MarketoConfig(size=400, seed=7, munchkin_id=f"e2e-{tmp_path.name}"))
    sf = SalesforceEmulator(SalesforceSettings(size=150, seed=7, marketo_size=400))
    tls = make_tls(tmp_path / "tls")
    servers = [EmulatorServer(mk.asgi(), name="marketo"),
               EmulatorServer(sf.asgi(), name="salesforce", tls=tls)]
    for s in servers:
        s.start()
    mkc, sfc = mk.credentials(), sf.credentials()
    project = Project(root=tmp_path, database_url=db_url, mappings_dir=REPO / "mappings",
                      ca_bundle=str(tls.ca_path), connections={
        "marketo": {"type": "marketo", "config": {
            "base_url": servers[0].url, "client_id": mkc["client_id"],
            "client_secret": mkc["client_secret"], "munchkin_id": f"e2e-{tmp_path.name}"}},
        "salesforce": {"type": "salesforce", "config": {
            "login_url": servers[1].url, "client_id": sfc["client_id"],
            "client_secret": sfc["client_secret"], "external_id_field": "Renkei_Id__c"}},
    })
    store = Store.open(db_url)
    yield project, store, mk, sf
    store.close()
    project.close()
    for s in servers:
        s.stop()


def _writes(app: MarketoEmulator | SalesforceEmulator, prefix: str, method: str, since: int) -> int:
    return sum(1 for c in app.calls.list(since=since) if c.path.startswith(prefix) and c.method == method)


def test_lead_sync_converges_with_minimal_calls(world: tuple[Project, Store, MarketoEmulator,
                                                              SalesforceEmulator]) -> None:
    project, store, mk, sf = world
    runner = SyncRunner(project, store)
    s1 = runner.sync("lead")
    assert s1.status == "completed", [x.error for x in s1.stats]
    shared = 60  # 40% of the 150 Salesforce leads are Marketo people too
    with store.transaction() as tx:
        assert tx.records.count("lead") == 400 + 150 - shared
        assert tx.links.count("marketo-leads") == 490
        assert tx.links.count("salesforce-leads") == 490
    sf_only, mk_only = 150 - shared, 400 - shared
    out_sf, out_mk = s1.get("salesforce-leads", "out"), s1.get("marketo-leads", "out")
    assert out_sf.created == mk_only and out_mk.created == sf_only
    # creates go in batches of the vendor maximum: 200 for Salesforce, 300 for Marketo
    assert out_sf.write_calls <= math.ceil(mk_only / 200) + 1   # + the shared updates batch
    assert out_mk.write_calls <= math.ceil(sf_only / 300) + 1
    # the ledger and the emulators' own logs agree call for call
    total = sum(x.api_calls for x in s1.stats)
    assert total == len(mk.calls) + len(sf.calls)

    runner.sync("lead")  # reads back our own writes (and Salesforce's defaults)
    mark_mk, mark_sf = mk.calls.last_seq, sf.calls.last_seq
    s3 = runner.sync("lead")
    assert _writes(mk, "/rest/v1/leads.json", "POST", mark_mk) == 0
    assert _writes(sf, "/services/data", "PATCH", mark_sf) + _writes(sf, "/services/data", "POST", mark_sf) == 0
    assert sum(x.created + x.updated for x in s3.stats) == 0

    # a change on one side reaches the other, field by field
    with store.transaction() as tx:
        link = next(iter(tx.links.by_record_ids("salesforce-leads", [1]).values()))
        mlink = next(iter(tx.links.by_record_ids("marketo-leads", [1]).values()))
    mk.edit_record("leads", mlink.system_id, {"title": "情報システム部長"})
    runner.sync("lead")
    assert sf.get_record("Lead", link.system_id)["Title"] == "情報システム部長"


FAULTS = [
    # (emulator, rule): each fires during the first sync
    ("marketo", {"kind": "server_error", "path": "leadchanges", "times": 2}),
    ("marketo", {"kind": "token_expired", "path": "leads.json", "after": 1, "times": 1}),
    ("marketo", {"kind": "reset", "path": "leads.json", "method": "POST", "times": 1}),
    ("salesforce", {"kind": "server_error", "path": "query", "times": 2}),
    ("salesforce", {"kind": "token_expired", "path": "composite", "times": 1}),
    ("salesforce", {"kind": "truncate", "path": "query", "times": 1}),
    ("salesforce", {"kind": "quota", "path": "composite", "times": 3}),
    ("salesforce", {"kind": "reset", "path": "composite", "method": "PATCH", "times": 1}),
    ("marketo", {"kind": "slow", "path": "leads.json", "delay_s": 0.3, "times": 3}),
    ("salesforce", {"kind": "slow", "path": "query", "delay_s": 0.3, "times": 3}),
]


@pytest.mark.parametrize("target, rule", FAULTS,
                         ids=[f"{t}-{r['kind']}-{r['path']}" for t, r in FAULTS])
def test_lead_sync_survives_fault_and_converges(
        world: tuple[Project, Store, MarketoEmulator, SalesforceEmulator],
        target: str, rule: dict[str, object]) -> None:
    from sandbox.core.faults import FaultRule

    project, store, mk, sf = world
    app = mk if target == "marketo" else sf
    fault = FaultRule(**rule)  # type: ignore[arg-type]
    app.faults.add(fault)
    runner = SyncRunner(project, store)
    runner.sync("lead")
    assert fault.fired >= 1, "the fault must really have happened"
    calls_first = len(mk.calls) + len(sf.calls)
    assert calls_first < 60, "no retry storm"
    app.faults.clear()
    for _ in range(3):
        last = runner.sync("lead")
    assert last.status == "completed", [s.error for s in last.stats]
    assert sum(s.created + s.updated for s in last.stats if s.direction == "out") == 0
    with store.transaction() as tx:
        assert tx.records.count("lead") == 490
        assert tx.links.count("marketo-leads") == 490
        assert tx.links.count("salesforce-leads") == 490
        open_letters = tx.dead_letters.all_open()
    assert [d for d in open_letters if d.category != "validation"] == []
    sf_leads, sf_total = sf.list_records("Lead", offset=0, limit=10_000)
    _, mk_total = mk.list_records("leads", offset=0, limit=10_000)
    assert sf_total == 490 and mk_total == 490, "nothing lost, nothing duplicated"
    sf_emails = [str(r.get("Email") or "").strip().lower() for r in sf_leads]
    assert len(set(sf_emails)) == len(sf_emails)
    # both systems agree field by field for every linked person
    from renkei.demo import _linked_pairs

    pairs = _linked_pairs(store)
    assert len(pairs) == 490
    for _, mk_id, sf_id in pairs:
        m, f = mk.get_record("leads", mk_id), sf.get_record("Lead", sf_id)
        assert m["email"].strip().lower() == f["Email"].strip().lower()
        assert (m["lastName"], m["firstName"], m["title"] or None) == (
            f["LastName"], f["FirstName"], f["Title"] or None)


def test_n_changed_leads_cost_ceil_n_over_batch_writes(
        world: tuple[Project, Store, MarketoEmulator, SalesforceEmulator]) -> None:
    from renkei.demo import _linked_pairs

    project, store, mk, sf = world
    runner = SyncRunner(project, store)
    runner.sync("lead")
    runner.sync("lead")  # settle Salesforce's own defaults
    pairs = _linked_pairs(store)
    for _, mk_id, _ in pairs[:450]:
        mk.edit_record("leads", mk_id, {"title": "課長代理"})
    mark_mk, mark_sf = mk.calls.last_seq, sf.calls.last_seq
    s = runner.sync("lead")
    sf_writes = [c for c in sf.calls.list(since=mark_sf) if "composite" in c.path]
    del mark_mk
    assert s.get("salesforce-leads", "out").updated == 450
    assert len(sf_writes) == math.ceil(450 / 200)
    assert s.get("marketo-leads", "out").write_calls == 0
    for _, _, sf_id in pairs[:350]:
        sf.edit_record("Lead", sf_id, {"Title": "主任"})
    s = runner.sync("lead")   # also reads back our 450 Salesforce writes: no echo
    out = s.get("marketo-leads", "out")
    assert out.updated == 350 and out.write_calls == math.ceil(350 / 300)
    assert s.get("salesforce-leads", "out").write_calls == 0
    s = runner.sync("lead")
    assert sum(x.write_calls for x in s.stats) == 0
