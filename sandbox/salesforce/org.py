"""The emulated org's data layer: record writes with validation, duplicates and failures.

Everything here is HTTP-free; :mod:`sandbox.salesforce.app` turns requests into these calls
and the results into Salesforce's response bodies.

Vendor behaviour relied on:

* a create stamps ``CreatedDate = LastModifiedDate = SystemModstamp`` and defaults
  (``Status`` ``Open - Not Contacted``, ``OwnerId`` the API user); an update or a delete
  bumps ``LastModifiedDate`` and ``SystemModstamp`` [C: Object Reference, system fields];
* a deleted record goes to the recycle bin: ``IsDeleted`` true, visible to ``queryAll`` only;
  writing to it fails with ENTITY_IS_DELETED "entity is deleted" [S];
* an id that never existed fails with INVALID_CROSS_REFERENCE_KEY "invalid cross reference
  id" in a collection, 404 NOT_FOUND on the single-record resource [S];
* the standard lead duplicate rule blocks a lead whose email matches another lead's
  (case-insensitive): DUPLICATES_DETECTED "Use one of these records?" with a
  ``duplicateResult`` on the single-record body [S]; the records of one collection request
  are compared with the records saved before it, not with each other [U];
* a unique external id that another record already holds fails with DUPLICATE_VALUE [S].
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.salesforce.duplicates import EmailIndex
from sandbox.salesforce.ids import to_18
from sandbox.salesforce.opportunities import derive_stage_fields
from sandbox.salesforce.schema import ObjectDef, object_def
from sandbox.salesforce.store import Key, ObjectStore, SeedSource
from sandbox.salesforce.tasks import check_task_references, derive_task_fields
from sandbox.salesforce.validation import SfError, check_record, coerce

__all__ = ["API_USER_ID", "FailurePattern", "Org", "WriteOutcome"]

Record = dict[str, Any]
API_USER_ID = "0055j000000ApiUAAS"


@dataclass
class FailurePattern:
    """Reject writes of matching records with a chosen error, for tests and demos.

    Attributes:
        code: Error code to return (``UNABLE_TO_LOCK_ROW``, ``FIELD_CUSTOM_VALIDATION_EXCEPTION``).
        message: Error message.
        field: Field whose value is matched.
        pattern: Regular expression searched in the value.
        sobject: Only for this object (None: any).
        times: Fail this many matching writes, then let them through (None: always).
    """

    code: str
    message: str
    field: str
    pattern: str
    sobject: str | None = None
    times: int | None = None
    fired: int = 0

    def matches(self, sobject: str, values: Mapping[str, Any]) -> bool:
        if self.sobject is not None and self.sobject.lower() != sobject.lower():
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        value = next((v for k, v in values.items() if k.lower() == self.field.lower()), None)
        return value is not None and re.search(self.pattern, str(value)) is not None


@dataclass
class WriteOutcome:
    """The result of one record write: an id (``created`` or not) or errors."""

    id: str | None = None
    created: bool = False
    errors: list[SfError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def save_result(self, *, with_created: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "success": self.ok,
                                "errors": [e.as_save_error() for e in self.errors]}
        if self.id is None:
            body.pop("id")
        if with_created and self.ok:
            body["created"] = self.created
        return body


class Org:
    """All objects of one org and the rules that guard their writes.

    Args:
        seeds: Object name to its seeded records.
        clock: Current time.
        duplicate_rule: Block leads whose email another lead already has.
        failures: Failure patterns applied to every write.
    """

    def __init__(self, seeds: Mapping[str, SeedSource | None], clock: Callable[[], datetime],
                 *, duplicate_rule: bool = True, failures: list[FailurePattern] | None = None):
        self.clock = clock
        self.stores: dict[str, ObjectStore] = {}
        for name, seed in seeds.items():
            odef = object_def(name)
            assert odef is not None, name
            self.stores[odef.name.lower()] = ObjectStore(odef, seed, clock)
        self.duplicate_rule = duplicate_rule
        self.failures = failures or []
        self._ext: dict[tuple[str, str], dict[str, str]] = {}
        self._emails = EmailIndex(self.stores["lead"]) if "lead" in self.stores else None
        self._undo: list[tuple[ObjectStore, str, Key | None, Record | None]] | None = None

    def store(self, sobject: str) -> ObjectStore | None:
        return self.stores.get(sobject.lower())

    # -- external ids ------------------------------------------------------------------
    def _ext_map(self, store: ObjectStore, field_name: str) -> dict[str, str]:
        key = (store.odef.name, field_name)
        if key not in self._ext:
            # Seeded records carry no external ids, so only live records need indexing.
            self._ext[key] = {
                str(r[field_name]).casefold(): r["Id"] for r in store.live_records()
                if r.get(field_name) is not None and not r["IsDeleted"]}
        return self._ext[key]

    def find_by_external_id(self, store: ObjectStore, field_name: str, value: str) -> str | None:
        """The id of the record whose external id ``field_name`` equals ``value``."""
        return self._ext_map(store, field_name).get(value.casefold())

    def _reindex(self, store: ObjectStore, old: Record | None, new: Record) -> None:
        for fd in store.odef.fields:
            if not fd.unique:
                continue
            ext = self._ext_map(store, fd.name)
            old_key = str(old[fd.name]).casefold() if old and old.get(fd.name) is not None else None
            if old is not None and old_key is not None and ext.get(old_key) == old["Id"]:
                del ext[old_key]
            if new.get(fd.name) is not None and not new["IsDeleted"]:
                ext[str(new[fd.name]).casefold()] = new["Id"]

    # -- checks ------------------------------------------------------------------------
    def _rules(self, store: ObjectStore, values: Record, merged: Record,
               batch: set[str] | None, self_id: str | None) -> list[SfError]:
        odef = store.odef
        for fd in odef.fields:
            if fd.unique and values.get(fd.name) is not None:
                holder = self.find_by_external_id(store, fd.name, str(values[fd.name]))
                if holder is not None and holder != self_id:
                    return [SfError("DUPLICATE_VALUE",
                                    f"duplicate value found: {fd.name} duplicates value on "
                                    f"record with id: {holder}", [fd.name])]
        if "AccountId" in values and values["AccountId"] is not None:
            account = self.stores.get("account")
            target = to_18(values["AccountId"])
            if account is not None and target is not None:
                found = account.get(target)
                if found is None or found["IsDeleted"]:
                    return [SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                                    ["AccountId"])]
        if odef.name == "Task":
            wrong = check_task_references(self.stores, values)
            if wrong is not None:
                return [wrong]
        for pattern in self.failures:
            if pattern.matches(odef.name, merged):
                pattern.fired += 1
                return [SfError(pattern.code, pattern.message, [])]
        if (self.duplicate_rule and odef.name == "Lead" and self._emails is not None
                and values.get("Email")):
            for holder in self._emails.holders(values["Email"]):
                if holder == self_id or (batch is not None and holder in batch):
                    continue
                return [self._duplicate_error(odef, holder)]
        return []

    @staticmethod
    def _duplicate_error(odef: ObjectDef, holder: str) -> SfError:
        match = {"record": {"attributes": {"type": odef.name,
                                           "url": f"/services/data/v59.0/sobjects/{odef.name}/{holder}"},
                            "Id": holder},
                 "additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100.0}
        return SfError("DUPLICATES_DETECTED", "Use one of these records?", [], {
            "duplicateResult": {
                "allowSave": False, "duplicateRule": "Standard_Rule_for_Leads_with_Duplicate_Leads",
                "duplicateRuleEntityType": odef.name, "errorMessage": "Use one of these records?",
                "matchResults": [{"entityType": odef.name, "errors": [],
                                  "matchEngine": "ExactMatchEngine", "matchRecords": [match],
                                  "rule": "Standard_Lead_Match_Rule_v1_0", "size": 1,
                                  "success": True}]}})

    # -- writes ------------------------------------------------------------------------
    def _stamp_new(self, store: ObjectStore, values: Record) -> Record:
        record: Record = {fd.name: None for fd in store.odef.fields}
        for fd in store.odef.fields:
            if fd.default is not None:
                record[fd.name] = fd.default
        record.update({k: v for k, v in values.items() if v is not None})
        stamp = store.stamp()
        record.update(Id=store.new_id(), IsDeleted=False, CreatedDate=stamp,
                      LastModifiedDate=stamp, SystemModstamp=stamp,
                      CreatedById=API_USER_ID, LastModifiedById=API_USER_ID)
        if "OwnerId" in record:  # a contact role has no owner
            record["OwnerId"] = record["OwnerId"] or API_USER_ID
        _set_name(record)
        if store.odef.name == "Opportunity":
            derive_stage_fields(record, None, values)
        elif store.odef.name == "Task":
            derive_task_fields(record)
        return record

    def create(self, sobject: str, raw: Mapping[str, Any], *,
               batch: set[str] | None = None) -> WriteOutcome:
        """Create one record (``raw`` as sent; coerced here).

        Raises:
            RequestError: an unknown field or an unreadable value.
        """
        store = self.stores[sobject.lower()]
        values = coerce(store.odef, raw)
        errors = check_record(store.odef, values, creating=True)
        merged = {**{fd.name: fd.default for fd in store.odef.fields}, **values}
        errors = errors or self._rules(store, values, merged, batch, None)
        if errors:
            return WriteOutcome(errors=errors)
        record = self._stamp_new(store, values)
        store.put_new(record)
        if self._undo is not None:
            self._undo.append((store, record["Id"], None, None))
        self._reindex(store, None, record)
        if batch is not None:
            batch.add(record["Id"])
        return WriteOutcome(id=record["Id"], created=True)

    def update(self, sobject: str, record_id: str, raw: Mapping[str, Any], *,
               batch: set[str] | None = None, as_user: bool = False) -> WriteOutcome:
        """Update one record by id; ``as_user`` is an edit in the UI (field checks only)."""
        store = self.stores[sobject.lower()]
        values = coerce(store.odef, raw)
        values.pop("Id", None)
        rid = to_18(record_id)
        if rid is None:
            return WriteOutcome(errors=[SfError(
                "MALFORMED_ID", f"{store.odef.name} ID: id value of incorrect type: {record_id}",
                ["Id"])])
        current = store.get(rid)
        if current is None:
            return WriteOutcome(errors=[SfError("INVALID_CROSS_REFERENCE_KEY",
                                                "invalid cross reference id", [])])
        if current["IsDeleted"]:
            return WriteOutcome(errors=[SfError("ENTITY_IS_DELETED", "entity is deleted", [])])
        errors = check_record(store.odef, values, creating=False)
        if not errors and not as_user:
            # A user in the UI gets the field checks; the duplicate rule and the failure
            # patterns stand for what the API sees.
            errors = self._rules(store, values, {**current, **values}, batch, rid)
        if errors:
            return WriteOutcome(id=rid, errors=errors)
        record = {**current, **values}
        stamp = store.stamp()
        record.update(LastModifiedDate=stamp, SystemModstamp=stamp, LastModifiedById=API_USER_ID)
        _set_name(record)
        if store.odef.name == "Opportunity":
            derive_stage_fields(record, current, values)
        elif store.odef.name == "Task":
            derive_task_fields(record)
        self._replace(store, rid, current, record)
        return WriteOutcome(id=rid)

    def upsert(self, sobject: str, ext_field: str, ext_value: str, raw: Mapping[str, Any], *,
               batch: set[str] | None = None) -> WriteOutcome:
        """Create or update by an external id field."""
        store = self.stores[sobject.lower()]
        holder = self.find_by_external_id(store, ext_field, ext_value)
        values = dict(raw)
        if holder is None:
            values[ext_field] = ext_value
            return self.create(sobject, values, batch=batch)
        values.pop(ext_field, None)
        outcome = self.update(sobject, holder, values, batch=batch)
        outcome.created = False
        return outcome

    def delete(self, sobject: str, record_id: str) -> WriteOutcome:
        """Move a record to the recycle bin."""
        store = self.stores[sobject.lower()]
        rid = to_18(record_id)
        current = store.get(rid) if rid else None
        if rid is None or current is None:
            return WriteOutcome(errors=[SfError("INVALID_CROSS_REFERENCE_KEY",
                                                "invalid cross reference id", [])])
        if current["IsDeleted"]:
            return WriteOutcome(id=rid, errors=[SfError("ENTITY_IS_DELETED",
                                                        "entity is deleted", [])])
        stamp = store.stamp()
        record = {**current, "IsDeleted": True, "LastModifiedDate": stamp,
                  "SystemModstamp": stamp}
        self._replace(store, rid, current, record)
        return WriteOutcome(id=rid)

    def _replace(self, store: ObjectStore, rid: str, current: Record, record: Record) -> None:
        if self._undo is not None:
            self._undo.append((store, rid, store.key_of(rid), current))
        store.replace(rid, record)
        self._reindex(store, current, record)

    def begin_undo(self) -> None:
        """Start recording writes so that :meth:`rollback` can undo them (allOrNone)."""
        self._undo = []

    def end_undo(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        """Undo every write since :meth:`begin_undo`."""
        for store, rid, key, before in reversed(self._undo or []):
            if before is None or key is None:
                store.forget(rid)
            else:
                store.restore(key, before)
        self._undo = None
        self._ext.clear()  # rebuilt from the stores on next use

    @staticmethod
    def begin_batch() -> set[str]:
        """Start a collection request: the records it creates are not checked against each
        other by the duplicate rule."""
        return set()

    def sobject_of(self, record_id: str) -> ObjectStore | None:
        """The store an id's key prefix belongs to."""
        for store in self.stores.values():
            if record_id.startswith(store.odef.key_prefix):
                return store
        return None


def _set_name(record: Record) -> None:
    if "LastName" in record:
        # Japanese locale orders names family-name first.
        record["Name"] = " ".join(p for p in (record.get("LastName"), record.get("FirstName")) if p)
