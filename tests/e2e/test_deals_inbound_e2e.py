"""Deals inbound end to end (issue #6): Salesforce Opportunities with their contact roles and
kintone 商談 records reach the hub as deals, over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from renkei.engine.runner import SyncRunner
from renkei.project import Project
from renkei.store import Store
from sandbox.core.server import EmulatorServer
from sandbox.core.tls import make_tls
from sandbox.kintone import API_TOKENS, KintoneEmulator, KintoneSettings
from sandbox.salesforce import SalesforceEmulator, SalesforceSettings

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
SF_SIZE = 3400  # 850 contacts, 425 opportunities: three contact-role batches of 200


@dataclass
class World:
    project: Project
    store: Store
    sf: SalesforceEmulator
    kintone: KintoneEmulator


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[World]:
    sf = SalesforceEmulator(SalesforceSettings(size=SF_SIZE, seed=11))
    kt = KintoneEmulator(KintoneSettings(size=100))
    tls = make_tls(tmp_path / "tls")
    servers = [EmulatorServer(sf.asgi(), name="salesforce", tls=tls),
               EmulatorServer(kt.asgi(), name="kintone")]
    for s in servers:
        s.start()
    maps = tmp_path / "mappings"
    maps.mkdir()
    for name in ("salesforce-opportunities.yaml", "kintone-deals.yaml"):
        shutil.copy(REPO / "mappings" / name, maps)
    creds = sf.credentials()
    project = Project(root=tmp_path, database_url=db_url, mappings_dir=maps,
                      ca_bundle=str(tls.ca_path), connections={
        "salesforce": {"type": "salesforce", "config": {
            "login_url": servers[0].url, "client_id": creds["client_id"],
            "client_secret": creds["client_secret"], "streams": ["Opportunity"]}},
        "kintone": {"type": "kintone", "config": {
            "base_url": servers[1].url, "api_token": ",".join(API_TOKENS.values()),
            "apps": {"deals": 3}}},
    })
    store = Store.open(db_url)
    try:
        yield World(project, store, sf, kt)
    finally:
        store.close()
        project.close()
        for s in servers:
            s.stop()


def _hub_deals(store: Store) -> list[dict[str, object]]:
    deals: list[dict[str, object]] = []
    with store.transaction() as tx:
        after = 0
        while page := tx.records.page("deal", after_id=after):
            deals += [dict(r.data) for r in page]
            after = page[-1].id
    return deals


def _expected_emails(sf: SalesforceEmulator) -> dict[str, list[str]]:
    """Salesforce's own answer, read from the emulator's stores: opportunity id → the
    contact roles' e-mails, primary first (then by creation)."""
    roles = sorted((not r["IsPrimary"], r["CreatedDate"], r["Id"], r["OpportunityId"],
                    r["ContactId"]) for _, r in sf.org.stores["opportunitycontactrole"].scan())
    contacts = sf.org.stores["contact"]
    out: dict[str, list[str]] = {}
    for *_, opp, contact in roles:
        record = contacts.get(contact)
        assert record is not None
        out.setdefault(opp, []).append(record["Email"])
    return out


def _kintone_deals(kt: KintoneEmulator) -> None:
    kt.create_record("3", {"商談名": "ABC商事 SFA導入", "会社名": "ABC商事株式会社",
                           "担当者": [{"code": "suzuki"}], "フェーズ": "失注", "金額": "3000000",
                           "受注予定日": "2026-03-31", "失注理由": "競合採用",
                           "顧客メール": "Hanako.Sato@ABC-Shoji.co.jp",
                           "リサイクルコンテンツ": "事例紹介", "配信頻度": "毎月",
                           "配信先メール": "hanako.sato@abc-shoji.co.jp",
                           "フェーズ更新日": "2026-04-01"})
    kt.create_record("3", {"商談名": "カエデ証券 生産管理クラウド", "担当者": [{"code": "tanaka"}],
                           "フェーズ": "保留", "顧客メール": "a@kaede.co.jp",
                           "配信頻度": "四半期"})
    kt.create_record("3", {"商談名": "ヒカリ 基幹刷新", "担当者": [{"code": "ito"}],
                           "フェーズ": "受注", "金額": "12000000", "受注予定日": "2026-05-01",
                           "顧客メール": "buyer@hikari.co.jp"})


