"""The kintone REST endpoints, from parsed parameters to ``(status, body)``.

Parameters arrive as one dict: the query string (``fields[0]=a&fields[1]=b`` becomes a list,
as the js-sdk sends them) merged with the JSON body. Every call naming an app is checked
against the caller's API tokens and counted against the app's daily requests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from sandbox.kintone.auth import Caller
from sandbox.kintone.cursors import CursorRegistry
from sandbox.kintone.errors import KintoneError, bad_request
from sandbox.kintone.limits import DailyUsage
from sandbox.kintone.records import Event, RecordOps
from sandbox.kintone.schema import USERS, form_properties
from sandbox.kintone.store import AppStore, render_record

__all__ = ["MAX_BULK_REQUESTS", "KintoneApi", "normalize_path", "query_params"]

MAX_BULK_REQUESTS = 20
_GUEST = re.compile(r"^/k/guest/\d+/v1/")
_INDEXED = re.compile(r"^([^\[\]]+)\[(\d*)\]$")
Result = tuple[int, dict[str, Any]]


def normalize_path(path: str) -> str:
    """Guest-space paths (``/k/guest/7/v1/...``) answer like ``/k/v1/...``."""
    return _GUEST.sub("/k/v1/", path)


def query_params(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Query-string pairs as kintone reads them: ``ids[0]=1&ids[1]=2`` → ``{"ids": [...]}``."""
    out: dict[str, Any] = {}
    lists: dict[str, list[tuple[int, str]]] = {}
    for key, value in items:
        match = _INDEXED.match(key)
        if match:
            index = int(match.group(2)) if match.group(2) else len(lists.get(match.group(1), []))
            lists.setdefault(match.group(1), []).append((index, value))
        else:
            out[key] = value
    for name, pairs in lists.items():
        out[name] = [v for _, v in sorted(pairs, key=lambda p: p[0])]
    return out


