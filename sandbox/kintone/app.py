"""The kintone emulator as an ASGI app: HTTP plumbing, faults, inspection, settings.

HTTP details [C: js-sdk and pykintone source; S where marked]:

* the ``Host`` header is ignored (pykintone forces ``{domain}.cybozu.com:443``);
* ``POST`` with ``X-HTTP-Method-Override: GET`` (JSON body) is a GET — pykintone always
  reads records so, the js-sdk does when the URL would pass 4096 characters;
* GET and DELETE parameters may come in the query string (``ids[0]=1``) or a JSON body;
* a body that is not JSON answers 400 CB_IJ01 [S: Forma docs name the code];
* faults: ``rate_limit``, ``quota`` and ``concurrency`` answer 429 GAIA_TO04 (kintone has
  no hard daily cut), ``token_expired`` 401 CB_AU01, ``server_error`` 503 CB_UN01 [U] or,
  with another ``status``, GAIA_DA02 "データベースのロックに失敗しました" [S].
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from sandbox.core.app import EmulatorApp, json_response
from sandbox.core.faults import FaultRule
from sandbox.kintone.api import KintoneApi, normalize_path, query_params
from sandbox.kintone.auth import API_TOKENS, LOGIN, PASSWORD, Caller, authenticate
from sandbox.kintone.cursors import CursorRegistry
from sandbox.kintone.errors import KintoneError
from sandbox.kintone.limits import ConcurrencyGate, DailyUsage
from sandbox.kintone.records import RecordOps
from sandbox.kintone.schema import APPS
from sandbox.kintone.seeding import seed_domain
from sandbox.kintone.store import AppStore, Domain, render_record
from sandbox.kintone.webhooks import WebhookDispatcher

__all__ = ["KintoneEmulator", "KintoneSettings"]

_JSON_TYPE = "application/json;charset=utf-8"


@dataclass
class KintoneSettings:
    """The emulated domain's knobs.

    Attributes:
        size: ``SandboxOptions.size``; リードマスタ gets a fifth of it (see :mod:`.seeding`).
        seed: Seed of :mod:`sandbox.seed`.
        concurrency_limit: Requests in flight per domain (kintone: 100).
        daily_limit: Requests per app per day before kintone's notice (10,000).
        max_cursors: Open cursors per domain (10).
        cursor_ttl_s: Idle seconds before a cursor expires (600).
        api_tokens: App id → API token.
        login: Login name for password auth.
        password: Its password.
        domain_url: The kintone URL named in webhook notifications.
        clock: UTC wall clock for timestamps.
    """

    size: int = 1000
    seed: int = 42
    concurrency_limit: int = 100
    daily_limit: int = 10_000
    max_cursors: int = 10
    cursor_ttl_s: float = 600.0
    api_tokens: dict[int, str] = field(default_factory=lambda: dict(API_TOKENS))
    login: str = LOGIN
    password: str = PASSWORD
    domain_url: str = "https://renkei-sandbox.cybozu.com"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class KintoneEmulator(EmulatorApp):
    """A kintone domain with the four demo apps, over HTTP.

    Args:
        settings: Domain knobs.
    """

    name = "kintone"

    def __init__(self, settings: KintoneSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or KintoneSettings()
        self.cursors = CursorRegistry(self.settings.max_cursors, self.settings.cursor_ttl_s)
        self.usage = DailyUsage(self.settings.daily_limit, self.settings.clock)
        self.webhooks = WebhookDispatcher(self.settings.domain_url)
        self.gate = ConcurrencyGate(None, self.settings.concurrency_limit, self.calls)
        self._build()

    def _build(self) -> None:
        self.domain = Domain()
        self.seeded = seed_domain(self.domain, self.settings.size, self.settings.seed)
        self.ops = RecordOps(self.domain, self.settings.clock)
        self.api = KintoneApi(self.ops, self.cursors, self.usage, self.webhooks.publish)

    # -- EmulatorApp hooks ------------------------------------------------------------------

    def asgi(self) -> ASGIApp:
        """The sandbox app behind the per-domain concurrency gate."""
        if self.gate.app is None:
            self.gate.app = super().asgi()
        return self.gate

    def routes(self) -> list[BaseRoute]:
        methods = ["GET", "POST", "PUT", "DELETE"]
        return [Route("/k/{rest:path}", self._dispatch, methods=methods)]

    def _sandbox_routes(self) -> list[BaseRoute]:
        return [*super()._sandbox_routes(),
                Route("/webhooks", self._get_webhooks, methods=["GET"]),
                Route("/webhooks", self._post_webhook, methods=["POST"]),
                Route("/webhooks", self._delete_webhooks, methods=["DELETE"]),
                Route("/usage", self._get_usage, methods=["GET"]),
                Route("/usage", self._post_usage, methods=["POST"])]

    def render_fault(self, rule: FaultRule, request: Request) -> Response | None:
        headers: dict[str, str] = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = f"{rule.retry_after:g}"
        if rule.kind in ("rate_limit", "quota", "concurrency"):
            limit = self.settings.concurrency_limit
            headers.update({"X-Cybozu-Error": "GAIA_TO04", "X-ConcurrencyLimit-Limit": str(limit),
                            "X-ConcurrencyLimit-Running": str(limit + 1)})
            err = KintoneError(rule.status or 429, "GAIA_TO04",
                               "APIの同時リクエスト数が上限を超えています。")
        elif rule.kind == "token_expired":
            err = KintoneError(401, "CB_AU01", "ログインしてください。")
        elif rule.kind == "server_error":
            status = rule.status or 503
            err = KintoneError(status, "CB_UN01", "サービスが一時的に利用できません。") \
                if status == 503 else KintoneError(
                    status, "GAIA_DA02", "データベースのロックに失敗したため、変更を保存できません"
                    "でした。時間をおいて再度お試しください。")
        else:
            return None
        return self._error(err, headers)

    def vendor_code(self, response_body: bytes, status: int) -> str | None:
        if status < 400:
            return None
        try:
            data = json.loads(response_body)
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            codes = [r.get("code") for r in data["results"] if isinstance(r, dict) and r]
            return str(codes[0]) if codes and codes[0] else None
        return str(data["code"]) if isinstance(data, dict) and data.get("code") else None

    def credentials(self) -> dict[str, str]:
        tokens = ", ".join(f"{a}:{t}" for a, t in sorted(self.settings.api_tokens.items()))
        return {"api_tokens": tokens, "login": self.settings.login,
                "password": self.settings.password}

    def reset(self) -> None:
        super().reset()
        self.cursors.clear()
        self.usage.reset()
        self.webhooks.clear()
        self._build()

    def close(self) -> None:
        """Stop the webhook thread (the launcher's servers stop on their own)."""
        self.webhooks.stop()

    # -- inspection hooks (records "as in the UI") ------------------------------------------

    def _app_store(self, obj: str) -> AppStore:
        for app in APPS.values():
            if obj in (str(app.id), app.name):
                return self.domain.stores[app.id]
        raise KeyError(obj)

    def list_records(self, obj: str, *, offset: int, limit: int
                     ) -> tuple[list[dict[str, Any]], int]:
        store = self._app_store(obj)
        with self.domain.lock:
            records = list(store.records.values())[offset:offset + limit]
            return [render_record(store.app, r) for r in records], len(store)

    def get_record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        store = self._app_store(obj)
        rec = store.get(int(record_id)) if record_id.isdigit() else None
        return None if rec is None else render_record(store.app, rec)

    def edit_record(self, obj: str, record_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        store = self._app_store(obj)
        item = {"id": record_id, "record": {k: {"value": v} for k, v in changes.items()}}
        try:
            done, events = self.ops.update(store, [item], "Administrator", single=True)
        except KintoneError as exc:
            if exc.code == "GAIA_RE01":
                raise KeyError(record_id) from None
            raise ValueError(json.dumps(exc.body(), ensure_ascii=False)) from None
        self.webhooks.publish(events)
        return render_record(store.app, done[0][0])

    def create_record(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        store = self._app_store(obj)
        record = {k: {"value": v} for k, v in values.items()}
        try:
            added, events = self.ops.add(store, [record], "Administrator", single=True)
        except KintoneError as exc:
            raise ValueError(json.dumps(exc.body(), ensure_ascii=False)) from None
        self.webhooks.publish(events)
        return render_record(store.app, added[0])

    # -- HTTP -------------------------------------------------------------------------------

    @staticmethod
    def _error(err: KintoneError, headers: dict[str, str] | None = None) -> Response:
        merged = {**err.headers, **(headers or {})}
        return json_response(err.body(), err.status, merged or None)

    async def _dispatch(self, request: Request) -> Response:
        method = request.method
        if method == "POST" and request.headers.get("x-http-method-override", "").upper() == "GET":
            method = "GET"
        path = normalize_path(request.url.path)
        params: dict[str, Any] = query_params(list(request.query_params.multi_items()))
        raw = await request.body()
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                return self._error(KintoneError(400, "CB_IJ01", "不正なJSON文字列です。"))
            if not isinstance(body, dict):
                return self._error(KintoneError(400, "CB_IJ01", "不正なJSON文字列です。"))
            params.update(body)
        if not self.api.allowed_methods(path):
            return self._error(KintoneError(404, "CB_NO01", f"{path} は存在しません。"))
        headers = {k.lower(): v for k, v in request.headers.items()}
        return await run_in_threadpool(self._call, method, path, params, headers)

    def _call(self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
              ) -> Response:
        try:
            caller: Caller = authenticate(headers, self.settings.api_tokens, self.settings.login,
                                          self.settings.password)
            status, body = self.api.handle(method, path, params, caller)
        except KintoneError as err:
            return self._error(err)
        return json_response(body, status)

    # -- /_sandbox extras -------------------------------------------------------------------

    def _get_webhooks(self, request: Request) -> Response:
        return json_response(self.webhooks.describe())

    async def _post_webhook(self, request: Request) -> Response:
        try:
            data = json.loads(await request.body() or b"{}")
            app_id, url = int(data["app"]), str(data["url"])
        except (ValueError, KeyError, TypeError):
            return json_response({"error": 'body must be {"app": <app id>, "url": "http://..."}'},
                                 400)
        if app_id not in APPS or not url.startswith(("http://", "https://")):
            return json_response({"error": f"unknown app {app_id} or URL not http(s)"}, 400)
        self.webhooks.register(app_id, url)
        return json_response(self.webhooks.describe(), 201)

    def _delete_webhooks(self, request: Request) -> Response:
        self.webhooks.clear()
        return json_response({"cleared": True})

    def _get_usage(self, request: Request) -> Response:
        return json_response({**self.usage.snapshot(), "concurrency": self.gate.stats(),
                              "cursors": {"open": self.cursors.open_count(),
                                          "limit": self.cursors.max_cursors}})

    async def _post_usage(self, request: Request) -> Response:
        try:
            data = json.loads(await request.body() or b"{}")
            self.usage.set_count(int(data["app"]), int(data["count"]))
        except (ValueError, KeyError, TypeError):
            return json_response({"error": 'body must be {"app": <app id>, "count": <n>}'}, 400)
        return json_response(self.usage.snapshot())

