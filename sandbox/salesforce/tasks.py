"""Tasks: the fields Salesforce derives on save, and the checks of their polymorphic lookups.

Vendor behaviour relied on:

* ``IsClosed`` is read-only and follows ``Status`` (a closed status: ``Completed``) [S:
  Object Reference, Task];
* reference fields come back as 18-character ids whatever length was sent [C];
* ``WhoId`` takes a Lead or Contact id, ``WhatId`` (here) an Account or Opportunity id. A
  well-formed id of another object fails with FIELD_INTEGRITY_EXCEPTION "Name ID: id value
  of incorrect type: {id}", ``fields: ["WhoId"]`` [S: jsforce/jsforce#1006, an Account id
  in WhoId]; an id of the right object that does not exist or is in the recycle bin fails
  with INVALID_CROSS_REFERENCE_KEY "invalid cross reference id" [S: third-party write-ups of
  the error, as the emulator already answers for AccountId]; a text that is no id at all is
  MALFORMED_ID (:mod:`.validation`);
* a WhoId naming a converted lead fails with CANNOT_UPDATE_CONVERTED_LEAD "cannot reference
  converted lead" [S: Marketo's list of Salesforce sync errors, "trying to log to a converted
  lead"]: after conversion, activities belong on the Contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.salesforce.ids import to_18
from sandbox.salesforce.schema import CLOSED_TASK_STATUSES, TASK, object_def
from sandbox.salesforce.store import ObjectStore
from sandbox.salesforce.validation import SfError

__all__ = ["check_task_references", "derive_task_fields"]

Record = dict[str, Any]
_LOOKUPS = tuple(fd for fd in TASK.fields if fd.type == "reference" and fd.name != "OwnerId"
                 and fd.createable)


def derive_task_fields(record: Record) -> None:
    """Set the derived fields of a task being saved, in place: ``IsClosed`` from the status,
    its lookups in their 18-character form."""
    record["IsClosed"] = record.get("Status") in CLOSED_TASK_STATUSES
    for fd in _LOOKUPS:
        value = record.get(fd.name)
        if isinstance(value, str):
            record[fd.name] = to_18(value) or value


def check_task_references(stores: Mapping[str, ObjectStore],
                          values: Mapping[str, Any]) -> SfError | None:
    """The error of the first lookup in ``values`` that names no record it may name, or None.

    Args:
        stores: The org's stores by lower-case object name.
        values: Coerced fields of the write (ids already checked to be well formed).
    """
    for fd in _LOOKUPS:
        raw = values.get(fd.name)
        if raw is None:
            continue
        rid = to_18(str(raw))
        if rid is None:
            continue  # MALFORMED_ID, reported by the field checks
        targets = [odef for odef in map(object_def, fd.reference_to) if odef is not None]
        target = next((odef for odef in targets if rid.startswith(odef.key_prefix)), None)
        if target is None:
            return SfError("FIELD_INTEGRITY_EXCEPTION",
                           f"{fd.label}: id value of incorrect type: {raw}", [fd.name])
        store = stores.get(target.name.lower())
        record = store.get(rid) if store is not None else None
        if record is None or record["IsDeleted"]:
            return SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id",
                           [fd.name])
        if target.name == "Lead" and record.get("IsConverted"):
            return SfError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
    return None
