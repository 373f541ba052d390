"""The REST resources under ``/services/data/vXX.X/``: sObjects, query, limits, describe.

Each handler takes a :class:`Call` and returns a :class:`Reply`; :mod:`.app` does the HTTP.
Shapes [C: REST API Developer Guide, simple-salesforce tests; S where marked]:

* ``POST sobjects/{Obj}/`` → 201 ``{"id", "success": true, "errors": []}``;
  ``PATCH``/``DELETE sobjects/{Obj}/{Id}`` → 204; a missing record → 404 NOT_FOUND
  "The requested resource does not exist"; a recycled one → 404 ENTITY_IS_DELETED [S].
* ``PATCH sobjects/{Obj}/{ExtField}/{value}`` → 201 with ``created: true``; an update
  answers 200 with ``created: false`` from API 46.0 on, 204 before [S]; several matches →
  300 with the matching record URLs; an unknown field → 404 NOT_FOUND.
* ``GET sobjects/{Obj}/updated/?start=&end=`` and ``deleted/`` list ids by SystemModstamp.
* ``query/`` and ``queryAll/`` (with or without the trailing slash) and their
  ``nextRecordsUrl`` continuations; ``limits/``; ``sobjects/`` and ``.../describe/``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from sandbox.salesforce.ids import to_18
from sandbox.salesforce.org import Org
from sandbox.salesforce.query import QueryEngine
from sandbox.salesforce.schema import describe_global
from sandbox.salesforce.soql import SoqlError
from sandbox.salesforce.store import ObjectStore, format_ts, parse_ts
from sandbox.salesforce.validation import RequestError

__all__ = ["NOT_FOUND", "Call", "Reply", "error_reply", "handle_rest"]


@dataclass
class Call:
    """One REST request, already authenticated and counted."""

    method: str
    version: str
    parts: list[str]  # path segments after /services/data/vXX.X/
    params: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    org: Org
    engine: QueryEngine
    limits: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise RequestError("JSON_PARSER_ERROR", "Unexpected character: was expecting a "
                               "JSON value") from None


@dataclass
class Reply:
    status: int
    body: Any = None


NOT_FOUND = "The requested resource does not exist"


def error_reply(status: int, code: str, message: str, fields: list[str] | None = None) -> Reply:
    """Salesforce's error body: always a JSON array of ``{message, errorCode[, fields]}``."""
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = fields
    return Reply(status, [item])


def _resources(version: str) -> dict[str, str]:
    base = f"/services/data/v{version}"
    return {name: f"{base}/{name}" for name in (
        "sobjects", "query", "queryAll", "limits", "composite", "search", "recent",
        "tooling", "jobs/ingest", "jobs/query")}


def handle_rest(call: Call) -> Reply:
    """Dispatch one REST call."""
    parts, method = call.parts, call.method
    try:
        if not parts:
            return Reply(200, _resources(call.version)) if method == "GET" else _bad_method()
        head = parts[0]
        if head in ("query", "queryAll") and method == "GET":
            return _query(call, head)
        if head == "limits" and method == "GET" and len(parts) == 1:
            return Reply(200, call.limits)
        if head == "sobjects":
            return _sobjects(call)
        if head == "composite" and len(parts) >= 2 and parts[1] == "sobjects":
            from sandbox.salesforce.composite import handle_collections
            return handle_collections(call)
        return error_reply(404, "NOT_FOUND", NOT_FOUND)
    except RequestError as exc:
        return Reply(400, [exc.error.as_body()])
    except SoqlError as exc:
        return error_reply(400, exc.code, exc.message)


