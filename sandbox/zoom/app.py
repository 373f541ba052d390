"""The Zoom emulator application: S2S OAuth, webinar endpoints, paging, limits, webhooks."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.core import EmulatorApp, FaultRule, json_response
from sandbox.zoom.data import Webinar, ZoomData
from sandbox.zoom.webhooks import WebhookSender, event_body

__all__ = ["ZoomConfig", "ZoomEmulator"]

MAX_PAGE_SIZE = 300
PAGE_TOKEN_TTL_S = 15 * 60.0
_QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
_DAILY_MESSAGE = ("You have reached the maximum daily rate limit for this API. "
                  "Refer to the response header for details on when you can make another "
                  "successful request.")


@dataclass(frozen=True)
class ZoomConfig:
    """Knobs of one emulated account (Pro plan limits by default).

    Attributes:
        seed: Seed of :mod:`sandbox.seed`.
        registrants: Registrants per webinar.
        account_id, client_id, client_secret: The S2S OAuth app's credentials.
        token_ttl_s: Access-token lifetime (Zoom: 3600 s).
        qps: Calls per second per rate-limit category (0: unlimited).
        clock: Epoch seconds.
    """

    seed: int = 42
    registrants: int = 40
    account_id: str = "rK3nEi-SandBox-Acct"
    client_id: str = "zS2Srenkei0Client"
    client_secret: str = "zoom-sandbox-secret-7f3a9c"
    token_ttl_s: float = 3600.0
    qps: tuple[tuple[str, int], ...] = (("Light", 30), ("Medium", 20), ("Heavy", 10))
    clock: Callable[[], float] = time.time


def zoom_error(status: int, code: int, message: str,
               headers: dict[str, str] | None = None) -> Response:
    """Zoom's error body ``{"code", "message"}``."""
    return json_response({"code": code, "message": message}, status, headers)


class _Limiter:
    """Calls per calendar second and category, like Zoom's QPS limits."""

    def __init__(self, qps: dict[str, int], clock: Callable[[], float]) -> None:
        self._qps, self._clock = qps, clock
        self._lock = threading.Lock()
        self._second = -1
        self._used: dict[str, int] = {}

    def enter(self, category: str) -> tuple[bool, dict[str, str]]:
        limit = self._qps.get(category, 0)
        with self._lock:
            now = self._clock()
            if int(now) != self._second:
                self._second, self._used = int(now), {}
            used = self._used.get(category, 0)
            allowed = not limit or used < limit
            if allowed:
                self._used[category] = used = used + 1
        headers = {"X-RateLimit-Category": category, "X-RateLimit-Type": "QPS",
                   "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining":
                   str(max(limit - used, 0))}
        if not allowed:
            headers["Retry-After"] = "1"
        return allowed, headers


