"""Opportunities and contact roles in the Salesforce emulator, through simple-salesforce
(unchanged) over real HTTPS: seeded pipeline, stage-derived fields, parent fields in SOQL."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox.salesforce import SalesforceEmulator, SalesforceSettings
from sandbox.salesforce.schema import LOSS_REASONS
from sandbox.salesforce.testing import logged_in

SIZE = 400  # 100 contacts, 50 opportunities


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SalesforceEmulator, Salesforce]]:
    with logged_in(SalesforceSettings(size=SIZE, seed=3),
                   tmp_path_factory.mktemp("sf-opps")) as org:
        yield org


def _all(sf: Salesforce, soql: str) -> list[dict[str, object]]:
    return list(sf.query_all(soql)["records"])


def test_seeded_pipeline_has_open_won_and_lost_deals_with_consistent_flags(
        org: tuple[SalesforceEmulator, Salesforce]) -> None:
    _, sf = org
    opps = _all(sf, "SELECT Id, StageName, IsClosed, IsWon, LossReason__c, Probability, "
                    "Amount, CloseDate, LastStageChangeDate, SystemModstamp, AccountId "
                    "FROM Opportunity")
    assert len(opps) == SIZE // 4 // 2
    stages = Counter(str(o["StageName"]) for o in opps)
    assert stages["Closed Won"] and stages["Closed Lost"] and len(stages) > 4
    for o in opps:
        assert o["IsClosed"] == str(o["StageName"]).startswith("Closed")
        assert o["IsWon"] == (o["StageName"] == "Closed Won")
        assert (o["LossReason__c"] is not None) == (o["StageName"] == "Closed Lost")
        assert o["LossReason__c"] is None or o["LossReason__c"] in LOSS_REASONS
        assert str(o["LastStageChangeDate"]) <= str(o["SystemModstamp"])
        assert o["AccountId"] and o["Amount"] and o["CloseDate"]
    lost = _all(sf, "SELECT Id FROM Opportunity WHERE IsWon = false AND IsClosed = true")
    assert len(lost) == stages["Closed Lost"]


def test_every_deal_has_one_primary_contact_role_and_one_person_has_two_deals(
        org: tuple[SalesforceEmulator, Salesforce]) -> None:
    _, sf = org
    roles = _all(sf, "SELECT OpportunityId, ContactId, IsPrimary, Role, Contact.Email "
                     "FROM OpportunityContactRole")
    opp_ids = {o["Id"] for o in _all(sf, "SELECT Id FROM Opportunity")}
    primaries = Counter(r["OpportunityId"] for r in roles if r["IsPrimary"])
    assert set(primaries) == opp_ids and set(primaries.values()) == {1}
    assert any(not r["IsPrimary"] for r in roles)
    deals_per_contact = Counter(r["ContactId"] for r in roles if r["IsPrimary"])
    assert max(deals_per_contact.values()) == 2
    # The parent's field comes back nested, as Salesforce answers it.
    contact = roles[0]["Contact"]
    assert isinstance(contact, dict)
    assert contact["attributes"]["type"] == "Contact" and "@" in contact["Email"]
    [real] = _all(sf, format_soql("SELECT Email FROM Contact WHERE Id = {}",
                                  roles[0]["ContactId"]))
    assert real["Email"] == contact["Email"]


def test_contact_roles_are_read_for_a_batch_of_deals_in_one_query(
        org: tuple[SalesforceEmulator, Salesforce]) -> None:
    emulator, sf = org
    ids = [o["Id"] for o in _all(sf, "SELECT Id FROM Opportunity LIMIT 10")]
    since = emulator.calls.last_seq
    roles = _all(sf, format_soql("SELECT OpportunityId, Contact.Email FROM "
                                 "OpportunityContactRole WHERE OpportunityId IN {}", ids))
    assert {r["OpportunityId"] for r in roles} == set(ids)
    assert len(emulator.calls.list(since=since)) == 1


def test_unknown_relationship_field_is_refused_like_salesforce(
        org: tuple[SalesforceEmulator, Salesforce]) -> None:
    _, sf = org
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Contact.Nope__c FROM OpportunityContactRole")
    assert "No such column 'Contact.Nope__c'" in str(err.value)
    del err


def test_a_stage_change_stamps_the_derived_fields(
        org: tuple[SalesforceEmulator, Salesforce]) -> None:
    emulator, sf = org
    [open_deal] = _all(sf, "SELECT Id, SystemModstamp FROM Opportunity "
                           "WHERE StageName = 'Prospecting' LIMIT 1")
    sf.Opportunity.update(str(open_deal["Id"]), {"StageName": "Closed Lost",
                                                 "LossReason__c": "価格"})
    after = sf.Opportunity.get(str(open_deal["Id"]))
    assert (after["IsClosed"], after["IsWon"], after["Probability"]) == (True, False, 0.0)
    assert after["LastStageChangeDate"] == after["SystemModstamp"] > open_deal["SystemModstamp"]
    # Only the stage moves LastStageChangeDate; the derived flags cannot be written.
    edited = emulator.edit_record("Opportunity", str(open_deal["Id"]), {"Amount": 1.0})
    assert edited["LastStageChangeDate"] == after["LastStageChangeDate"]
    with pytest.raises(SalesforceMalformedRequest):
        sf.Opportunity.update(str(open_deal["Id"]), {"IsWon": True})
    gc.collect()


def test_a_created_deal_gets_stage_defaults(org: tuple[SalesforceEmulator, Salesforce]) -> None:
    _, sf = org
    [account] = _all(sf, "SELECT Id FROM Account LIMIT 1")
    created = sf.Opportunity.create({"Name": "新規案件", "StageName": "Negotiation/Review",
                                     "CloseDate": "2026-12-24", "AccountId": account["Id"]})
    deal = sf.Opportunity.get(created["id"])
    assert (deal["Probability"], deal["IsClosed"], deal["IsWon"]) == (90.0, False, False)
    assert deal["LastStageChangeDate"] == deal["CreatedDate"]
    with pytest.raises(SalesforceMalformedRequest):
        sf.Opportunity.create({"Name": "x", "StageName": "Closed Lost", "CloseDate": "2026-12-24",
                               "LossReason__c": "気分"})
    gc.collect()