def _flag(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def _fields(params: dict[str, Any]) -> list[str] | None:
    fields = params.get("fields")
    if fields in (None, "", []):
        return None
    if isinstance(fields, str):
        return [fields]
    if not isinstance(fields, list):
        raise bad_request("fields", "配列で指定してください。")
    return [str(f) for f in fields]


def _list(params: dict[str, Any], key: str) -> list[Any]:
    value = params.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(key, "配列で指定してください。")
    return value


class KintoneApi:
    """The endpoints of one emulated domain.

    Args:
        ops: Record operations.
        cursors: The cursor registry.
        usage: Daily request counters.
        publish: Called with the events of every committed write (webhooks).
    """

    def __init__(self, ops: RecordOps, cursors: CursorRegistry, usage: DailyUsage,
                 publish: Callable[[list[Event]], None]) -> None:
        self.ops = ops
        self.cursors = cursors
        self.usage = usage
        self.publish = publish
        self._held = threading.local()
        self._routes: dict[tuple[str, str], Callable[[dict[str, Any], Caller], Result]] = {
            ("GET", "/k/v1/app.json"): self.get_app,
            ("GET", "/k/v1/app/form/fields.json"): self.get_fields,
            ("GET", "/k/v1/records.json"): self.get_records,
            ("POST", "/k/v1/records.json"): self.add_records,
            ("PUT", "/k/v1/records.json"): self.update_records,
            ("DELETE", "/k/v1/records.json"): self.delete_records,
            ("GET", "/k/v1/record.json"): self.get_record,
            ("POST", "/k/v1/record.json"): self.add_record,
            ("PUT", "/k/v1/record.json"): self.update_record,
            ("POST", "/k/v1/records/cursor.json"): self.create_cursor,
            ("GET", "/k/v1/records/cursor.json"): self.read_cursor,
            ("DELETE", "/k/v1/records/cursor.json"): self.delete_cursor,
            ("POST", "/k/v1/bulkRequest.json"): self.bulk_request,
        }

    def _emit(self, events: list[Event]) -> None:
        held: list[Event] | None = getattr(self._held, "events", None)
        if held is not None:
            held.extend(events)
        else:
            self.publish(events)

    def allowed_methods(self, path: str) -> list[str]:
        """Methods served on ``path`` (empty when the path is unknown)."""
        return [m for m, p in self._routes if p == path]

    def handle(self, method: str, path: str, params: dict[str, Any], caller: Caller) -> Result:
        """Run one call; KintoneError propagates to the HTTP layer."""
        handler = self._routes.get((method, path))
        if handler is None:
            raise KintoneError(405, "CB_IL02", f"{method} {path} はサポートされていません。")
        return handler(params, caller)

    def _store(self, params: dict[str, Any], caller: Caller, key: str = "app") -> AppStore:
        store = self.ops.store(params.get(key))
        caller.check_app(store.app.id)
        self.usage.count(store.app.id)
        return store

    # -- apps -------------------------------------------------------------------------------

    def get_app(self, params: dict[str, Any], caller: Caller) -> Result:
        store = self._store(params, caller, "id")
        admin = {"code": "Administrator", "name": USERS["Administrator"]}
        return 200, {"appId": str(store.app.id), "code": "", "name": store.app.name,
                     "description": "", "spaceId": None, "threadId": None,
                     "createdAt": "2026-01-05T00:00:00.000Z", "creator": admin,
                     "modifiedAt": "2026-01-05T00:00:00.000Z", "modifier": admin}

    def get_fields(self, params: dict[str, Any], caller: Caller) -> Result:
        store = self._store(params, caller)
        return 200, {"properties": form_properties(store.app), "revision": "1"}

    # -- records ----------------------------------------------------------------------------

    def get_records(self, params: dict[str, Any], caller: Caller) -> Result:
        store = self._store(params, caller)
        fields = _fields(params)
        hits, total = self.ops.select(store, str(params.get("query") or ""), caller.user)
        return 200, {"records": [render_record(store.app, r, fields) for r in hits],
                     "totalCount": str(total) if _flag(params.get("totalCount")) else None}

    def get_record(self, params: dict[str, Any], caller: Caller) -> Result:
        store = self._store(params, caller)
        return 200, {"record": render_record(store.app, self.ops.get(store, params.get("id")))}

    def add_record(self, params: dict[str, Any], caller: Caller) -> Result:
        store = self._store(params, caller)
        added, events = self.ops.add(store, [params.get("record")], caller.user, single=True)
        self._emit(events)
        return 200, {"id": str(added[0].id), "revision": str(added[0].revision)}

    def add_records(self, params: dict[str, Any], caller: Caller) -> Result:
        store = self._store(params, caller)
        if params.get("records") is None:
            raise bad_request("records", "必須です。")
        added, events = self.ops.add(store, _list(params, "records"), caller.user, single=False)
        self._emit(events)
        return 200, {"ids": [str(r.id) for r in added],
                     "revisions": [str(r.revision) for r in added]}

    def update_record(self, params: dict[str, Any], caller: Caller) -> Result:
        store = self._store(params, caller)
        item = {k: params.get(k) for k in ("id", "updateKey", "revision", "record")}
        done, events = self.ops.update(store, [item], caller.user, single=True)
        self._emit(events)
        return 200, {"revision": str(done[0][0].revision)}

    def update_records(self, params: dict[str, Any], caller: Caller) -> Result:
        store = self._store(params, caller)
        if params.get("records") is None:
            raise bad_request("records", "必須です。")
        upsert = _flag(params.get("upsert"))
        done, events = self.ops.update(store, _list(params, "records"), caller.user,
                                       single=False, upsert=upsert)
        self._emit(events)
        rows = [{"id": str(r.id), "revision": str(r.revision)} for r, _ in done]
        if upsert:
            for row, (_, op) in zip(rows, done, strict=True):
                row["operation"] = op
        return 200, {"records": rows}

    def delete_records(self, params: dict[str, Any], caller: Caller) -> Result:
        store = self._store(params, caller)
        revisions = _list(params, "revisions") or None
        events = self.ops.delete(store, _list(params, "ids"), revisions, caller.user)
        self._emit(events)
        return 200, {}

    # -- cursors ----------------------------------------------------------------------------

    def create_cursor(self, params: dict[str, Any], caller: Caller) -> Result:
        store = self._store(params, caller)
        size_raw = params.get("size", 100)
        try:
            size = int(str(size_raw))
        except ValueError:
            raise bad_request("size", "整数を指定してください。") from None
        if not 1 <= size <= 500:
            raise bad_request("size", "1から500までの数値を指定してください。")
        fields = _fields(params)
        hits, total = self.ops.select(store, str(params.get("query") or ""), caller.user,
                                      paged=False)
        cursor = self.cursors.create(store.app.id, fields, hits, size)
        return 200, {"id": cursor.id, "totalCount": str(total)}

    def read_cursor(self, params: dict[str, Any], caller: Caller) -> Result:
        if not params.get("id"):
            raise bad_request("id", "必須です。")
        cursor, page, more = self.cursors.read(str(params["id"]))
        caller.check_app(cursor.app_id)
        self.usage.count(cursor.app_id)
        app = self.ops.domain.stores[cursor.app_id].app
        return 200, {"records": [render_record(app, r, cursor.fields) for r in page],
                     "next": more}

    def delete_cursor(self, params: dict[str, Any], caller: Caller) -> Result:
        if not params.get("id"):
            raise bad_request("id", "必須です。")
        self.cursors.delete(str(params["id"]))
        return 200, {}

    # -- bulkRequest ------------------------------------------------------------------------

    def bulk_request(self, params: dict[str, Any], caller: Caller) -> Result:
        """Up to 20 write requests in one transaction [C: js-sdk REQUESTS_LENGTH_LIMIT].

        On failure kintone answers the failing request's status with ``{"results": [...]}``
        holding ``{}`` for the others and the error at the failing position [C: js-sdk
        KintoneRestAPIError]; nothing is written.
        """
        requests = _list(params, "requests")
        if not requests:
            raise bad_request("requests", "必須です。")
        if len(requests) > MAX_BULK_REQUESTS:
            raise bad_request("requests", "一度に20件までのリクエストを実行できます。")
        results: list[dict[str, Any]] = [{} for _ in requests]
        collecting: list[Event] = []
        self._held.events = collecting  # this thread's writes wait for the commit
        try:
            with self.ops.domain.transaction():
                for index, item in enumerate(requests):
                    results[index] = self._bulk_one(index, item, caller, results)
        finally:
            self._held.events = None
        self.publish(collecting)
        return 200, {"results": results}

    def _bulk_one(self, index: int, item: object, caller: Caller,
                  results: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            if not isinstance(item, dict):
                raise bad_request(f"requests[{index}]", "オブジェクトで指定してください。")
            method = str(item.get("method", "")).upper()
            api = normalize_path(str(item.get("api", "")))
            if method == "GET" or (method, api) not in self._routes or "cursor" in api:
                raise bad_request(f"requests[{index}].api",
                                  f"{method} {api} は一括リクエストで実行できません。")
            payload = item.get("payload")
            return self.handle(method, api, payload if isinstance(payload, dict) else {},
                               caller)[1]
        except KintoneError as exc:
            failed: list[dict[str, Any]] = [{} for _ in results]
            failed[index] = exc.body()
            raise KintoneError(exc.status, exc.code, exc.message,
                               body={"results": failed}) from None