class ZoomEmulator(EmulatorApp):
    """An emulated Zoom account with one webinar host.

    Args:
        config: The account's knobs.

    Example:
        >>> emu = ZoomEmulator(ZoomConfig(registrants=10))
        >>> emu.data.webinars[0].topic
        '製造業DXセミナー'
    """

    name = "zoom"

    def __init__(self, config: ZoomConfig | None = None) -> None:
        super().__init__()
        self.config = config or ZoomConfig()
        self.data = ZoomData(seed=self.config.seed, registrants=self.config.registrants)
        self.webhooks = WebhookSender(self.config.clock)
        self._limiter = _Limiter(dict(self.config.qps), self.config.clock)
        self._tokens: dict[str, float] = {}
        self._pages: dict[str, tuple[str, int, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, options: Any) -> ZoomEmulator:
        """The launcher's factory (webinar data does not scale with ``size``)."""
        return cls(ZoomConfig(seed=options.seed))

    def __repr__(self) -> str:
        return f"ZoomEmulator(webinars={len(self.data.webinars)})"

    # -- routes -------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/v2/users/{user}/webinars", self._api("Medium", self._list_webinars)),
            Route("/v2/webinars/{ref}/registrants",
                  self._api("Medium", self._registrants)),
            Route("/v2/webinars/{ref}", self._api("Light", self._webinar)),
            Route("/v2/past_webinars/{ref:path}/participants",
                  self._api("Medium", self._participants)),
            Route("/v2/report/webinars/{ref:path}/participants",
                  self._api("Heavy", self._participants)),
        ]

    def _sandbox_routes(self) -> list[BaseRoute]:
        return [*super()._sandbox_routes(),
                Route("/zoom/webhook", self._sb_webhook, methods=["POST", "DELETE"]),
                Route("/zoom/webhook/validate", self._sb_validate, methods=["POST"]),
                Route("/zoom/webhook/send", self._sb_send, methods=["POST"]),
                Route("/zoom/release-late", self._sb_release, methods=["POST"]),
                Route("/zoom/expire-tokens", self._sb_expire, methods=["POST"])]

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        params = {**form, **dict(request.query_params)}
        cfg = self.config
        if params.get("grant_type") != "account_credentials":
            return json_response({"reason": "Unsupported grant type",
                                  "error": "unsupported_grant_type"}, 400)
        auth = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{cfg.client_id}:{cfg.client_secret}".encode()).decode()
        if auth != f"Basic {expected}":
            return json_response({"reason": "Invalid client_id or client_secret",
                                  "error": "invalid_client"}, 401)
        if params.get("account_id") != cfg.account_id:
            return json_response({"reason": "Invalid account_id", "error": "invalid_request"}, 400)
        token = "eyJzbS" + secrets.token_urlsafe(48)
        with self._lock:
            now = cfg.clock()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + cfg.token_ttl_s
        return json_response({"access_token": token, "token_type": "bearer",
                              "expires_in": int(cfg.token_ttl_s),
                              "scope": "webinar:read:admin report:read:admin user:read:admin",
                              "api_url": str(request.base_url).rstrip("/")})

    def _api(self, category: str,
             handler: Callable[[Request], dict[str, Any]]) -> Callable[[Request], Any]:
        def endpoint(request: Request) -> Response:
            auth = request.headers.get("authorization", "")
            token = auth[7:] if auth.lower().startswith("bearer ") else ""
            with self._lock:
                expires = self._tokens.get(token)
            if expires is None:
                return zoom_error(401, 124, "Invalid access token.")
            if expires <= self.config.clock():
                return zoom_error(401, 124, "Access token is expired.")
            allowed, headers = self._limiter.enter(category)
            if not allowed:
                return zoom_error(429, 429, _QPS_MESSAGE, headers)
            try:
                body = handler(request)
            except _ApiError as exc:
                return zoom_error(exc.status, exc.code, exc.message, headers)
            return json_response(body, headers=headers)

        return endpoint

    # -- vendor endpoints (sync: Starlette runs them in its threadpool) ------------------------

    def _webinar_of(self, request: Request) -> Webinar:
        ref = request.path_params["ref"]
        # zoomus double-encodes UUIDs that start with "/" or hold "//": the server undoes one.
        while "%" in ref and unquote(ref) != ref:
            ref = unquote(ref)
        webinar = self.data.find(ref)
        if webinar is None:
            raise _ApiError(404, 3001, f"Webinar does not exist: {ref}.")
        return webinar

    def _list_webinars(self, request: Request) -> dict[str, Any]:
        user = request.path_params["user"]
        if user not in ("me", self.data.host_id, "seminar@renkei.example"):
            raise _ApiError(404, 1001, "User does not exist: " + user)
        items = [w.to_api() for w in sorted(self.data.webinars, key=lambda w: w.start_time)]
        return self._page(request, "webinars", items)

    def _webinar(self, request: Request) -> dict[str, Any]:
        return self._webinar_of(request).to_api(full=True)

    def _registrants(self, request: Request) -> dict[str, Any]:
        webinar = self._webinar_of(request)
        status = request.query_params.get("status", "approved")
        if status not in ("approved", "pending", "denied"):
            raise _ApiError(400, 300, f"Invalid field: status {status!r}.")
        with self.data.lock:
            items = [r.to_api(webinar) for r in webinar.registrants if r.status == status]
        return self._page(request, "registrants", items)

    def _participants(self, request: Request) -> dict[str, Any]:
        webinar = self._webinar_of(request)
        if not webinar.ended:
            raise _ApiError(404, 3001, "This webinar has not ended yet, no report data.")
        with self.data.lock:
            items = [p.to_api() for p in webinar.participants]
        return self._page(request, "participants", items)

    def _page(self, request: Request, key: str, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Zoom's token paging: ``page_size`` (<= 300, default 30), ``next_page_token``."""
        query = request.query_params
        try:
            size = int(query.get("page_size", "30"))
        except ValueError:
            raise _ApiError(400, 300, "Invalid field: page_size.") from None
        size = min(max(size, 1), MAX_PAGE_SIZE)  # Zoom caps silently
        scope = f"{request.url.path}?{query.get('status', '')}"
        offset = 0
        now = self.config.clock()
        if token := query.get("next_page_token", ""):
            with self._lock:
                found = self._pages.get(token)
            if found is None or found[0] != scope or found[2] < now:
                raise _ApiError(400, 300, "The next page token is invalid or expired.")
            offset = found[1]
        page = list(items[offset:offset + size])
        following = ""
        if offset + size < len(items):
            following = secrets.token_urlsafe(24)
            with self._lock:
                self._pages = {t: v for t, v in self._pages.items() if v[2] >= now}
                self._pages[following] = (scope, offset + size, now + PAGE_TOKEN_TTL_S)
        return {"page_count": -(-len(items) // size), "page_size": size,
                "total_records": len(items), "next_page_token": following, key: page}

    # -- sandbox endpoints --------------------------------------------------------------------

    async def _sb_webhook(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.webhooks.clear()
            return json_response({"cleared": True})
        data = await _json(request)
        try:
            self.webhooks.register(str(data.get("url", "")), str(data.get("secret_token", "")))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"url": self.webhooks.url}, 201)

    def _sb_validate(self, request: Request) -> Response:
        try:
            return json_response(self.webhooks.validate())
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)

    async def _sb_send(self, request: Request) -> Response:
        data = await _json(request)
        try:
            body = self.event(str(data.get("event", "")), str(data.get("webinar", "")),
                              email=data.get("email"))
            delivery = await _threaded(lambda: self.webhooks.send(body))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"event": delivery.event, "status": delivery.status,
                              "timestamp": delivery.timestamp, "error": delivery.error})

    def _sb_release(self, request: Request) -> Response:
        ref = request.query_params.get("webinar")
        return json_response({"released": self.data.release_late(ref)})

    def _sb_expire(self, request: Request) -> Response:
        return json_response({"expired": self.expire_tokens()})

    # -- helpers for tests and the sandbox ----------------------------------------------------

    def event(self, event: str, webinar_ref: str, *, email: str | None = None) -> dict[str, Any]:
        """The envelope of a webinar event about one webinar (and one person by e-mail).

        Raises:
            ValueError: Unknown webinar, person or event.
        """
        webinar = self.data.find(webinar_ref)
        if webinar is None:
            raise ValueError(f"no webinar {webinar_ref!r}")
        participant = next((p for p in webinar.participants if email and p.email == email), None)
        registrant = next((r for r in webinar.registrants if email and r.email == email), None)
        if email and participant is None and registrant is None:
            raise ValueError(f"{email!r} neither registered for nor attended {webinar.topic}")
        return event_body(event, self.config.account_id, webinar, participant=participant,
                          registrant=registrant, now_ms=int(self.config.clock() * 1000))

    def expire_tokens(self) -> int:
        """Make every issued access token expired now (a mid-read expiry); returns how many."""
        with self._lock:
            now = self.config.clock()
            self._tokens = {t: min(exp, now - 1) for t, exp in self._tokens.items()}
            return len(self._tokens)

    def render_fault(self, rule: FaultRule, request: Request) -> Response | None:
        if rule.kind in ("rate_limit", "concurrency"):
            headers = {"X-RateLimit-Category": "Heavy", "X-RateLimit-Type": "QPS",
                       "X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0",
                       "Retry-After": f"{rule.retry_after if rule.retry_after is not None else 1:g}"}
            return zoom_error(429, 429, _QPS_MESSAGE, headers)
        if rule.kind == "quota":
            reset = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            headers = {"X-RateLimit-Category": "Heavy", "X-RateLimit-Type": "Daily-limit",
                       "X-RateLimit-Limit": "30000", "X-RateLimit-Remaining": "0",
                       "Retry-After": (reset + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
            return zoom_error(429, 429, _DAILY_MESSAGE, headers)
        if rule.kind == "token_expired":
            return zoom_error(401, 124, "Access token is expired.")
        if rule.kind == "server_error":
            return zoom_error(rule.status or 500, 500, "Internal server error.")
        return None

    def vendor_code(self, response_body: bytes, status: int) -> str | None:
        if status < 400 or not response_body.startswith(b"{"):
            return None
        try:
            data = json.loads(response_body)
        except ValueError:
            return None
        code = data.get("code", data.get("error")) if isinstance(data, dict) else None
        return None if code is None else str(code)

    def credentials(self) -> dict[str, str]:
        cfg = self.config
        return {"account_id": cfg.account_id, "client_id": cfg.client_id,
                "client_secret": cfg.client_secret}

    def reset(self) -> None:
        super().reset()
        self.data = ZoomData(seed=self.config.seed, registrants=self.config.registrants)
        self.webhooks.clear()
        with self._lock:
            self._tokens.clear()
            self._pages.clear()


class _ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def _threaded(action: Callable[[], Any]) -> Any:
    return await run_in_threadpool(action)