def _bad_method() -> Reply:
    return error_reply(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed for this resource")


def _batch_size(headers: Mapping[str, str]) -> int:
    raw = headers.get("sforce-query-options", "")
    for item in raw.split(","):
        key, _, value = item.partition("=")
        if key.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(200, min(2000, int(value)))
    return 2000


def _query(call: Call, endpoint: str) -> Reply:
    size = _batch_size(call.headers)
    if len(call.parts) >= 2:
        locator, _, position = call.parts[1].rpartition("-")
        if not locator or not position.isdigit():
            return error_reply(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return Reply(200, call.engine.more(locator, int(position), version=call.version,
                                           batch_size=size))
    text = call.params.get("q")
    if text is None:
        return error_reply(400, "MALFORMED_QUERY", "A query string has to be specified")
    return Reply(200, call.engine.run(text, include_deleted=endpoint == "queryAll",
                                      version=call.version, endpoint=endpoint, batch_size=size))


def _sobjects(call: Call) -> Reply:
    parts, method, org = call.parts[1:], call.method, call.org
    if not parts:
        return Reply(200, describe_global(call.version)) if method == "GET" else _bad_method()
    store = org.store(parts[0])
    if store is None:
        return error_reply(404, "NOT_FOUND", NOT_FOUND)
    odef = store.odef
    rest = parts[1:]
    if not rest:
        if method == "GET":
            return Reply(200, {"objectDescribe": odef.summary(call.version), "recentItems": []})
        if method == "POST":
            raw = call.json()
            if not isinstance(raw, dict):
                raise RequestError("JSON_PARSER_ERROR", "Expected a JSON object")
            outcome = org.create(odef.name, raw)
            if not outcome.ok:
                return Reply(400, [e.as_body() for e in outcome.errors])
            return Reply(201, outcome.save_result())
        return _bad_method()
    if rest[0] == "describe" and method == "GET" and len(rest) == 1:
        return Reply(200, odef.describe(call.version))
    if rest[0] in ("updated", "deleted") and method == "GET" and len(rest) == 1:
        return _changes(call, store, rest[0])
    if len(rest) == 1:
        return _by_id(call, store, rest[0])
    if len(rest) == 2:
        return _by_external_id(call, store, rest[0], unquote(rest[1]))
    return error_reply(404, "NOT_FOUND", NOT_FOUND)


def _render(call: Call, store: ObjectStore, record: Mapping[str, Any]) -> dict[str, Any]:
    wanted = call.params.get("fields")
    fields = store.odef.fields
    if wanted:
        names = {n.strip().lower() for n in wanted.split(",")}
        fields = tuple(f for f in fields if f.name.lower() in names)
    return call.engine.render(store, dict(record), fields, call.version)


def _by_id(call: Call, store: ObjectStore, raw_id: str) -> Reply:
    rid = to_18(raw_id)
    record = store.get(rid) if rid else None
    if rid is None or record is None or not rid.startswith(store.odef.key_prefix):
        if rid is None and call.method in ("PATCH", "DELETE"):
            return error_reply(400, "MALFORMED_ID",
                               f"{store.odef.name} ID: id value of incorrect type: {raw_id}")
        return error_reply(404, "NOT_FOUND", NOT_FOUND)
    if record["IsDeleted"]:
        return error_reply(404, "ENTITY_IS_DELETED", "entity is deleted", [])
    if call.method == "GET":
        return Reply(200, _render(call, store, record))
    if call.method == "PATCH":
        raw = call.json()
        if not isinstance(raw, dict):
            raise RequestError("JSON_PARSER_ERROR", "Expected a JSON object")
        outcome = call.org.update(store.odef.name, rid, raw)
        return Reply(204) if outcome.ok else Reply(400, [e.as_body() for e in outcome.errors])
    if call.method == "DELETE":
        outcome = call.org.delete(store.odef.name, rid)
        return Reply(204) if outcome.ok else Reply(400, [e.as_body() for e in outcome.errors])
    return _bad_method()


def _by_external_id(call: Call, store: ObjectStore, field_name: str, value: str) -> Reply:
    fd = store.odef.field(field_name)
    if fd is None or not (fd.external_id or fd.name == "Id"):
        return error_reply(404, "NOT_FOUND", "Provided external ID field does not exist or is "
                           f"not accessible: {field_name}")
    org = call.org
    holder = org.find_by_external_id(store, fd.name, value)
    if call.method == "GET":
        record = store.get(holder) if holder else None
        if record is None:
            return error_reply(404, "NOT_FOUND", NOT_FOUND)
        return Reply(200, _render(call, store, record))
    if call.method == "PATCH":
        raw = call.json()
        if not isinstance(raw, dict):
            raise RequestError("JSON_PARSER_ERROR", "Expected a JSON object")
        outcome = org.upsert(store.odef.name, fd.name, value, raw)
        if not outcome.ok:
            return Reply(400, [e.as_body() for e in outcome.errors])
        if outcome.created:
            return Reply(201, outcome.save_result(with_created=True))
        if float(call.version) >= 46.0:
            return Reply(200, outcome.save_result(with_created=True))
        return Reply(204)
    if call.method == "DELETE":
        if holder is None:
            return error_reply(404, "NOT_FOUND", NOT_FOUND)
        outcome = org.delete(store.odef.name, holder)
        return Reply(204) if outcome.ok else Reply(400, [e.as_body() for e in outcome.errors])
    return _bad_method()


def _changes(call: Call, store: ObjectStore, which: str) -> Reply:
    try:
        start = format_ts(parse_ts(call.params["start"].replace(" ", "+")))
        end = format_ts(parse_ts(call.params["end"].replace(" ", "+")))
    except (KeyError, ValueError):
        return error_reply(400, "INVALID_REPLICATION_DATE",
                           "start and end must be ISO 8601 datetimes")
    hits = []
    for key in store.scan_keys(from_stamp=start, include_deleted=which == "deleted"):
        record = store.by_key(key)
        if record["SystemModstamp"] >= end:
            break
        if which == "updated" and not record["IsDeleted"]:
            hits.append(record["Id"])
        elif which == "deleted" and record["IsDeleted"]:
            hits.append({"id": record["Id"], "deletedDate": record["SystemModstamp"]})
    if which == "updated":
        return Reply(200, {"ids": hits, "latestDateCovered": end})
    return Reply(200, {"deletedRecords": hits, "earliestDateAvailable": start,
                       "latestDateCovered": end})
