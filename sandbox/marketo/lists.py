"""Static lists and list membership (``list-membership.md``, ``static-lists.md``).

Facts relied on [C]: ``GET /rest/v1/lists.json`` browses lists; ``GET|POST|DELETE
/rest/v1/lists/{listId}/leads.json`` reads members (``batchSize`` default and maximum 300,
``nextPageToken``, ``fields`` with the lead defaults), adds and removes members (``id``
parameters, at most 300); ``GET /rest/v1/lists/{listId}/leads/ismember.json``. Per record:
``added``; ``removed``; ``memberof`` / ``notmemberof``; ``skipped`` with reasons ``1004``
Lead not found and, on remove, ``1015`` Lead not in list. ``1013`` is "Object not found".

Choices where the docs are silent [U]: an unknown list is the response-level error 1013;
more than 300 ids is 1003; no ids is 701; adding a lead that is already a member answers
``added`` and changes nothing (membership is a set); ids may also come as the older JSON
body ``{"input": [{"id": ..}]}``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.marketo.activities import BadTokenError, decode_token, encode_token
from sandbox.marketo.protocol import ApiError, ApiRequest, ok
from sandbox.marketo.schema import DEFAULT_FIELDS, FIELD_BY_NAME, format_dt
from sandbox.marketo.store import LeadStore

__all__ = ["RECYCLE_LIST_ID", "StaticList", "StaticLists", "list_routes"]

MAX_IDS = 300
RECYCLE_LIST_ID = 1001
"""The seeded list リサイクル・ナーチャリング (sales hand leads back for nurturing)."""


@dataclass
class StaticList:
    """One static list and its members, in the order they were added."""

    id: int
    name: str
    description: str
    created: float
    updated: float
    members: dict[int, None] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": self.description,
                "programName": "リサイクル", "workspaceName": "Default",
                "createdAt": format_dt(self.created), "updatedAt": format_dt(self.updated)}


class StaticLists:
    """Every static list of the subscription, thread-safe.

    Args:
        clock: Wall clock in epoch seconds.
    """

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.lock = threading.Lock()
        self.lists: dict[int, StaticList] = {}
        self.reset()

    def reset(self) -> None:
        now = self.clock()
        with self.lock:
            self.lists = {RECYCLE_LIST_ID: StaticList(
                RECYCLE_LIST_ID, "リサイクル・ナーチャリング",
                "失注・保留リードの長期ナーチャリング", now, now)}

    def get(self, list_id: str) -> StaticList:
        found = self.lists.get(int(list_id)) if list_id.isdigit() else None
        if found is None:
            raise ApiError("1013", "Static list not found")
        return found

    def members(self, list_id: int) -> list[int]:
        """Member lead ids in order (tests and /_sandbox inspection)."""
        with self.lock:
            return list(self.lists[list_id].members)


def _ids(req: ApiRequest) -> list[int]:
    raw: list[Any] = req.csv("id")
    if isinstance(req.body, dict) and isinstance(req.body.get("input"), list):
        raw += [item.get("id") for item in req.body["input"] if isinstance(item, dict)]
    if not raw:
        raise ApiError("701", "id cannot be blank")
    if len(raw) > MAX_IDS:
        raise ApiError("1003", f"Too many ids: at most {MAX_IDS} per call")
    try:
        return [int(v) for v in raw]
    except (TypeError, ValueError):
        raise ApiError("1001", "Invalid value for id. Required of type 'Integer'") from None


def _skip(lead_id: int, code: str, message: str) -> dict[str, Any]:
    return {"id": lead_id, "status": "skipped", "reasons": [{"code": code, "message": message}]}


def _offset(req: ApiRequest) -> int:
    token = req.first("nextPageToken")
    if not token:
        return 0
    try:
        kind, value = decode_token(token)
    except BadTokenError:
        raise ApiError("1003", "Invalid nextPageToken") from None
    if kind != "p":
        raise ApiError("1003", "Invalid nextPageToken")
    return int(value)


def _batch(req: ApiRequest) -> int:
    raw = req.first("batchSize")
    try:
        return max(1, min(int(raw), MAX_IDS)) if raw else MAX_IDS
    except ValueError:
        raise ApiError("1001", f"Invalid value '{raw}'. Required of type 'Integer'") from None


def browse(lists: StaticLists, req: ApiRequest) -> Response:
    """``GET /rest/v1/lists.json`` filtered by ``id`` and ``name``, paged."""
    ids, names = set(req.csv("id")), set(req.params.get("name", []))
    with lists.lock:
        found = [sl.render() for sl in lists.lists.values()
                 if (not ids or str(sl.id) in ids) and (not names or sl.name in names)]
    start, size = _offset(req), _batch(req)
    page = found[start:start + size]
    extra = {"nextPageToken": encode_token(start + size)} if start + size < len(found) else {}
    return ok(page, **extra)


def members(lists: StaticLists, store: LeadStore, req: ApiRequest, list_id: str) -> Response:
    """``GET /rest/v1/lists/{listId}/leads.json``."""
    names = req.csv("fields") or list(DEFAULT_FIELDS)
    for name in names:
        if name not in FIELD_BY_NAME:
            raise ApiError("1006", f"Field '{name}' not found")
    with lists.lock:
        ids = list(lists.get(list_id).members)
    start, size = _offset(req), _batch(req)
    out = []
    for lead_id in ids[start:start + size]:
        record = store.get(lead_id)
        if record is not None:
            out.append({"id": lead_id, **{n: record[n] for n in names
                                          if n != "id" and record.get(n) is not None}})
    extra = {"nextPageToken": encode_token(start + size)} if start + size < len(ids) else {}
    return ok(out, **extra)


def change(lists: StaticLists, store: LeadStore, req: ApiRequest, list_id: str) -> Response:
    """``POST`` (add) or ``DELETE`` (remove) ``/rest/v1/lists/{listId}/leads.json``."""
    ids = _ids(req)
    known = {i for i in ids if store.get(i) is not None}
    result: list[dict[str, Any]] = []
    with lists.lock:
        target = lists.get(list_id)
        for lead_id in ids:
            if lead_id not in known:
                result.append(_skip(lead_id, "1004", "Lead not found"))
            elif req.method == "POST":
                target.members.setdefault(lead_id, None)
                result.append({"id": lead_id, "status": "added"})
            elif lead_id in target.members:
                del target.members[lead_id]
                result.append({"id": lead_id, "status": "removed"})
            else:
                result.append(_skip(lead_id, "1015", "Lead not in list"))
        target.updated = lists.clock()
    return ok(result)


def is_member(lists: StaticLists, store: LeadStore, req: ApiRequest, list_id: str) -> Response:
    """``GET /rest/v1/lists/{listId}/leads/ismember.json``."""
    ids = _ids(req)
    with lists.lock:
        current = set(lists.get(list_id).members)
    return ok([_skip(i, "1004", "Lead not found") if store.get(i) is None else
               {"id": i, "status": "memberof" if i in current else "notmemberof"} for i in ids])


def list_routes(lists: StaticLists, store: LeadStore,
                rest: Callable[[dict[str, Callable[..., Response]]], Any]) -> list[BaseRoute]:
    """The list routes, wrapped by the emulator's REST pipeline (auth, limits, counting)."""
    return [
        Route("/rest/v1/lists.json", rest({"GET": lambda r: browse(lists, r)}),
              methods=["GET", "POST"]),
        Route("/rest/v1/lists/{list_id}/leads.json", rest({
            "GET": lambda r, list_id: members(lists, store, r, list_id),
            "POST": lambda r, list_id: change(lists, store, r, list_id),
            "DELETE": lambda r, list_id: change(lists, store, r, list_id)}),
            methods=["GET", "POST", "DELETE"]),
        Route("/rest/v1/lists/{list_id}/leads/ismember.json",
              rest({"GET": lambda r, list_id: is_member(lists, store, r, list_id)}),
              methods=["GET", "POST"]),
    ]
