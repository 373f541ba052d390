"""The Salesforce emulator as an ASGI app: auth, limits, faults and the REST dispatcher.

Cross-cutting behaviour [C: REST API Developer Guide unless marked]:

* every resource under ``/services/data/vXX.X/`` needs ``Authorization: Bearer <session>``
  (``OAuth <session>`` is accepted too); a missing, unknown or expired session answers 401
  ``[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]``;
* each such call counts against the org's daily API requests, reported on every response
  as ``Sforce-Limit-Info: api-usage=N/M`` (not on ``/services/data/`` itself); past the
  limit calls answer 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded." [S: message];
* ``GET /services/data/`` lists the versions (no auth); an unknown version answers 404;
* faults render as Salesforce would: rate_limit/quota → 403 TotalRequests, concurrency →
  403 "ConcurrentPerOrgLongTxn Limit exceeded." [S: mautic/mautic#5006], token_expired →
  401 INVALID_SESSION_ID (the session really ends), server_error → 503
  SERVER_UNAVAILABLE or 500 UNKNOWN_EXCEPTION, always as a JSON array.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.core.app import EmulatorApp
from sandbox.core.faults import FaultRule
from sandbox.salesforce.auth import Credentials, LoginError, SessionStore
from sandbox.salesforce.org import FailurePattern, Org
from sandbox.salesforce.query import QueryEngine
from sandbox.salesforce.rest import Call, Reply, error_reply, handle_rest
from sandbox.salesforce.store import SeedSource
from sandbox.salesforce.validation import RequestError

__all__ = ["VERSIONS", "SalesforceEmulator", "SalesforceSettings"]

VERSIONS = tuple(f"{v}.0" for v in range(31, 63))
_JSON = "application/json;charset=UTF-8"
_VERSION_LABELS = {"59.0": "Winter '24", "60.0": "Spring '24", "61.0": "Summer '24",
                   "62.0": "Winter '25"}


@dataclass
class SalesforceSettings:
    """The emulated org's knobs.

    Attributes:
        size: Seeded leads (contacts: a quarter of that; accounts: their companies).
        seed: Seed of the deterministic data.
        daily_api_limit: The org's daily API requests (Enterprise Edition starts at 100,000).
        session_lifetime_s: Seconds a session stays valid (Salesforce's default: 2 hours).
        duplicate_rule: Block a lead whose email another lead already has.
        failures: Failure patterns applied to record writes.
        credentials: What logins must present.
        public_url: The URL ``instance_url`` names (default: the URL the request came in on).
        marketo_size: Seed leads with ``demo_split(marketo_size, size)`` so that 40% of them
            are people of a Marketo sandbox of that size too (see :mod:`.seeding`).
    """

    size: int = 1000
    seed: int = 42
    daily_api_limit: int = 100_000
    session_lifetime_s: float = 7200.0
    duplicate_rule: bool = True
    failures: list[FailurePattern] = field(default_factory=list)
    credentials: Credentials = field(default_factory=Credentials)
    public_url: str | None = None
    marketo_size: int | None = None


class _Usage:
    """The org's API requests over a rolling 24 hours, counted in one-minute buckets."""

    WINDOW_MIN = 24 * 60

    def __init__(self, limit: int, clock: Callable[[], float] = time.time):
        self.limit = limit
        self._clock = clock
        self._buckets: deque[list[int]] = deque()  # [minute, count], oldest first
        self._used = 0
        self._lock = threading.Lock()

    def _expire(self) -> int:
        minute = int(self._clock() // 60)
        while self._buckets and self._buckets[0][0] <= minute - self.WINDOW_MIN:
            self._used -= self._buckets.popleft()[1]
        return minute

    def take(self) -> bool:
        """Count one request; False (and not counted) when the limit is already reached."""
        with self._lock:
            minute = self._expire()
            if self._used >= self.limit:
                return False
            if not self._buckets or self._buckets[-1][0] != minute:
                self._buckets.append([minute, 0])
            self._buckets[-1][1] += 1
            self._used += 1
            return True

    @property
    def used(self) -> int:
        with self._lock:
            self._expire()
            return self._used

    def set_used(self, used: int) -> None:
        """Pretend ``used`` requests were made this minute (for tests and demos)."""
        with self._lock:
            self._buckets.clear()
            self._buckets.append([int(self._clock() // 60), used])
            self._used = used

    @property
    def header(self) -> str:
        return f"api-usage={self.used}/{self.limit}"


class SalesforceEmulator(EmulatorApp):
    """A Salesforce org over HTTP(S).

    Args:
        settings: Org knobs.
        seeds: Object name to seeded records; built from ``settings`` when omitted.
        clock: Wall clock for record timestamps.
    """

    name = "salesforce"

    def __init__(self, settings: SalesforceSettings | None = None, *,
                 seeds: dict[str, SeedSource | None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        super().__init__()
        self.settings = settings or SalesforceSettings()
        self._seeds = seeds
        self._clock = clock
        self._lock = threading.RLock()
        self.sessions = SessionStore(self.settings.credentials, self.settings.session_lifetime_s)
        self.usage = _Usage(self.settings.daily_api_limit)
        self.org: Org
        self.engine: QueryEngine
        self._build()

    def _build(self) -> None:
        seeds = self._seeds
        if seeds is None:
            from sandbox.salesforce.seeding import default_seeds
            seeds = default_seeds(self.settings.size, self.settings.seed,
                                  marketo_size=self.settings.marketo_size)
        self.org = Org(seeds, self._clock, duplicate_rule=self.settings.duplicate_rule,
                       failures=self.settings.failures)
        self.engine = QueryEngine(self.org.stores, lambda: self._clock().date())

    # -- EmulatorApp hooks ---------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/services/oauth2/token", self._token, methods=["POST"]),
            Route("/services/Soap/u/{version}", self._soap, methods=["POST"]),
            Route("/services/data", self._versions, methods=["GET"]),
            Route("/services/data/", self._versions, methods=["GET"]),
            Route("/services/data/v{version}/{rest:path}", self._rest,
                  methods=["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"]),
            Route("/services/data/v{version}", self._rest, methods=["GET"]),
        ]

    def render_fault(self, rule: FaultRule, request: Request) -> Response | None:
        headers = {"Sforce-Limit-Info": self.usage.header}
        if rule.retry_after is not None:
            headers["Retry-After"] = f"{rule.retry_after:g}"
        if rule.kind in ("rate_limit", "quota"):
            reply = error_reply(rule.status or 403, "REQUEST_LIMIT_EXCEEDED",
                                "TotalRequests Limit exceeded.")
        elif rule.kind == "concurrency":
            reply = error_reply(rule.status or 403, "REQUEST_LIMIT_EXCEEDED",
                                "ConcurrentPerOrgLongTxn Limit exceeded.")
        elif rule.kind == "token_expired":
            self.sessions.expire_all()
            reply = error_reply(401, "INVALID_SESSION_ID", "Session expired or invalid")
        elif rule.kind == "server_error":
            status = rule.status or 503
            if status == 503:
                reply = error_reply(503, "SERVER_UNAVAILABLE",
                                    "Server is temporarily unavailable. Please try again later.")
            else:
                reply = error_reply(status, "UNKNOWN_EXCEPTION",
                                    "An unexpected error occurred. Please include this ErrorId "
                                    "if you contact support: 1946419120-12345 (-1029384756)")
        else:
            return None
        return self._json(reply, headers)

    def vendor_code(self, response_body: bytes, status: int) -> str | None:
        if status < 300 and status != 201:
            return None
        text = response_body.decode("utf-8", "replace")
        if text.startswith("<"):
            m = re.search(r"<sf:exceptionCode>([^<]+)<", text)
            return m.group(1) if m else None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return str(data[0].get("errorCode")) if data[0].get("errorCode") else None
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])
        return None

    def credentials(self) -> dict[str, str]:
        return self.settings.credentials.as_dict()

    def list_records(self, obj: str, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            store = self.org.store(obj)
            if store is None:
                raise KeyError(obj)
            out = []
            for i, (_, record) in enumerate(store.scan()):
                if i >= offset + limit:
                    break
                if i >= offset:
                    out.append(dict(record))
            return out, len(store)

    def get_record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            store = self.org.store(obj)
            if store is None:
                raise KeyError(obj)
            record = store.get(record_id)
            return dict(record) if record is not None else None

    def edit_record(self, obj: str, record_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            store = self.org.store(obj)
            if store is None or store.get(record_id) is None:
                raise KeyError(record_id if store else obj)
            try:
                outcome = self.org.update(store.odef.name, record_id, changes, as_user=True)
            except RequestError as exc:
                raise ValueError(exc.error.message) from None
            if not outcome.ok:
                raise ValueError("; ".join(f"{e.code}: {e.message}" for e in outcome.errors))
            return dict(store.get(record_id) or {})

    def create_record(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            store = self.org.store(obj)
            if store is None:
                raise KeyError(obj)
            try:
                outcome = self.org.create(store.odef.name, values)
            except RequestError as exc:
                raise ValueError(exc.error.message) from None
            if not outcome.ok or outcome.id is None:
                raise ValueError("; ".join(f"{e.code}: {e.message}" for e in outcome.errors))
            return dict(store.get(outcome.id) or {})

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.usage = _Usage(self.settings.daily_api_limit)
            for pattern in self.settings.failures:
                pattern.fired = 0
            self._build()

    # -- HTTP ----------------------------------------------------------------------------
    @staticmethod
    def _json(reply: Reply, headers: dict[str, str] | None = None) -> Response:
        if reply.status == 204 or reply.body is None:
            return Response(status_code=reply.status, headers=headers)
        body = json.dumps(reply.body, ensure_ascii=False, separators=(",", ":"))
        return Response(body.encode(), status_code=reply.status, headers=headers, media_type=_JSON)

    def _base_url(self, request: Request) -> str:
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return f"{request.url.scheme}://{request.url.netloc}"

    async def _token(self, request: Request) -> Response:
        # A urlencoded form; parsed here because Starlette's form parser needs an extra
        # package (python-multipart) for nothing more than this.
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"),
                              keep_blank_values=True))
        try:
            body = self.sessions.oauth(form, request.headers.get("authorization"),
                                       self._base_url(request))
        except LoginError as exc:
            return self._json(Reply(400, {"error": exc.error,
                                          "error_description": exc.description}))
        return self._json(Reply(200, body))

    async def _soap(self, request: Request) -> Response:
        status, xml = self.sessions.soap_login(await request.body(), self._base_url(request),
                                               request.path_params["version"])
        return Response(xml.encode(), status_code=status, media_type="text/xml;charset=UTF-8")

    async def _versions(self, request: Request) -> Response:
        return self._json(Reply(200, [
            {"label": _VERSION_LABELS.get(v, f"v{v}"), "url": f"/services/data/v{v}", "version": v}
            for v in VERSIONS]))

    async def _rest(self, request: Request) -> Response:
        version = request.path_params["version"]
        if version not in VERSIONS:
            return self._json(error_reply(404, "NOT_FOUND", "The requested resource does not "
                                          "exist"))
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not self.sessions.valid(token.strip()):
            return self._json(error_reply(401, "INVALID_SESSION_ID", "Session expired or invalid"))
        if not self.usage.take():
            return self._json(error_reply(403, "REQUEST_LIMIT_EXCEEDED",
                                          "TotalRequests Limit exceeded."),
                              {"Sforce-Limit-Info": self.usage.header})
        body = await request.body()
        rest = request.path_params.get("rest", "")
        call = Call(method=request.method, version=version,
                    parts=[p for p in rest.split("/") if p], params=dict(request.query_params),
                    headers={k.lower(): v for k, v in request.headers.items()}, body=body,
                    org=self.org, engine=self.engine, limits=self._limits())
        reply = await run_in_threadpool(self._locked, call)
        return self._json(reply, {"Sforce-Limit-Info": self.usage.header})

    def _locked(self, call: Call) -> Reply:
        with self._lock:
            call.org, call.engine = self.org, self.engine
            return handle_rest(call)

    def _limits(self) -> dict[str, Any]:
        used, limit = self.usage.used, self.usage.limit
        return {
            "DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": 5120, "Remaining": 5000},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        }
