"""The SMP emulator application: token, signature check, visitor search and writes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.core import EmulatorApp, FaultRule, retry_after_header
from sandbox.smp.store import FIELDS, SearchError, VisitorStore
from sandbox.smp.xmlio import XmlError, error_response, list_response, parse_records

__all__ = ["SmpConfig", "SmpEmulator", "sign"]

MAX_LIMIT = 1000
"""``limit`` maximum (documented on the search APIs)."""
MAX_WRITE = 100
"""VisitorData elements per write call (assumed)."""


def sign(params: Mapping[str, str], secret: str) -> str:
    """``api_sig``: HMAC-SHA1 (hex) of every ``name+value`` string, sorted ascending."""
    seed = "".join(sorted(f"{k}{v}" for k, v in params.items() if k != "api_sig"))
    return hmac.new(secret.encode(), seed.encode(), hashlib.sha1).hexdigest()


@dataclass(frozen=True)
class SmpConfig:
    """Knobs of one emulated SMP account."""

    size: int = 2000
    seed: int = 42
    api_key: str = "55b985f4renkeisandboxapikey0001"
    password: str = "sandbox-smp-password"
    secret_key: str = "sandbox-smp-secret-key-7c1d"
    token_lifetime_s: float = 3600.0
    clock: Callable[[], float] = time.time


class SmpEmulator(EmulatorApp):
    """An emulated Shanon Marketing Platform account (REST, XML)."""

    name = "smp"

    def __init__(self, config: SmpConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or SmpConfig()
        self.store = VisitorStore(cfg.size, cfg.seed, cfg.clock)
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, options: Any) -> SmpEmulator:
        """The launcher's factory."""
        return cls(SmpConfig(size=options.size, seed=options.seed))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/services/rest/authentication", self._authenticate, methods=["GET"]),
            Route("/services/rest/visitor", self._visitor, methods=["GET", "POST", "PUT"]),
        ]

    def exception_handlers(self) -> dict[Any, Callable[..., Any]]:
        async def not_found(request: Request, exc: Exception) -> Response:
            return error_response(404, "NOT_FOUND", "no such resource")

        async def bad_method(request: Request, exc: Exception) -> Response:
            return error_response(405, "METHOD_NOT_ALLOWED", "method not allowed")

        return {404: not_found, 405: bad_method}

    # -- auth ---------------------------------------------------------------------------------

    def _signed(self, params: Mapping[str, str]) -> bool:
        return hmac.compare_digest(params.get("api_sig", ""), sign(params, self.config.secret_key))

    def _authenticate(self, request: Request) -> Response:
        params = dict(request.query_params)
        # The password is part of the signed set but is not sent (see the package docstring).
        signed = {**params, "password": self.config.password}
        if params.get("api_key") != self.config.api_key or "password" in params or \
                not self._signed(signed):
            return error_response(401, "AUTHENTICATION_FAILED", "authentication failed")
        token = secrets.token_hex(20)
        with self._lock:
            self._tokens[token] = self.config.clock() + self.config.token_lifetime_s
        return Response(
            f'<?xml version="1.0" encoding="UTF-8"?><Authentication><Token>{token}</Token>'
            f'<Expire>{int(self.config.token_lifetime_s)}</Expire></Authentication>'.encode(),
            media_type="text/xml; charset=UTF-8")

    def _auth_error(self, params: Mapping[str, str]) -> Response | None:
        if params.get("api_key") != self.config.api_key:
            return error_response(401, "INVALID_API_KEY", "api_key is invalid")
        if not self._signed(params):
            return error_response(401, "INVALID_SIGNATURE", "api_sig does not match")
        with self._lock:
            expires = self._tokens.get(params.get("token", ""))
        if expires is None:
            return error_response(401, "INVALID_TOKEN", "token is invalid")
        if expires < self.config.clock():
            return error_response(401, "TOKEN_EXPIRED", "token has expired")
        return None

    def expire_tokens(self) -> None:
        """Expire every token now (tests of a mid-run expiry)."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    # -- visitor ------------------------------------------------------------------------------

    async def _visitor(self, request: Request) -> Response:
        params = dict(request.query_params)
        refused = self._auth_error(params)
        if refused is not None:
            return refused
        method = request.method
        if method == "POST" and request.headers.get("x-http-method-override", "").upper() == \
                "PUT":
            method = "PUT"
        if method == "GET":
            return await run_in_threadpool(self._search, params)
        body = await request.body()
        return await run_in_threadpool(self._write, params, body, method == "POST")

    def _search(self, params: dict[str, str]) -> Response:
        try:
            limit = int(params.get("limit", "100"))
            offset = int(params.get("offset", "0"))
        except ValueError:
            return error_response(400, "INVALID_PARAMETER", "limit and offset must be integers")
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            return error_response(400, "INVALID_PARAMETER", f"limit must be 1..{MAX_LIMIT}")
        conditions = []
        for key, value in params.items():
            if key.startswith("search_key"):
                cid = key[len("search_key"):]
                conditions.append((value, params.get(f"search_operator{cid}", "eq"),
                                   params.get(f"search_value{cid}", "")))
        try:
            rows, total = self.store.search(conditions, params.get("order"),
                                            params.get("direction") == "desc", offset, limit)
        except SearchError as exc:
            return error_response(400, exc.code, str(exc))
        attrs = {"version": "1"}
        if params.get("count") == "1":
            attrs.update(count=str(len(rows)), countAll=str(total))
        return list_response("VisitorList", "VisitorData",
                             ({k: r.get(k) for k in FIELDS} for r in rows), attrs)

    def _write(self, params: dict[str, str], body: bytes, create_only: bool) -> Response:
        try:
            items = parse_records(body, "VisitorData")
        except XmlError as exc:
            return error_response(400, "INVALID_XML", str(exc))
        if len(items) > MAX_WRITE:
            return error_response(400, "TOO_MANY_RECORDS", f"at most {MAX_WRITE} VisitorData")
        upsert = params.get("upsert") == "1"
        key = params.get("update_key", "Mail") if upsert or create_only else None
        results: list[dict[str, Any]] = []
        for values in items:
            try:
                if not create_only and not upsert and not values.get("Id"):
                    raise SearchError("MISSING_ID", "Id is required to update")
                ident, created = self.store.upsert(values, key, create_only=create_only)
                results.append({"Id": ident, "Status": "created" if created else "updated"})
            except SearchError as exc:
                results.append({"Error": {"Code": exc.code, "Message": str(exc)}})
        return list_response("Result", "VisitorResult", results)

    # -- EmulatorApp hooks --------------------------------------------------------------------

    def render_fault(self, rule: FaultRule, request: Request) -> Response | None:
        headers = retry_after_header(rule)
        if rule.kind in ("rate_limit", "concurrency"):
            return error_response(rule.status or 429, "TOO_MANY_REQUESTS",
                                  "request limit exceeded", headers)
        if rule.kind == "quota":
            return error_response(rule.status or 429, "QUOTA_EXCEEDED", "API quota exceeded",
                                  headers)
        if rule.kind == "token_expired":
            return error_response(401, "TOKEN_EXPIRED", "token has expired")
        if rule.kind == "server_error":
            return error_response(rule.status or 503, "SERVICE_UNAVAILABLE",
                                  "temporarily unavailable", headers)
        return None

    def vendor_code(self, response_body: bytes, status: int) -> str | None:
        start = response_body.find(b"<Code>")
        if start < 0:
            return None
        end = response_body.find(b"</Code>", start)
        return response_body[start + 6:end].decode("utf-8", "replace")

    def credentials(self) -> dict[str, str]:
        return {"api_key": self.config.api_key, "password": self.config.password,
                "secret_key": self.config.secret_key}

    def _check_obj(self, obj: str) -> None:
        if obj not in ("visitor", "visitors"):
            raise KeyError(f"smp has no object {obj!r} (objects: visitor)")

    def list_records(self, obj: str, *, offset: int, limit: int) -> tuple[
            list[dict[str, Any]], int]:
        self._check_obj(obj)
        rows, total = self.store.search([], "Id", False, offset, limit)
        return rows, total

    def get_record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        self._check_obj(obj)
        with self.store.lock:
            found = self.store.visitors.get(int(record_id)) if record_id.isdigit() else None
            return dict(found) if found else None

    def edit_record(self, obj: str, record_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Edit a visitor as a user in the SMP screens would (DateUpdate moves)."""
        self._check_obj(obj)
        if not record_id.isdigit() or self.get_record(obj, record_id) is None:
            raise KeyError(record_id)
        try:
            self.store.upsert({**changes, "Id": record_id}, None)
        except SearchError as exc:
            raise ValueError(f"{exc.code} {exc}") from None
        return self.get_record(obj, record_id) or {}

    def create_record(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        self._check_obj(obj)
        try:
            ident, _ = self.store.upsert(values, None)
        except SearchError as exc:
            raise ValueError(f"{exc.code} {exc}") from None
        return self.get_record(obj, str(ident)) or {}

    def reset(self) -> None:
        super().reset()
        self.store.reset()
        with self._lock:
            self._tokens.clear()
