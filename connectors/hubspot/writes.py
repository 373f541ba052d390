"""Batch writes: create, update by id, upsert by a unique property (email for contacts).

One vendor call per kind of op and 100 inputs; results are matched back to the ops by id
(updates), by the ``idProperty`` value (upserts) or by position (creates, whose results
HubSpot returns in input order [U]), and a 207's ``errors`` by their ``context.ids``. A batch
create is all or nothing at HubSpot (one taken email fails it with a 409), so a refused
create batch is split in halves until each bad op stands alone with its own reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.hubspot.api import BATCH_LIMIT, HubSpotApi
from connectors.hubspot.errors import input_error
from connectors.sdk import (
    ConfigurationError,
    ErrorCategory,
    ProtocolError,
    RecordError,
    WriteMode,
    WriteOp,
    WriteResult,
)

__all__ = ["write_objects"]

_ASSOCIATION_TYPES = {"deals": 3, "calls": 194, "meetings": 200, "notes": 202, "emails": 198}
"""HUBSPOT_DEFINED type ids from these objects to contacts [U: REFERENCE.md §6]."""


def _properties(op: WriteOp, read_only: frozenset[str]) -> dict[str, Any]:
    skip = read_only | {"id", "contact_ids", "engagement_type"}
    return {k: v for k, v in op.values.items() if k not in skip}


def _errors_by_ref(body: Mapping[str, Any]) -> dict[str, RecordError]:
    out: dict[str, RecordError] = {}
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            for ref in (error.get("context") or {}).get("ids") or []:
                out[str(ref).strip().lower()] = input_error(error)
    return out


def _missing(message: str) -> WriteResult:
    return WriteResult.failure(RecordError(ErrorCategory.UNKNOWN, message))


def _updates(api: HubSpotApi, obj: str, ops: Sequence[WriteOp],
             read_only: frozenset[str]) -> list[WriteResult]:
    body = api.batch(obj, "update", {"inputs": [
        {"id": op.id, "properties": _properties(op, read_only)} for op in ops]}, idempotent=True)
    done = {str(r.get("id")) for r in body["results"] if isinstance(r, dict)}
    errors = _errors_by_ref(body)
    return [WriteResult.success(str(op.id)) if str(op.id) in done
            else WriteResult.failure(errors.get(str(op.id).lower()) or RecordError(
                ErrorCategory.UNKNOWN, "HubSpot returned neither a result nor an error"))
            for op in ops]


def _upserts(api: HubSpotApi, obj: str, ops: Sequence[WriteOp], id_property: str,
             read_only: frozenset[str]) -> list[WriteResult]:
    refs = [str(op.values.get(id_property) or "").strip() for op in ops]
    inputs = [{"idProperty": id_property, "id": ref,
               "properties": {k: v for k, v in _properties(op, read_only).items()
                              if k != id_property}} for op, ref in zip(ops, refs, strict=True)]
    body = api.batch(obj, "upsert", {"inputs": inputs}, idempotent=True)
    by_ref: dict[str, Mapping[str, Any]] = {}
    for result in body["results"]:
        props = result.get("properties") or {} if isinstance(result, dict) else {}
        value = str(props.get(id_property) or "").strip().lower()
        if value:
            by_ref[value] = result
    errors = _errors_by_ref(body)
    out = []
    for ref in refs:
        found = by_ref.get(ref.lower())
        if found is not None:
            out.append(WriteResult.success(str(found.get("id")), created=bool(found.get("new"))))
        else:
            out.append(WriteResult.failure(errors.get(ref.lower()) or RecordError(
                ErrorCategory.UNKNOWN, "HubSpot returned neither a result nor an error")))
    return out


def _create_input(obj: str, op: WriteOp, read_only: frozenset[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"properties": _properties(op, read_only)}
    contacts = op.values.get("contact_ids") or []
    if contacts and obj in _ASSOCIATION_TYPES:
        item["associations"] = [{"to": {"id": str(c)}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED",
             "associationTypeId": _ASSOCIATION_TYPES[obj]}]} for c in contacts]
    return item


def _creates(api: HubSpotApi, obj: str, ops: Sequence[WriteOp],
             read_only: frozenset[str]) -> list[WriteResult]:
    try:
        body = api.batch(obj, "create", {"inputs": [_create_input(obj, op, read_only)
                                                    for op in ops]}, idempotent=False)
    except ProtocolError as exc:  # the classifier's 400 or 409: the batch was refused
        if len(ops) == 1:
            category = exc.vendor_code or ("CONFLICT" if exc.status == 409 else "")
            return [WriteResult.failure(input_error({"category": category,
                                                     "message": exc.message}))]
        half = len(ops) // 2
        return (_creates(api, obj, ops[:half], read_only)
                + _creates(api, obj, ops[half:], read_only))
    results = [r for r in body["results"] if isinstance(r, dict)]
    if len(results) != len(ops):
        raise ProtocolError(f"HubSpot batch create of {obj}: {len(ops)} inputs, "
                            f"{len(results)} results")
    return [WriteResult.success(str(r.get("id")), created=True) for r in results]


def write_objects(api: HubSpotApi, obj: str, ops: Sequence[WriteOp], *,
                  upsert_property: str | None, read_only: frozenset[str]) -> list[WriteResult]:
    """Write ops of one object type; one result per op, in order.

    Raises:
        ConfigurationError: an upsert on a type without an upsert key, or an update
            without an id.
    """
    results: list[WriteResult | None] = [None] * len(ops)
    groups: dict[WriteMode, list[int]] = {}
    for index, op in enumerate(ops):
        if op.mode is WriteMode.UPDATE and not op.id:
            raise ConfigurationError(f"HubSpot {obj}: an update needs the record id")
        if op.mode is WriteMode.UPSERT and upsert_property is None:
            raise ConfigurationError(f"HubSpot {obj} has no upsert key; create or update")
        groups.setdefault(op.mode, []).append(index)
    for mode, indexes in groups.items():
        for start in range(0, len(indexes), BATCH_LIMIT):
            chunk = indexes[start:start + BATCH_LIMIT]
            batch = [ops[i] for i in chunk]
            if mode is WriteMode.UPDATE:
                done = _updates(api, obj, batch, read_only)
            elif mode is WriteMode.UPSERT:
                assert upsert_property is not None
                done = _upserts_rounds(api, obj, batch, upsert_property, read_only)
            else:
                done = _creates(api, obj, batch, read_only)
            for i, result in zip(chunk, done, strict=True):
                results[i] = result
    return [r or _missing("not written") for r in results]


def _upserts_rounds(api: HubSpotApi, obj: str, ops: Sequence[WriteOp], id_property: str,
                    read_only: frozenset[str]) -> list[WriteResult]:
    """Upserts in rounds, so one batch never names the same key twice (HubSpot: 400)."""
    results: list[WriteResult | None] = [None] * len(ops)
    pending = list(range(len(ops)))
    while pending:
        keys: set[str] = set()
        round_, later = [], []
        for i in pending:
            key = str(ops[i].values.get(id_property) or "").strip().lower()
            if not key:
                results[i] = WriteResult.failure(RecordError(
                    ErrorCategory.VALIDATION, f"an upsert needs a value in {id_property}",
                    fields=(id_property,)))
            elif key in keys:
                later.append(i)
            else:
                keys.add(key)
                round_.append(i)
        if round_:
            done = _upserts(api, obj, [ops[i] for i in round_], id_property, read_only)
            for i, result in zip(round_, done, strict=True):
                results[i] = result
        pending = later
    return [r or _missing("not written") for r in results]
