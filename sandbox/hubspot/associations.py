"""Associations v4: read (one record, or in batch) and create default associations.

Shapes per the v4 spec (``associations.json``) [C]: a batch read answers
``{"status", "results": [{"from": {"id"}, "to": [{"toObjectId", "associationTypes":
[{"category", "typeId", "label"}]}]}], "startedAt", "completedAt"}``; ids unknown on the
``from`` side come back as a 207 error [U].
"""

from __future__ import annotations

from typing import Any

from sandbox.hubspot.endpoints import Result, _bad, _batch, _input_error, _inputs, _now
from sandbox.hubspot.errors import ApiError
from sandbox.hubspot.objects import ASSOCIATION_TYPES, ObjectType
from sandbox.hubspot.store import CrmStore

__all__ = ["batch_associate_default", "batch_read_associations", "create_default",
           "list_associations"]


def _type_id(src: ObjectType, dst: ObjectType) -> int:
    type_id = ASSOCIATION_TYPES.get((src.name, dst.name))
    if type_id is None:
        raise _bad(f"{src.name} cannot be associated with {dst.name} in this portal")
    return type_id


def _targets(store: CrmStore, src: ObjectType, dst: ObjectType, from_id: int) -> list[dict[str, Any]]:
    return [{"toObjectId": to_id, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]}
            for to_id, type_id in sorted(store.associations(src.name, from_id, dst.name).items())]


def list_associations(store: CrmStore, src: ObjectType, from_id: str, dst: ObjectType) -> Result:
    _type_id(src, dst)
    if not from_id.isdigit() or store.get(src.name, int(from_id)) is None:
        raise ApiError(404, "OBJECT_NOT_FOUND", "resource not found")
    return 200, {"results": _targets(store, src, dst, int(from_id))}


def batch_read_associations(store: CrmStore, src: ObjectType, dst: ObjectType,
                            body: Any) -> Result:
    started = _now(store)
    _type_id(src, dst)
    results, missing = [], []
    for item in _inputs(body):
        ref = str(item.get("id", ""))
        if not ref.isdigit() or store.get(src.name, int(ref)) is None:
            missing.append(ref)
            continue
        targets = _targets(store, src, dst, int(ref))
        if targets:
            results.append({"from": {"id": ref}, "to": targets})
    errors = [_input_error("OBJECT_NOT_FOUND", f"No {src.name} with these ids", missing)
              ] if missing else []
    return _batch(store, results, errors, 200, started)


def _associate(store: CrmStore, src: ObjectType, from_id: str, dst: ObjectType,
               to_id: str) -> dict[str, Any]:
    if not (from_id.isdigit() and to_id.isdigit() and store.get(src.name, int(from_id))
            and store.get(dst.name, int(to_id))):
        raise ApiError(404, "OBJECT_NOT_FOUND", f"{src.name} {from_id} or {dst.name} {to_id} "
                       "does not exist")
    store.associate(src.name, int(from_id), dst.name, int(to_id), _type_id(src, dst),
                    _type_id(dst, src))
    return {"fromObjectTypeId": src.type_id, "fromObjectId": int(from_id),
            "toObjectTypeId": dst.type_id, "toObjectId": int(to_id),
            "labels": []}


def create_default(store: CrmStore, src: ObjectType, from_id: str, dst: ObjectType,
                   to_id: str) -> Result:
    started = _now(store)
    result = _associate(store, src, from_id, dst, to_id)
    return _batch(store, [result], [], 200, started)


def batch_associate_default(store: CrmStore, src: ObjectType, dst: ObjectType,
                            body: Any) -> Result:
    started = _now(store)
    results = []
    for item in _inputs(body):
        try:
            results.append(_associate(store, src, str(item["from"]["id"]), dst,
                                      str(item["to"]["id"])))
        except (KeyError, TypeError):
            raise _bad("each input needs from.id and to.id") from None
    return _batch(store, results, [], 200, started)
