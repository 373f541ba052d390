"""The REST endpoints of the lead database, as plain functions of (store, request).

Each returns a response or raises :class:`~sandbox.marketo.protocol.ApiError`. Facts are in
the docstrings of :mod:`sandbox.marketo.store`, :mod:`sandbox.marketo.activities` and the
package; the choices made where the docs are silent are marked [U] here.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.marketo.activities import (
    ACTIVITY_TYPES,
    CHANGE_DATA_VALUE,
    DELETE_LEAD,
    NEW_LEAD,
    Activity,
    ActivityLog,
    BadTokenError,
    decode_token,
    encode_date_token,
    encode_token,
)
from sandbox.marketo.protocol import ApiError, ApiRequest, ok
from sandbox.marketo.schema import DEFAULT_FIELDS, FIELD_BY_NAME, describe, describe2, parse_dt
from sandbox.marketo.store import LeadStore, UnsupportedFieldError

__all__ = [
    "MAX_BATCH",
    "activity_types",
    "batch_input",
    "delete_leads",
    "deleted_leads",
    "describe_leads",
    "describe_leads2",
    "get_lead",
    "get_leads",
    "lead_activities",
    "lead_changes",
    "paging_token",
    "sync_leads",
]

MAX_BATCH = 300
"""Records per call, filter values per query, activities per page (``lead-database.md``) [C]."""

_MAX_MATCHES = 1000
"""Get Leads by Filter Type refuses with 1003 when more leads match (``leads.md``) [C]."""

_ACTIONS = ("createOnly", "updateOnly", "createOrUpdate", "createDuplicate")


def _batch_size(req: ApiRequest) -> int:
    raw = req.first("batchSize")
    if raw in (None, ""):
        return MAX_BATCH
    try:
        size = int(raw)
    except ValueError:
        raise ApiError("1001", f"Invalid value '{raw}'. Required of type 'Integer'") from None
    return max(1, min(size, MAX_BATCH))  # [U] out-of-range sizes are clamped


def _fields(req: ApiRequest, *, required: bool = False) -> list[str]:
    names = req.csv("fields")
    if not names:
        if required:
            raise ApiError("701", "fields cannot be blank")
        return list(DEFAULT_FIELDS)
    for name in names:
        if name not in FIELD_BY_NAME:
            raise ApiError("1006", f"Field '{name}' not found")
    return names


def _project(record: dict[str, Any], names: list[str]) -> dict[str, Any]:
    # A requested field left out means null (``leads.md``), so nulls are not sent.
    out: dict[str, Any] = {"id": record["id"]}
    for name in names:
        value = record.get(name)
        if value is not None:
            out[name] = value
    return out


def _token(req: ApiRequest, *, required: bool, log: ActivityLog | None = None) -> int:
    token = req.first("nextPageToken")
    if not token:
        if required:
            raise ApiError("701", "nextPageToken cannot be blank")
        return 0
    try:
        kind, value = decode_token(token)
    except BadTokenError:
        raise ApiError("1003", "Invalid nextPageToken") from None
    if kind == "d":
        if log is None:
            raise ApiError("1003", "Invalid nextPageToken")
        return log.position_at(value)
    return int(value)


# -- leads ------------------------------------------------------------------------------------

def describe_leads(store: LeadStore, req: ApiRequest) -> Response:
    """``GET /rest/v1/leads/describe.json``."""
    return ok(describe())


def describe_leads2(store: LeadStore, req: ApiRequest) -> Response:
    """``GET /rest/v1/leads/describe2.json``."""
    return ok(describe2())


def get_leads(store: LeadStore, req: ApiRequest) -> Response:
    """Get Leads by Filter Type: ``GET /rest/v1/leads.json?filterType=&filterValues=``."""
    filter_type = req.first("filterType")
    if not filter_type:
        raise ApiError("701", "filterType cannot be blank")
    values = req.csv("filterValues")
    if not values:
        raise ApiError("701", "filterValues cannot be blank")
    if len(values) > MAX_BATCH:
        raise ApiError("1003", f"Too many filterValues: at most {MAX_BATCH}")
    names = _fields(req)
    size = _batch_size(req)
    offset = _token(req, required=False)
    try:
        ids = store.find(filter_type, values, limit=_MAX_MATCHES)
    except UnsupportedFieldError as exc:
        raise ApiError("1011", str(exc)) from None
    if len(ids) > _MAX_MATCHES:
        raise ApiError("1003", "Too many results match the filter")
    page = ids[offset:offset + size]
    records = [r for r in (store.get(i) for i in page) if r is not None]
    result = [_project(r, names) for r in records]
    if offset + size < len(ids):
        return ok(result, nextPageToken=encode_token(offset + size), moreResult=True)
    return ok(result)


def get_lead(store: LeadStore, req: ApiRequest, lead_id: str) -> Response:
    """Get Lead by Id: ``GET /rest/v1/lead/{id}.json``; no such lead gives an empty result."""
    names = _fields(req)
    record = store.get(int(lead_id)) if lead_id.isdigit() else None
    return ok([_project(record, names)] if record else [])


def batch_input(req: ApiRequest, limit: int, noun: str) -> tuple[dict[str, Any], list[Any]]:
    """The JSON body of a batch write and its ``input`` list, refused as Marketo refuses it
    (609 not JSON, 701 blank, 1003 not a list or over ``limit``)."""
    body = req.body
    if not isinstance(body, dict):
        raise ApiError("609", "Invalid JSON")
    inputs = body.get("input")
    if not inputs:
        raise ApiError("701", "input cannot be blank")
    if not isinstance(inputs, list):
        raise ApiError("1003", "input must be an array")
    if len(inputs) > limit:
        raise ApiError("1003", f"Batch size exceeded: at most {limit} {noun}")
    return body, inputs


def sync_leads(store: LeadStore, req: ApiRequest) -> Response:
    """Sync Leads: ``POST /rest/v1/leads.json`` with a JSON body."""
    body, inputs = batch_input(req, MAX_BATCH, "records")
    action = body.get("action") or "createOrUpdate"
    if action not in _ACTIONS:
        raise ApiError("1003", f"Invalid action '{action}'")
    lookup = body.get("lookupField") or "email"
    try:
        return ok(store.sync(action, lookup, inputs))
    except UnsupportedFieldError as exc:
        raise ApiError("1011", str(exc)) from None


def delete_leads(store: LeadStore, req: ApiRequest) -> Response:
    """Delete Leads: ``POST /rest/v1/leads/delete.json`` with ``{"input": [{"id": n}]}``."""
    body = req.body if isinstance(req.body, dict) else {}
    ids: list[Any] = [i.get("id") for i in body.get("input", []) if isinstance(i, dict)]
    ids += [int(v) for v in req.csv("id") if v.isdigit()]
    if not ids:
        raise ApiError("701", "input cannot be blank")
    if len(ids) > MAX_BATCH:
        raise ApiError("1003", f"Batch size exceeded: at most {MAX_BATCH} records")
    result = []
    for lead_id in ids:
        if isinstance(lead_id, int) and store.delete(lead_id):
            result.append({"id": lead_id, "status": "deleted"})
        else:
            result.append({"id": lead_id, "status": "skipped",
                           "reasons": [{"code": "1004", "message": "Lead not found"}]})
    return ok(result)


# -- activities -------------------------------------------------------------------------------

def activity_types(store: LeadStore, req: ApiRequest) -> Response:
    """``GET /rest/v1/activities/types.json``."""
    return ok(ACTIVITY_TYPES)


def paging_token(store: LeadStore, req: ApiRequest) -> Response:
    """``GET /rest/v1/activities/pagingtoken.json?sinceDatetime=``."""
    since = req.first("sinceDatetime")
    if not since:
        raise ApiError("701", "sinceDatetime cannot be blank")
    try:
        when = parse_dt(since)
    except ValueError:
        raise ApiError("704", "Invalid date format") from None
    return ok(None, nextPageToken=encode_date_token(when))


def _lead_filter(req: ApiRequest) -> set[int] | None:
    raw = req.csv("leadIds")
    if not raw:
        return None
    if len(raw) > 30:
        raise ApiError("1003", "Too many leadIds: at most 30")
    return {int(v) for v in raw if v.isdigit()}


def _activity_page(store: LeadStore, req: ApiRequest, keep: Any, *, lead_changes: bool,
                   scan_limit: int) -> Response:
    start = _token(req, required=True, log=store.log)
    kept, position, more = store.log.scan(start, keep=keep, batch_size=_batch_size(req),
                                          scan_limit=scan_limit)
    result = [ActivityLog.render(p, a, lead_changes=lead_changes) for p, a in kept]
    # The vendor omits ``result`` on an empty page; clients check for it [S: marketorestpython].
    return ok(result or None, nextPageToken=encode_token(position), moreResult=more)


def lead_changes(store: LeadStore, req: ApiRequest, *, scan_limit: int) -> Response:
    """Get Lead Changes: ``GET /rest/v1/activities/leadchanges.json?nextPageToken=&fields=``."""
    names = set(_fields(req, required=True))
    leads = _lead_filter(req)

    def keep(item: Activity) -> bool:
        if leads is not None and item.lead_id not in leads:
            return False
        return item.type_id == NEW_LEAD or (
            item.type_id == CHANGE_DATA_VALUE and item.field in names)

    return _activity_page(store, req, keep, lead_changes=True, scan_limit=scan_limit)


def deleted_leads(store: LeadStore, req: ApiRequest, *, scan_limit: int) -> Response:
    """Get Deleted Leads: ``GET /rest/v1/activities/deletedleads.json?nextPageToken=``."""
    return _activity_page(store, req, lambda a: a.type_id == DELETE_LEAD, lead_changes=False,
                          scan_limit=scan_limit)


def lead_activities(store: LeadStore, req: ApiRequest, *, scan_limit: int) -> Response:
    """Get Lead Activities: ``GET /rest/v1/activities.json?activityTypeIds=&nextPageToken=``."""
    raw = req.csv("activityTypeIds")
    if not raw:
        raise ApiError("701", "activityTypeIds cannot be blank")
    if len(raw) > 10:
        raise ApiError("1003", "Too many activityTypeIds: at most 10")
    types = {int(v) for v in raw if v.isdigit()}
    leads = _lead_filter(req)

    def keep(item: Activity) -> bool:
        return item.type_id in types and (leads is None or item.lead_id in leads)

    return _activity_page(store, req, keep, lead_changes=False, scan_limit=scan_limit)