def test_opportunities_arrive_with_their_contact_emails_in_batched_calls(world: World) -> None:
    runner = SyncRunner(world.project, world.store)
    since = world.sf.calls.last_seq
    first = runner.sync("deal")
    assert first.status == "completed", [s.error for s in first.stats]
    inbound = first.get("salesforce-opportunities", "in")
    opps = len(world.sf.org.stores["opportunity"])
    assert (inbound.read, inbound.created, inbound.failed) == (opps, opps, 0)
    # token, describe, one query page of 2000, one contact-role query per 200 deals
    paths = [c.path for c in world.sf.calls.list(since=since)]
    role_queries = math.ceil(opps / 200)
    assert sum(p.endswith(("/query/", "/queryAll/")) for p in paths) == 1 + role_queries
    assert len(paths) == inbound.api_calls == 3 + role_queries  # renkei's ledger agrees
    expected = _expected_emails(world.sf)
    deals = _hub_deals(world.store)
    assert len(deals) == opps
    by_name = {str(d["name"]): d for d in deals}
    assert len(by_name) == opps  # seeded names are unique: the lookup below is exact
    for _, opp in world.sf.org.stores["opportunity"].scan():
        deal = by_name[opp["Name"]]
        assert deal["contact_emails"] == expected[opp["Id"]]
        assert (deal["is_won"], deal["is_closed"]) == (opp["IsWon"], opp["IsClosed"])
        assert deal["stage"] == opp["StageName"]
        assert deal.get("lost_reason") == opp["LossReason__c"]
    assert any(len(d["contact_emails"]) == 2 for d in deals)  # type: ignore[arg-type]
    # Nothing changed: the re-read asks for the boundary stamp only and writes nothing.
    second = runner.sync("deal")
    again = second.get("salesforce-opportunities", "in")
    assert (again.created, again.updated, again.failed) == (0, 0, 0)
    # A stage change in Salesforce updates that one deal.
    won = next(r for _, r in world.sf.org.stores["opportunity"].scan()
               if r["StageName"] == "Negotiation/Review")
    world.sf.edit_record("Opportunity", won["Id"], {"StageName": "Closed Won"})
    third = runner.sync("deal").get("salesforce-opportunities", "in")
    assert (third.read, third.updated, third.created) == (1, 1, 0)
    deal = {str(d["name"]): d for d in _hub_deals(world.store)}[won["Name"]]
    assert (deal["is_won"], deal["is_closed"], deal["stage"]) == (True, True, "Closed Won")


def test_kintone_deals_arrive_with_outcome_and_recycle_choices(world: World) -> None:
    _kintone_deals(world.kintone)
    runner = SyncRunner(world.project, world.store)
    first = runner.sync("deal")
    assert first.status == "completed", [s.error for s in first.stats]
    inbound = first.get("kintone-deals", "in")
    assert (inbound.read, inbound.created, inbound.failed) == (3, 3, 0)
    deals = {str(d["name"]): d for d in _hub_deals(world.store)}
    lost = deals["ABC商事 SFA導入"]
    assert (lost["stage"], lost["is_closed"], lost["is_won"]) == ("失注", True, False)
    assert lost["lost_reason"] == "競合採用" and lost["owner"] == "suzuki"
    assert lost["contact_emails"] == ["hanako.sato@abc-shoji.co.jp"]
    assert (lost["recycle_content"], lost["recycle_frequency"], lost["recycle_email"]) == (
        "事例紹介", "monthly", "hanako.sato@abc-shoji.co.jp")
    assert lost["stage_changed_at"] == "2026-03-31T15:00:00Z" and lost["amount"] == 3000000
    hold = deals["カエデ証券 生産管理クラウド"]
    assert (hold["stage"], hold["is_closed"], hold["recycle_frequency"]) == (
        "保留", False, "quarterly")
    won = deals["ヒカリ 基幹刷新"]
    assert (won["is_won"], won["close_date"], won["owner"]) == (True, "2026-05-01", "ito")
    second = runner.sync("deal").get("kintone-deals", "in")
    assert (second.read, second.created, second.updated) == (0, 0, 0)
