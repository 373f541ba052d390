"""sObject Collections: many records per call (``/composite/sobjects``).

[C: REST API Developer Guide, "sObject Collections" create/update/upsert/delete pages]

* ``POST`` creates, ``PATCH`` updates by ``id`` (or ``Id``), ``PATCH .../{Obj}/{ExtField}``
  upserts (API 46.0+, one object type, results carry ``created``), ``DELETE ?ids=`` deletes;
  ``GET .../{Obj}?ids=&fields=`` retrieves.
* At most 200 records; every record needs ``attributes.type``; records of several types are
  processed in chunks of consecutive same-type records, at most 10 chunks.
* A well-formed request answers 200 with one SaveResult per record, in order:
  ``{"id", "success", "errors": [{"statusCode", "message", "fields"}]}``.
* ``allOrNone`` (default false): when true and any record fails, nothing is saved and the
  records that would have succeeded report ALL_OR_NONE_OPERATION_ROLLED_BACK [S: message].
* Over 200 records: 400 EXCEEDED_ID_LIMIT [S: message]; the same external id twice in one
  upsert: both fail with DUPLICATE_EXTERNAL_ID [S]; an id on a create: INVALID_FIELD
  "cannot specify Id in an insert call" [S].
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sandbox.salesforce.ids import to_18
from sandbox.salesforce.org import WriteOutcome
from sandbox.salesforce.rest import NOT_FOUND, Call, Reply, error_reply
from sandbox.salesforce.validation import RequestError, SfError

__all__ = ["MAX_RECORDS", "handle_collections"]

MAX_RECORDS = 200
MAX_CHUNKS = 10
_ROLLED_BACK = SfError("ALL_OR_NONE_OPERATION_ROLLED_BACK",
                       "Record rolled back because not all records were valid and the request "
                       "was using AllOrNone header", [])


def _limit_error() -> Reply:
    return error_reply(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                       f"{MAX_RECORDS} records into this call")


def _body(call: Call) -> tuple[list[dict[str, Any]], bool]:
    data = call.json()
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise RequestError("JSON_PARSER_ERROR", "The request body must be an object with a "
                           "'records' list")
    records = data["records"]
    for record in records:
        if not isinstance(record, dict):
            raise RequestError("JSON_PARSER_ERROR", "Each record must be a JSON object")
        attrs = record.get("attributes")
        if not isinstance(attrs, dict) or not attrs.get("type"):
            raise RequestError("INVALID_TYPE", "Must send a concrete entity type.")
        if call.org.store(str(attrs["type"])) is None:
            raise RequestError("INVALID_TYPE",
                               f"sObject type '{attrs['type']}' is not supported.")
    return records, bool(data.get("allOrNone", False))


def _chunks_ok(records: list[dict[str, Any]]) -> bool:
    chunks, previous = 0, None
    for record in records:
        kind = str(record["attributes"]["type"]).lower()
        if kind != previous:
            chunks, previous = chunks + 1, kind
    return chunks <= MAX_CHUNKS


def _fields(record: dict[str, Any], *drop: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "attributes" and k.lower() not in drop}


def handle_collections(call: Call) -> Reply:
    """Dispatch ``composite/sobjects[/{Obj}[/{ExtField}]]``."""
    rest = call.parts[2:]
    if call.method == "DELETE" and not rest:
        return _delete(call)
    if call.method == "GET" and len(rest) == 1:
        return _retrieve(call, rest[0])
    if call.method == "POST" and not rest:
        return _save(call, "create", None, None)
    if call.method == "PATCH" and not rest:
        return _save(call, "update", None, None)
    if call.method == "PATCH" and len(rest) == 2:
        return _save(call, "upsert", rest[0], rest[1])
    return error_reply(404, "NOT_FOUND", NOT_FOUND)


def _save(call: Call, mode: str, sobject: str | None, ext_field: str | None) -> Reply:
    org = call.org
    if mode == "upsert":
        assert sobject is not None and ext_field is not None
        store = org.store(sobject)
        if store is None:
            return error_reply(404, "NOT_FOUND", NOT_FOUND)
        fd = store.odef.field(ext_field)
        if fd is None or not fd.external_id:
            return error_reply(400, "INVALID_FIELD", f"Field name provided, {ext_field} is not "
                               f"an External ID or indexed field for {store.odef.name}")
        ext_field = fd.name
    records, all_or_none = _body(call)
    if len(records) > MAX_RECORDS:
        return _limit_error()
    if not _chunks_ok(records):
        return error_reply(400, "INVALID_BATCH_REQUEST",
                           f"Cannot have more than {MAX_CHUNKS} chunks in a single operation. "
                           "Please rearrange the data to reduce chunking.")
    if mode == "upsert":
        for record in records:
            if str(record["attributes"]["type"]).lower() != str(sobject).lower():
                raise RequestError("INVALID_TYPE", "All records must be of the type named in "
                                   "the request URI.")
    seen_ext = Counter(str(_get(r, ext_field)).casefold() for r in records
                       if ext_field and _get(r, ext_field) is not None)
    batch = org.begin_batch()
    if all_or_none:
        org.begin_undo()
    outcomes: list[WriteOutcome] = []
    try:
        for record in records:
            kind = str(record["attributes"]["type"])
            outcomes.append(_one(call, mode, kind, ext_field, record, seen_ext, batch))
        if all_or_none and any(not o.ok for o in outcomes):
            org.rollback()
            outcomes = [o if not o.ok else WriteOutcome(errors=[_ROLLED_BACK]) for o in outcomes]
    finally:
        org.end_undo()
    with_created = mode == "upsert"
    return Reply(200, [o.save_result(with_created=with_created) for o in outcomes])


def _get(record: dict[str, Any], name: str | None) -> Any:
    if name is None:
        return None
    return next((v for k, v in record.items() if k.lower() == name.lower()), None)


def _one(call: Call, mode: str, kind: str, ext_field: str | None, record: dict[str, Any],
         seen_ext: Counter[str], batch: set[str]) -> WriteOutcome:
    org = call.org
    try:
        if mode == "create":
            if _get(record, "id") is not None:
                return WriteOutcome(errors=[SfError(
                    "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])])
            return org.create(kind, _fields(record), batch=batch)
        if mode == "update":
            rid = _get(record, "id")
            if not rid:
                return WriteOutcome(errors=[SfError(
                    "MISSING_ARGUMENT", "Id not specified in an update call", [])])
            if to_18(str(rid)) is None or not str(rid).startswith(
                    org.stores[kind.lower()].odef.key_prefix):
                return WriteOutcome(errors=[SfError(
                    "MALFORMED_ID", f"{kind} ID: id value of incorrect type: {rid}", ["Id"])])
            return org.update(kind, str(rid), _fields(record, "id"), batch=batch)
        assert ext_field is not None
        value = _get(record, ext_field)
        if value is None or value == "":
            return WriteOutcome(errors=[SfError(
                "MISSING_ARGUMENT", f"{ext_field} not specified", [ext_field])])
        if seen_ext[str(value).casefold()] > 1:
            return WriteOutcome(errors=[SfError(
                "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}",
                [ext_field])])
        return org.upsert(kind, ext_field, str(value), _fields(record, ext_field.lower()),
                          batch=batch)
    except RequestError as exc:
        # Inside a collection a field-level parse problem fails that record only.
        return WriteOutcome(errors=[exc.error])


def _delete(call: Call) -> Reply:
    ids = [i for i in call.params.get("ids", "").split(",") if i]
    if not ids:
        return error_reply(400, "MISSING_ARGUMENT", "ids parameter is required")
    if len(ids) > MAX_RECORDS:
        return _limit_error()
    all_or_none = call.params.get("allOrNone", "false").lower() == "true"
    org = call.org
    if all_or_none:
        org.begin_undo()
    outcomes = []
    try:
        for raw in ids:
            store = org.sobject_of(raw)
            if store is None or to_18(raw) is None:
                outcomes.append(WriteOutcome(errors=[SfError(
                    "MALFORMED_ID", f"malformed id {raw}", [])]))
                continue
            outcome = org.delete(store.odef.name, raw)
            outcome.id = outcome.id or to_18(raw)
            outcomes.append(outcome)
        if all_or_none and any(not o.ok for o in outcomes):
            org.rollback()
            outcomes = [o if not o.ok else WriteOutcome(id=o.id, errors=[_ROLLED_BACK])
                        for o in outcomes]
    finally:
        org.end_undo()
    return Reply(200, [o.save_result() for o in outcomes])


def _retrieve(call: Call, sobject: str) -> Reply:
    store = call.org.store(sobject)
    if store is None:
        return error_reply(404, "NOT_FOUND", NOT_FOUND)
    ids = [i for i in call.params.get("ids", "").split(",") if i]
    names = [n.strip() for n in call.params.get("fields", "").split(",") if n.strip()]
    fields = []
    for name in names:
        fd = store.odef.field(name)
        if fd is None:
            return error_reply(400, "INVALID_FIELD", f"No such column '{name}' on sobject of "
                               f"type {store.odef.name}")
        fields.append(fd)
    if len(ids) > 2000:
        return _limit_error()
    out: list[Any] = []
    for raw in ids:
        rid = to_18(raw)
        record = store.get(rid) if rid else None
        if record is None or record["IsDeleted"]:
            out.append(None)
        else:
            out.append(call.engine.render(store, record, fields or store.odef.fields,
                                          call.version))
    return Reply(200, out)
