"""The Brightcove emulator application: OAuth, CMS videos, Analytics reports, faults."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.brightcove.analytics import parse_report, run_report, visible_seconds
from sandbox.brightcove.config import BrightcoveConfig, EmulatorClock
from sandbox.brightcove.errors import ApiError, error_response
from sandbox.brightcove.seeding import Video, View, seed_account
from sandbox.core import EmulatorApp, FaultRule, json_response, retry_after_header

__all__ = ["BrightcoveEmulator"]

_CMS_MAX_LIMIT = 100
_CMS_SORTS = ("name", "created_at", "updated_at", "reference_id")


class BrightcoveEmulator(EmulatorApp):
    """An emulated Video Cloud account: OAuth v4, CMS API videos, Analytics API ``/v1/data``.

    Args:
        config: The account's knobs; sandbox defaults when omitted.

    Example:
        >>> from datetime import date
        >>> emu = BrightcoveEmulator(BrightcoveConfig(size=100, today=date(2026, 11, 20)))
        >>> emu.videos[0].name
        'オンデマンド: 生産管理入門'
    """

    name = "brightcove"

    def __init__(self, config: BrightcoveConfig | None = None) -> None:
        super().__init__()
        self.config = config or BrightcoveConfig()
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self.videos, self.views = seed_account(self.config.size, self.config.seed,
                                               self.config.today)

    @classmethod
    def from_options(cls, options: Any) -> BrightcoveEmulator:
        """The launcher's factory: viewers drawn from ``options.size`` seed people."""
        return cls(BrightcoveConfig(size=options.size, seed=options.seed))

    def __repr__(self) -> str:
        return f"BrightcoveEmulator(account_id={self.config.account_id})"

    @property
    def clock(self) -> EmulatorClock:
        """The emulator's clock (tests move it with ``advance``)."""
        assert self.config.clock is not None
        return self.config.clock

    def add_view(self, video_id: str, viewer: str, at_s: float, seconds: float) -> View:
        """Record a viewing session as the player would (tests of new and late data)."""
        if video_id not in self._video_map():
            raise KeyError(f"no video {video_id}")
        view = View(video_id, viewer, at_s, seconds)
        with self._lock:
            self.views = sorted([*self.views, view], key=lambda v: (v.at_s, v.video_id, v.viewer))
        return view

    def _video_map(self) -> dict[str, Video]:
        return {v.id: v for v in self.videos}

    # -- routes -------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v4/access_token", self._token, methods=["POST"]),
            Route("/v1/accounts/{account_id}/videos", self._api(self._cms_videos),
                  methods=["GET"]),
            Route("/v1/accounts/{account_id}/counts/videos", self._api(self._cms_count),
                  methods=["GET"]),
            Route("/v1/data", self._api(self._analytics), methods=["GET"]),
        ]

    def exception_handlers(self) -> dict[Any, Callable[..., Any]]:
        async def not_found(request: Request, exc: Exception) -> Response:
            return error_response(404, "RESOURCE_NOT_FOUND", "The api couldn't find the "
                                  "resource you requested")

        async def bad_method(request: Request, exc: Exception) -> Response:
            return error_response(405, "METHOD_NOT_ALLOWED", "The HTTP method is not "
                                  "allowed on this resource")

        return {404: not_found, 405: bad_method}

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        grant = form.get("grant_type") or request.query_params.get("grant_type")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id = secret = ""
        cfg = self.config
        if scheme.lower() != "basic" or (client_id, secret) != (cfg.client_id, cfg.client_secret):
            return error_response(401, "invalid_client", "The client_id/client_secret pair "
                                  "is not valid (send them as HTTP Basic credentials)")
        if grant != "client_credentials":
            return error_response(400, "unsupported_grant_type",
                                  "grant_type must be client_credentials")
        token = secrets.token_urlsafe(48)
        with self._lock:
            now = self.clock.now()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + cfg.token_ttl_s
        return json_response({"access_token": token, "token_type": "Bearer",
                              "expires_in": cfg.token_ttl_s})

    def _api(self, handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        def endpoint(request: Request) -> Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            with self._lock:
                expires = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if expires is None or expires <= self.clock.now():
                return error_response(401, "UNAUTHORIZED", "Permission denied.")
            try:
                return json_response(handler(request))
            except ApiError as exc:
                return exc.response()

        return endpoint

    def _account(self, request: Request) -> None:
        account = request.path_params["account_id"]
        if account != self.config.account_id:
            raise ApiError(403, "NOT_AVAILABLE", f"account {account} is not available to "
                           "these client credentials")

    def _cms_videos(self, request: Request) -> list[dict[str, Any]]:
        self._account(request)
        params = request.query_params
        try:
            limit = int(params.get("limit") or 20)
            offset = int(params.get("offset") or 0)
        except ValueError:
            raise ApiError(400, "BAD_REQUEST", "limit and offset must be integers") from None
        if not 1 <= limit <= _CMS_MAX_LIMIT or offset < 0:
            raise ApiError(400, "BAD_REQUEST", f"limit must be 1..{_CMS_MAX_LIMIT} and "
                           "offset >= 0")
        sort = params.get("sort") or "-updated_at"
        if sort.lstrip("-") not in _CMS_SORTS:
            raise ApiError(400, "BAD_REQUEST", f"cannot sort on {sort!r}")
        rendered = [v.to_cms(self.config.account_id) for v in self.videos]
        rendered.sort(key=lambda v: str(v["id"]))
        rendered.sort(key=lambda v: str(v[sort.lstrip("-")]), reverse=sort.startswith("-"))
        return rendered[offset:offset + limit]

    def _cms_count(self, request: Request) -> dict[str, int]:
        self._account(request)
        return {"count": len(self.videos)}

    def _analytics(self, request: Request) -> dict[str, Any]:
        now = self.clock.now()
        report = parse_report(dict(request.query_params), self.config.account_id, now)
        with self._lock:
            views = list(self.views)
        return run_report(report, self._video_map(), views, now, self.config.settle_days,
                          self.config.account_id)

    # -- EmulatorApp hooks --------------------------------------------------------------------

    def render_fault(self, rule: FaultRule, request: Request) -> Response | None:
        headers = retry_after_header(rule)
        if rule.kind in ("rate_limit", "concurrency", "quota"):
            return error_response(rule.status or 429, "TOO_MANY_REQUESTS", "too many "
                                  "simultaneous requests or too many requests per second",
                                  headers=headers)
        if rule.kind == "server_error":
            return error_response(rule.status or 500, "SERVER_ERROR", "internal server error",
                                  headers=headers)
        if rule.kind == "token_expired":
            return error_response(401, "UNAUTHORIZED", "Permission denied.")
        return None

    def vendor_code(self, response_body: bytes, status: int) -> str | None:
        if status < 400 or not response_body.startswith(b"["):
            return None
        try:
            data = json.loads(response_body)
        except ValueError:
            return None
        first = data[0] if isinstance(data, list) and data else None
        return str(first["error_code"]) if isinstance(first, dict) and "error_code" in first \
            else None

    def credentials(self) -> dict[str, str]:
        return {"account_id": self.config.account_id, "client_id": self.config.client_id,
                "client_secret": self.config.client_secret}

    def list_records(self, obj: str, *, offset: int, limit: int
                     ) -> tuple[list[dict[str, Any]], int]:
        rows = self._rows(obj)
        return rows[offset:offset + limit], len(rows)

    def get_record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        return next((r for r in self._rows(obj) if str(r["id"]) == record_id), None)

    def _rows(self, obj: str) -> list[dict[str, Any]]:
        if obj == "videos":
            return [v.to_cms(self.config.account_id) for v in self.videos]
        if obj == "views":
            now = self.clock.now()
            return [{"id": str(n), "video": v.video_id, "viewer": v.viewer, "at_s": v.at_s,
                     "seconds_final": v.seconds, "seconds_now": visible_seconds(
                         v, now, self.config.settle_days), "visible": v.at_s <= now}
                    for n, v in enumerate(self.views)]
        raise KeyError(f"brightcove has no object type {obj!r} (videos, views)")

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._tokens.clear()
            self.videos, self.views = seed_account(self.config.size, self.config.seed,
                                                   self.config.today)
