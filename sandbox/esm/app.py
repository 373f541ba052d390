"""The eセールスマネージャー emulator application: bearer token, time zone, sheets, search."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from sandbox.core import EmulatorApp, FaultRule, json_response, retry_after_header
from sandbox.esm.store import EsmError, SheetStore, zone

__all__ = ["EsmConfig", "EsmEmulator"]

MAX_PAGE_SIZE = 100
"""Search page size maximum (assumed)."""


@dataclass(frozen=True)
class EsmConfig:
    """Knobs of one emulated tenant."""

    size: int = 2000
    seed: int = 42
    tenant: str = "renkei-sandbox"
    api_token: str = "esm-sandbox-api-token-5d2e9a"
    clock: Callable[[], float] = time.time


def _error(status: int, code: str, message: str, item: str | None = None,
           headers: dict[str, str] | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if item:
        error["item"] = item
    return json_response({"error": error}, status, headers)


class EsmEmulator(EmulatorApp):
    """An emulated eセールスマネージャー tenant (esm API, JSON)."""

    name = "esm"

    def __init__(self, config: EsmConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or EsmConfig()
        self.store = SheetStore(cfg.size, cfg.seed, cfg.clock)

    @classmethod
    def from_options(cls, options: Any) -> EsmEmulator:
        """The launcher's factory."""
        return cls(EsmConfig(size=options.size, seed=options.seed))

    def routes(self) -> list[BaseRoute]:
        api = [
            Route("/sheet/{sheet}", self._endpoint(self._create), methods=["POST"]),
            Route("/sheet/{sheet}/{id}", self._endpoint(self._get), methods=["GET"]),
            Route("/sheet/{sheet}/{id}", self._endpoint(self._update), methods=["PUT"]),
            Route("/search/{sheet}", self._endpoint(self._search), methods=["POST"]),
        ]
        # Both prefixes appear in the documentation.
        return [Mount("/esm-api/{tenant}/pub/esms/v1", routes=api),
                Mount("/sheet-fs/{tenant}/pub/esms/v1", routes=api)]

    def exception_handlers(self) -> dict[Any, Callable[..., Any]]:
        async def not_found(request: Request, exc: Exception) -> Response:
            return _error(404, "NOT_FOUND", "no such resource")

        async def bad_method(request: Request, exc: Exception) -> Response:
            return _error(405, "METHOD_NOT_ALLOWED", "method not allowed")

        return {404: not_found, 405: bad_method}

    def _endpoint(self, handler: Callable[..., Response]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            token = header[7:] if header.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(token.encode(), self.config.api_token.encode()):
                return _error(401, "UNAUTHORIZED", "the API token is invalid")
            if request.path_params.get("tenant") != self.config.tenant:
                return _error(404, "TENANT_NOT_FOUND", "no such tenant")
            body: Any = None
            if request.method in ("POST", "PUT"):
                try:
                    body = json.loads(await request.body() or b"{}")
                except ValueError:
                    return _error(400, "INVALID_JSON", "the body is not JSON")
                if not isinstance(body, dict):
                    return _error(400, "INVALID_JSON", "the body must be a JSON object")
            try:
                tz = zone(request.headers.get("x-esm-timezone"))
                return await run_in_threadpool(handler, request.path_params, body, tz)
            except EsmError as exc:
                return _error(exc.status, exc.code, str(exc), exc.item)

        return endpoint

    @staticmethod
    def _ident(params: dict[str, Any]) -> int:
        raw = str(params.get("id", ""))
        if not raw.isdigit():
            raise EsmError(404, "NOT_FOUND", f"no record {raw}")
        return int(raw)

    def _get(self, params: dict[str, Any], body: Any, tz: Any) -> Response:
        row = self.store.get(params["sheet"], self._ident(params))
        if row is None:
            raise EsmError(404, "NOT_FOUND", "no such record")
        return json_response(self.store.render(params["sheet"], row, tz))

    def _create(self, params: dict[str, Any], body: Any, tz: Any) -> Response:
        ident = self.store.create(params["sheet"], body)
        return json_response({"id": str(ident)}, 201)

    def _update(self, params: dict[str, Any], body: Any, tz: Any) -> Response:
        ident = self._ident(params)
        self.store.update(params["sheet"], ident, body)
        return json_response({"id": str(ident)})

    def _search(self, params: dict[str, Any], body: Any, tz: Any) -> Response:
        conditions = body.get("conditions") or []
        try:
            page, size = int(body.get("page", 1)), int(body.get("page_size", MAX_PAGE_SIZE))
        except (TypeError, ValueError):
            raise EsmError(400, "INVALID_PARAMETER", "page and page_size must be integers") \
                from None
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise EsmError(400, "INVALID_PARAMETER", f"page_size must be 1..{MAX_PAGE_SIZE}")
        if not isinstance(conditions, list):
            raise EsmError(400, "INVALID_PARAMETER", "conditions must be a list")
        rows, total = self.store.search(params["sheet"], conditions, tz, page, size)
        out: dict[str, Any] = {"total": total, "page": page, "page_size": size,
                               "ids": [str(r["id"]) for r in rows]}
        if body.get("with_items"):
            out["records"] = [self.store.render(params["sheet"], r, tz) for r in rows]
        return json_response(out)

    # -- EmulatorApp hooks --------------------------------------------------------------------

    def render_fault(self, rule: FaultRule, request: Request) -> Response | None:
        headers = retry_after_header(rule)
        if rule.kind in ("rate_limit", "concurrency", "quota"):
            return _error(rule.status or 429, "TOO_MANY_REQUESTS", "too many requests",
                          headers=headers)
        if rule.kind == "token_expired":
            return _error(401, "UNAUTHORIZED", "the API token is invalid")
        if rule.kind == "server_error":
            return _error(rule.status or 503, "SERVICE_UNAVAILABLE", "temporarily unavailable",
                          headers=headers)
        return None

    def vendor_code(self, response_body: bytes, status: int) -> str | None:
        try:
            data = json.loads(response_body)
        except ValueError:
            return None
        error = data.get("error") if isinstance(data, dict) else None
        return str(error.get("code")) if isinstance(error, dict) else None

    def credentials(self) -> dict[str, str]:
        return {"tenant": self.config.tenant, "api_token": self.config.api_token}

    def list_records(self, obj: str, *, offset: int, limit: int) -> tuple[
            list[dict[str, Any]], int]:
        if obj not in ("businesscard", "customer", "activity"):
            raise KeyError(f"esm has no sheet {obj!r}")
        with self.store.lock:
            rows = sorted(self.store.rows[obj].values(), key=lambda r: r["id"])
        return [self.store.render(obj, r, UTC) for r in rows[offset:offset + limit]], \
            len(rows)

    def get_record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        if obj not in ("businesscard", "customer", "activity"):
            raise KeyError(f"esm has no sheet {obj!r}")
        row = self.store.get(obj, int(record_id)) if record_id.isdigit() else None
        return self.store.render(obj, row, UTC) if row else None

    def edit_record(self, obj: str, record_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Edit as a user in the esm screens would: plain item names or dotted keys."""
        if obj not in ("businesscard", "customer", "activity") or not record_id.isdigit():
            raise KeyError(record_id)
        prefix = self.store.sheet(obj).prefix
        body = {k if k.startswith(prefix) else prefix + k: v for k, v in changes.items()}
        try:
            self.store.update(obj, int(record_id), body)
        except EsmError as exc:
            if exc.status == 404:
                raise KeyError(record_id) from None
            raise ValueError(f"{exc.code} {exc}") from None
        return self.get_record(obj, record_id) or {}

    def create_record(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        if obj not in ("businesscard", "customer", "activity"):
            raise KeyError(f"esm has no sheet {obj!r}")
        prefix = self.store.sheet(obj).prefix
        body = {k if k.startswith(prefix) else prefix + k: v for k, v in values.items()}
        try:
            ident = self.store.create(obj, body)
        except EsmError as exc:
            raise ValueError(f"{exc.code} {exc}") from None
        return self.get_record(obj, str(ident)) or {}

    def reset(self) -> None:
        super().reset()
        self.store.reset()
