"""The Marketo emulator application: routes, auth, limits and fault rendering."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.core import EmulatorApp, FaultRule, json_response, retry_after_header
from sandbox.marketo import custom_activities as ca
from sandbox.marketo import endpoints as ep
from sandbox.marketo.activities import ActivityLog
from sandbox.marketo.auth import TokenIssuer
from sandbox.marketo.config import MarketoConfig
from sandbox.marketo.limits import LimitGate
from sandbox.marketo.lists import StaticLists, list_routes
from sandbox.marketo.protocol import ApiError, ApiRequest, HttpError, fail, read_request
from sandbox.marketo.schema import FieldError, coerce
from sandbox.marketo.seeding import PeopleFn, SeedLeads
from sandbox.marketo.store import UI, LeadStore

__all__ = ["MarketoEmulator"]

Handler = Callable[[ApiRequest], Response]

_TOKEN_MESSAGES = {"601": "Access token invalid", "602": "Access token expired"}
_FAULT_CODES = {
    "rate_limit": ("606", "Max rate limit exceeded"),
    "quota": ("607", "Daily quota reached"),
    "concurrency": ("615", "Concurrent access limit reached"),
    "token_expired": ("602", "Access token expired"),
}
_SERVER_MESSAGES = {"604": "Request timed out", "608": "API Temporarily Unavailable",
                    "611": "System error", "713": "Transient Error"}
_LEAD_OBJECTS = ("leads", "lead", "Lead")


class MarketoEmulator(EmulatorApp):
    """An emulated Marketo Engage subscription (REST lead database + Identity).

    Args:
        config: The subscription's knobs; vendor defaults when omitted.
        people: Person generator override (tests); defaults to :func:`sandbox.seed.people`.

    Example:
        >>> emu = MarketoEmulator(MarketoConfig(size=100))
        >>> sorted(emu.credentials())
        ['client_id', 'client_secret', 'munchkin_id']
    """

    name = "marketo"

    def __init__(self, config: MarketoConfig | None = None, *, people: PeopleFn | None = None):
        super().__init__()
        self.config = cfg = config or MarketoConfig()
        self.seed = SeedLeads(cfg.size, cfg.seed, people=people)
        self.store = LeadStore(self.seed, clock=cfg.clock, rules=cfg.record_rules)
        self.tokens = TokenIssuer(cfg.client_id, cfg.client_secret,
                                  lifetime_s=cfg.token_lifetime_s, scope="api@renkei.example",
                                  clock=cfg.clock)
        self.gate = LimitGate(cfg.limits, cfg.clock)
        self.lists = StaticLists(cfg.clock)
        self.custom = ca.CustomActivities(cfg.custom_activity_types, self.store)

    @classmethod
    def from_options(cls, options: Any) -> MarketoEmulator:
        """The launcher's factory: a subscription seeded with ``options.size`` leads.

        Large sandboxes build their seed indexes in the background, so the port opens at
        once and the first activity or email query does not wait for a full seed pass.
        """
        emulator = cls(MarketoConfig(size=options.size, seed=options.seed))
        if options.size > 10_000:
            emulator.warm_up()
        return emulator

    def __repr__(self) -> str:
        return f"MarketoEmulator(munchkin_id={self.config.munchkin_id!r}, size={self.config.size})"

    def warm_up(self, *, background: bool = True) -> None:
        """Build the seed indexes now (in a thread by default) rather than on the first query."""
        if background:
            threading.Thread(target=self.seed.ensure_index, name="marketo-seed-index",
                             daemon=True).start()
        else:
            self.seed.ensure_index()

    # -- routes -------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        s = self.store
        lim = self.config.scan_limit
        rest: list[tuple[str, dict[str, Callable[..., Response]]]] = [
            ("/rest/v1/leads.json", {"GET": lambda r: ep.get_leads(s, r),
                                     "POST": lambda r: ep.sync_leads(s, r)}),
            ("/rest/v1/leads/describe.json", {"GET": lambda r: ep.describe_leads(s, r)}),
            ("/rest/v1/leads/describe2.json", {"GET": lambda r: ep.describe_leads2(s, r)}),
            ("/rest/v1/leads/delete.json", {"POST": lambda r: ep.delete_leads(s, r)}),
            ("/rest/v1/activities/types.json",
             {"GET": lambda r: ca.activity_types(self.custom, r)}),
            ("/rest/v1/activities/pagingtoken.json", {"GET": lambda r: ep.paging_token(s, r)}),
            ("/rest/v1/activities/leadchanges.json",
             {"GET": lambda r: ep.lead_changes(s, r, scan_limit=lim)}),
            ("/rest/v1/activities/deletedleads.json",
             {"GET": lambda r: ep.deleted_leads(s, r, scan_limit=lim)}),
            ("/rest/v1/activities.json", {"GET": ca.with_custom_attributes(
                self.custom, lambda r: ep.lead_activities(s, r, scan_limit=lim))}),
        ]
        routes: list[BaseRoute] = [
            Route("/identity/oauth/token", self._identity, methods=["GET", "POST"]),
            Route("/rest/v1/lead/{lead_id}.json",
                  self._rest({"GET": lambda r, lead_id: ep.get_lead(s, r, lead_id)}),
                  methods=["GET", "POST"]),
        ]
        routes += [Route(path, self._rest(handlers), methods=["GET", "POST"])
                   for path, handlers in rest]
        routes += ca.custom_activity_routes(self.custom, self._rest)
        return routes + list_routes(self.lists, s, self._rest)

    def exception_handlers(self) -> dict[Any, Callable[..., Any]]:
        async def not_found(request: Request, exc: Exception) -> Response:
            return fail("610", "Requested resource not found")

        async def bad_method(request: Request, exc: Exception) -> Response:
            return fail("605", "HTTP Method not supported")

        return {404: not_found, 405: bad_method}

    # -- Identity -----------------------------------------------------------------------------

    async def _identity(self, request: Request) -> Response:
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        if request.method == "POST":
            params.update(parse_qsl((await request.body()).decode("utf-8", "replace")))
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic ") and not client_secret:
            try:
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                client_id = client_secret = None
        if params.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type",
                                  "error_description": "Unsupported grant type"}, 400)
        if not self.tokens.credentials_ok(client_id, client_secret):
            return json_response({"error": "invalid_client",
                                  "error_description": "Bad client credentials"}, 401)
        token, remaining = self.tokens.issue()
        return json_response({"access_token": token, "token_type": "bearer",
                              "expires_in": remaining, "scope": self.tokens.scope})

    # -- the REST pipeline: parse, authenticate, admit, handle, count -------------------------

    def _rest(self, handlers: dict[str, Callable[..., Response]]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                req = await read_request(request, payload_limit=self.config.payload_limit,
                                         uri_limit=self.config.uri_limit)
            except HttpError as exc:
                return exc.response()
            except ApiError as exc:
                return fail(exc.code, exc.message)
            handler = handlers.get(req.method)
            if handler is None:
                return fail("605", "HTTP Method not supported")
            token_error = self.tokens.check(req.token)
            if token_error:
                return fail(token_error, _TOKEN_MESSAGES[token_error])
            refusal = self.gate.enter()
            if refusal is not None:
                self.gate.count(refusal.code)
                return fail(refusal.code, refusal.message)
            code: str | None = None
            try:
                if self.config.latency_s:
                    await asyncio.sleep(self.config.latency_s)
                args = dict(request.path_params)
                response = await run_in_threadpool(handler, req, **args)
            except ApiError as exc:
                code = exc.code
                response = fail(exc.code, exc.message)
            finally:
                self.gate.leave(code)
            self.gate.count(code)
            return response

        return endpoint

    # -- EmulatorApp hooks --------------------------------------------------------------------

    def render_fault(self, rule: FaultRule, request: Request) -> Response | None:
        headers = retry_after_header(rule)
        if rule.kind in _FAULT_CODES:
            code, message = _FAULT_CODES[rule.kind]
            if code == "606":
                limits = self.config.limits
                message = (f"Max rate limit '{limits.rate_calls}' exceeded with in "
                           f"'{limits.rate_window_s:g}' secs")
            response = fail(code, message)
            response.headers.update(headers)
            return response
        if rule.kind == "server_error":
            vendor = self.config.server_error_code or ("608" if rule.status == 200 else None)
            if vendor is not None:
                response = fail(vendor, _SERVER_MESSAGES.get(vendor, "API Temporarily Unavailable"))
                response.headers.update(headers)
                return response
            status = rule.status or 503
            return Response(f"{status} Service Unavailable", status_code=status,
                            headers=headers, media_type="text/plain")
        return None

    def vendor_code(self, response_body: bytes, status: int) -> str | None:
        if not response_body.startswith(b"{"):
            return None
        try:
            data = json.loads(response_body)
        except ValueError:
            return None
        errors = data.get("errors") if isinstance(data, dict) else None
        if errors and isinstance(errors, list) and isinstance(errors[0], dict):
            return str(errors[0].get("code"))
        if isinstance(data, dict) and "error" in data:
            return str(data["error"])
        return None

    def credentials(self) -> dict[str, str]:
        return {"client_id": self.config.client_id, "client_secret": self.config.client_secret,
                "munchkin_id": self.config.munchkin_id}

    def _check_obj(self, obj: str) -> None:
        if obj not in _LEAD_OBJECTS:
            raise KeyError(f"marketo has no object {obj!r} (objects: leads, activities)")

    def list_records(self, obj: str, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        if obj == "activities":
            total = len(self.store.log)
            kept, _, _ = self.store.log.scan(offset, keep=lambda a: True, batch_size=limit,
                                             scan_limit=limit)
            return [ActivityLog.render(p, a, lead_changes=False) for p, a in kept], total
        self._check_obj(obj)
        records: list[dict[str, Any]] = []
        for index, lead_id in enumerate(self.store.ids()):
            if index >= offset + limit:
                break
            if index >= offset:
                record = self.store.get(lead_id)
                if record is not None:
                    records.append(record)
        return records, self.store.count

    def get_record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        self._check_obj(obj)
        return self.store.get(int(record_id)) if record_id.isdigit() else None

    def _coerce(self, changes: dict[str, Any]) -> dict[str, Any]:
        try:
            return {k: coerce(k, v) for k, v in changes.items()}
        except FieldError as exc:
            raise ValueError(f"{exc.code} {exc.message}") from None

    def edit_record(self, obj: str, record_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Edit a lead as a user in the Marketo UI: moves ``updatedAt`` and logs a Change Data
        Value activity per changed field (Reason "Changed by user", Source "Web UI")."""
        self._check_obj(obj)
        if not record_id.isdigit():
            raise KeyError(record_id)
        return self.store.update(int(record_id), self._coerce(changes), UI)

    def create_record(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        """Create a lead as a user in the UI would (a New Lead activity is logged)."""
        self._check_obj(obj)
        return self.store.create(self._coerce(values), UI)

    def expire_token(self) -> None:
        """Expire the current access token now (tests of a mid-run expiry)."""
        self.tokens.expire_now()

    def reset(self) -> None:
        super().reset()
        self.store.reset()
        self.lists.reset()
        self.custom.reset()
        self.tokens.reset()
        self.gate.reset()
