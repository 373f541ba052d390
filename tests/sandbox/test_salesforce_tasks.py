"""Tasks in the Salesforce emulator, through simple-salesforce (unchanged) over real HTTPS:
upserts by the external id, WhoId refused as Salesforce refuses it, SOQL over Task."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from sandbox.salesforce import SalesforceEmulator, SalesforceSettings
from sandbox.salesforce.testing import logged_in

SIZE = 100  # leads; every twentieth seeded lead (index 19, 39, ...) is converted
UPSERT = "composite/sobjects/Task/Renkei_Id__c"

Org = tuple[SalesforceEmulator, Salesforce]


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    with logged_in(SalesforceSettings(size=SIZE, seed=5),
                   tmp_path_factory.mktemp("sf-tasks")) as org:
        yield org


def _lead(emulator: SalesforceEmulator, index: int) -> dict[str, Any]:
    store = emulator.org.stores["lead"]
    record = emulator.get_record("Lead", store.seeded_id(index))
    assert record is not None
    return record


def _task(ext: str, who: str | None, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Task"}, "Renkei_Id__c": ext, "WhoId": who,
            "Subject": "製造業DXセミナー", "Status": "Completed", "ActivityDate": "2026-09-10",
            **fields}


def _task_type(sf: Salesforce) -> SFType:
    # simple-salesforce types attribute access as "an SFType or a bulk handler".
    return cast(SFType, sf.Task)


def _upsert(sf: Salesforce, records: list[dict[str, Any]], **options: Any
            ) -> list[dict[str, Any]]:
    """One sObject Collections upsert by Renkei_Id__c; its SaveResults."""
    results = sf.restful(UPSERT, method="PATCH", json={"records": records, **options})
    assert isinstance(results, list)
    return results


def _refusal(exc: SalesforceMalformedRequest) -> dict[str, Any]:
    content: Any = exc.content  # the JSON error array simple-salesforce keeps
    return dict(content[0])


def _tasks(sf: Salesforce, where: str) -> list[dict[str, Any]]:
    found = sf.query_all(f"SELECT Id, WhoId, Subject, Status, IsClosed, TaskSubtype, "
                         f"ActivityDate, SystemModstamp, Renkei_Id__c FROM Task {where}")
    assert found is not None
    return list(found["records"])


def test_upserting_the_same_external_id_twice_leaves_one_task(org: Org) -> None:
    emulator, sf = org
    who = _lead(emulator, 0)["Id"]
    ext = "zoom:s3VFqQk5eyIxpI0ZDRdy2A==:tanaka-h@sakura-seiki.co.jp"
    first = _upsert(sf, [_task(ext, who, Attended_Minutes__c=30)], allOrNone=False)
    second = _upsert(sf, [_task(ext, who, Attended_Minutes__c=71.5)], allOrNone=False)
    assert first[0]["success"] and first[0]["created"] is True
    assert second[0] == {"id": first[0]["id"], "success": True, "errors": [], "created": False}
    [task] = _tasks(sf, format_soql("WHERE Renkei_Id__c = {}", ext))
    assert task["Id"] == first[0]["id"] and task["WhoId"] == who
    stored = emulator.get_record("Task", task["Id"])
    assert stored is not None and stored["Attended_Minutes__c"] == 71.5
    # The same external id twice in one request: both refused, nothing saved.
    twice = _upsert(sf, [_task("zoom:w9:dup", who), _task("zoom:w9:dup", who)])
    assert [r["errors"][0]["statusCode"] for r in twice] == ["DUPLICATE_EXTERNAL_ID"] * 2
    assert _tasks(sf, "WHERE Renkei_Id__c = 'zoom:w9:dup'") == []


def test_a_whoid_that_names_no_lead_or_contact_is_refused_with_salesforces_error(
        org: Org) -> None:
    emulator, sf = org
    account = emulator.org.stores["account"].seeded_id(0)
    missing = emulator.org.stores["lead"].seeded_id(SIZE + 50)  # right prefix, no record
    converted = _lead(emulator, 19)
    assert converted["IsConverted"] is True
    deleted = _lead(emulator, 3)["Id"]
    emulator.org.delete("Lead", deleted)
    good = _lead(emulator, 1)["Id"]
    results = _upsert(sf, [
        _task("bad:1", account), _task("bad:2", missing), _task("bad:3", converted["Id"]),
        _task("bad:4", deleted), _task("bad:5", "not-an-id"), _task("ok:1", good)],
        allOrNone=False)
    errors = [(r["errors"][0]["statusCode"], r["errors"][0]["fields"]) if r["errors"] else None
              for r in results]
    assert errors == [("FIELD_INTEGRITY_EXCEPTION", ["WhoId"]),
                      ("INVALID_CROSS_REFERENCE_KEY", ["WhoId"]),
                      ("CANNOT_UPDATE_CONVERTED_LEAD", []),
                      ("INVALID_CROSS_REFERENCE_KEY", ["WhoId"]),
                      ("MALFORMED_ID", ["WhoId"]),
                      None]
    assert results[0]["errors"][0]["message"] == f"Name ID: id value of incorrect type: {account}"
    assert _tasks(sf, "WHERE Renkei_Id__c LIKE 'bad:%'") == []
    # The single-record resource answers 400 with the same code, which simple-salesforce raises.
    with pytest.raises(SalesforceMalformedRequest) as refused:
        _task_type(sf).create({"Subject": "x", "WhoId": account})
    assert _refusal(refused.value)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    # WhatId names a thing, never a person.
    with pytest.raises(SalesforceMalformedRequest) as refused:
        _task_type(sf).create({"Subject": "x", "WhatId": good})
    assert _refusal(refused.value)["message"] == (
        f"Related To ID: id value of incorrect type: {good}")


def test_simple_salesforce_creates_reads_and_upserts_a_task(org: Org) -> None:
    emulator, sf = org
    task_type = _task_type(sf)
    contact = emulator.org.stores["contact"].seeded_id(2)
    created = task_type.create({"Subject": "電話: 導入時期の確認", "WhoId": contact[:15],
                              "ActivityDate": "2026-10-01", "Type": "Call"})
    task = task_type.get(created["id"])
    # Salesforce's defaults and derived fields; the lookup back in its 18-character form.
    assert (task["Status"], task["Priority"], task["IsClosed"], task["TaskSubtype"]) == (
        "Not Started", "Normal", False, "Task")
    assert task["WhoId"] == contact and task["OwnerId"]
    task_type.update(created["id"], {"Status": "Completed"})
    assert task_type.get(created["id"])["IsClosed"] is True
    with pytest.raises(SalesforceMalformedRequest) as refused:
        task_type.update(created["id"], {"TaskSubtype": "Call"})  # set on create only
    assert _refusal(refused.value)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    status = task_type.upsert("Renkei_Id__c/brightcove:6360000000001:viewer-1",
                            {"Subject": "オンデマンド: 生産管理入門", "WhoId": contact,
                             "Percent_Viewed__c": 92.5})
    assert status == 201
    by_ext = task_type.get_by_custom_id("Renkei_Id__c", "brightcove:6360000000001:viewer-1")
    assert by_ext["Percent_Viewed__c"] == 92.5 and by_ext["WhoId"] == contact
    fields = {f["name"]: f for f in task_type.describe()["fields"]}
    assert fields["Renkei_Id__c"]["externalId"] and fields["Renkei_Id__c"]["unique"]
    assert fields["WhoId"]["referenceTo"] == ["Contact", "Lead"]
    assert not fields["IsClosed"]["createable"] and not fields["TaskSubtype"]["updateable"]
    status_values = [v["value"] for v in fields["Status"]["picklistValues"]]
    assert "Completed" in status_values and fields["Status"]["defaultedOnCreate"]


def test_soql_reads_tasks_incrementally_and_by_person(org: Org) -> None:
    emulator, sf = org
    leads = [_lead(emulator, i)["Id"] for i in (10, 11)]
    latest = _tasks(sf, "ORDER BY SystemModstamp DESC LIMIT 1")
    since = str(latest[0]["SystemModstamp"]) if latest else "2026-01-01T00:00:00Z"
    time.sleep(0.01)
    records = [_task(f"soql:{i}", leads[i % 2], ActivityDate=f"2026-09-1{i}",
                     Status="Completed" if i else "Not Started") for i in range(4)]
    saved = _upsert(sf, records)
    assert all(r["success"] for r in saved)
    newer = _tasks(sf, f"WHERE SystemModstamp > {since[:19]}Z ORDER BY SystemModstamp, Id")
    assert [t["Renkei_Id__c"] for t in newer][-4:] == [f"soql:{i}" for i in range(4)]
    by_person = _tasks(sf, format_soql("WHERE WhoId = {} ORDER BY ActivityDate", leads[1]))
    assert [t["Renkei_Id__c"] for t in by_person] == ["soql:1", "soql:3"]
    # A 15-character id in the filter finds the 18-character values too.
    both = _tasks(sf, format_soql("WHERE WhoId IN {} AND IsClosed = true",
                                  [leads[0][:15], leads[1]]))
    assert sorted(t["Renkei_Id__c"] for t in both) == ["soql:1", "soql:2", "soql:3"]
    dated = _tasks(sf, "WHERE ActivityDate = 2026-09-12 AND Subject LIKE '製造業%'")
    assert [t["Renkei_Id__c"] for t in dated] == ["soql:2"]
    count = sf.query(format_soql("SELECT COUNT() FROM Task WHERE WhoId = {}", leads[0]))
    assert count["totalSize"] == 2
