"""The HubSpot emulator application: routes, private-app auth, burst limits, fault rendering."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.core import EmulatorApp, FaultRule, json_response
from sandbox.hubspot import associations as assoc
from sandbox.hubspot import endpoints as ep
from sandbox.hubspot.config import HubSpotConfig
from sandbox.hubspot.errors import ApiError, error_response
from sandbox.hubspot.limits import BurstGate, Refusal
from sandbox.hubspot.objects import OBJECT_TYPES, ObjectType, object_type
from sandbox.hubspot.seeding import seed_portal
from sandbox.hubspot.store import CrmStore, PropertyError, UniqueConflictError

__all__ = ["HubSpotEmulator"]

_AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 "
                 "authentication and you can find more details at "
                 "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
Handler = Callable[..., ep.Result]


class HubSpotEmulator(EmulatorApp):
    """An emulated HubSpot portal (CRM v3 objects, associations v4, properties).

    Args:
        config: The portal's knobs; vendor defaults when omitted.

    Example:
        >>> emu = HubSpotEmulator(HubSpotConfig(size=100))
        >>> sum(1 for _ in emu.store.live("contacts"))
        100
    """

    name = "hubspot"

    def __init__(self, config: HubSpotConfig | None = None):
        super().__init__()
        self.config = cfg = config or HubSpotConfig()
        self.gate = BurstGate(calls=cfg.burst_calls, window_s=cfg.burst_window_s,
                              daily=cfg.daily_quota, clock=cfg.clock)
        self.store = self._seeded()

    def _seeded(self) -> CrmStore:
        store = CrmStore(self.config.clock)
        seed_portal(store, self.config.size, self.config.seed)
        return store

    @classmethod
    def from_options(cls, options: Any) -> HubSpotEmulator:
        """The launcher's factory: a portal seeded with ``options.size`` contacts."""
        return cls(HubSpotConfig(size=options.size, seed=options.seed))

    def __repr__(self) -> str:
        return f"HubSpotEmulator(portal_id={self.config.portal_id}, size={self.config.size})"

    # -- routes -------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        v3 = "/crm/v3/objects/{obj}"
        batch: dict[str, Handler] = {
            "read": ep.batch_read, "create": ep.batch_create, "update": ep.batch_update,
            "upsert": ep.batch_upsert, "archive": ep.batch_archive}

        def on_batch(r: Request, o: ObjectType, body: Any) -> ep.Result:
            handler = batch.get(r.path_params["op"])
            if handler is None:
                raise ApiError(404, "OBJECT_NOT_FOUND", "resource not found")
            return handler(self.store, o, body)

        def to_type(name: str) -> ObjectType:
            found = object_type(name)
            if found is None:
                raise ApiError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {name}")
            return found

        return [
            Route(f"{v3}/search", self._api(lambda r, o, b: ep.search(self.store, o, b)),
                  methods=["POST"]),
            Route(f"{v3}/batch/{{op}}", self._api(on_batch), methods=["POST"]),
            Route(v3, self._api(lambda r, o, b: ep.list_objects(self.store, o, _params(r))
                                if r.method == "GET" else ep.create_object(self.store, o, b)),
                  methods=["GET", "POST"]),
            Route(f"{v3}/{{ref}}", self._api(lambda r, o, b: self._one(r, o, b)),
                  methods=["GET", "PATCH", "DELETE"]),
            Route("/crm/v3/properties/{obj}", self._api(lambda r, o, b: ep.properties(o)),
                  methods=["GET"]),
            Route("/crm/v4/objects/{obj}/{ref}/associations/default/{to}/{to_id}",
                  self._api(lambda r, o, b: assoc.create_default(
                      self.store, o, r.path_params["ref"], to_type(r.path_params["to"]),
                      r.path_params["to_id"])), methods=["PUT"]),
            Route("/crm/v4/objects/{obj}/{ref}/associations/{to}",
                  self._api(lambda r, o, b: assoc.list_associations(
                      self.store, o, r.path_params["ref"], to_type(r.path_params["to"]))),
                  methods=["GET"]),
            Route("/crm/v4/associations/{obj}/{to}/batch/read",
                  self._api(lambda r, o, b: assoc.batch_read_associations(
                      self.store, o, to_type(r.path_params["to"]), b)), methods=["POST"]),
            Route("/crm/v4/associations/{obj}/{to}/batch/associate/default",
                  self._api(lambda r, o, b: assoc.batch_associate_default(
                      self.store, o, to_type(r.path_params["to"]), b)), methods=["POST"]),
        ]

    def _one(self, request: Request, obj: ObjectType, body: Any) -> ep.Result:
        ref = request.path_params["ref"]
        if request.method == "GET":
            return ep.get_object(self.store, obj, ref, _params(request))
        if request.method == "PATCH":
            return ep.update_object(self.store, obj, ref, body, _params(request))
        return ep.archive_object(self.store, obj, ref)

    def exception_handlers(self) -> dict[Any, Callable[..., Any]]:
        async def not_found(request: Request, exc: Exception) -> Response:
            return error_response(404, "OBJECT_NOT_FOUND", "resource not found")

        async def bad_method(request: Request, exc: Exception) -> Response:
            return error_response(405, "VALIDATION_ERROR", "HTTP method not allowed")

        return {404: not_found, 405: bad_method}

    # -- the pipeline: authenticate, admit, parse, handle -------------------------------------

    def _api(self, handler: Handler) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            auth = request.headers.get("authorization", "")
            if auth != f"Bearer {self.config.access_token}":
                return error_response(401, "INVALID_AUTHENTICATION", _AUTH_MESSAGE,
                                      headers={"X-HubSpot-Auth-Failure": "401 Unauthorized"})
            refusal = self.gate.enter()
            if refusal is not None:
                return self._limited(refusal)
            try:
                body = await _json_body(request)
                obj = object_type(request.path_params["obj"])
                if obj is None:
                    raise ApiError(400, "VALIDATION_ERROR", "Unable to infer object type "
                                   f"from: {request.path_params['obj']}")
                status, data = await run_in_threadpool(handler, request, obj, body)
            except ApiError as exc:
                response = exc.response()
            else:
                response = (Response(status_code=status) if data is None
                            else json_response(data, status))
            response.headers.update(self.gate.headers())
            return response

        return endpoint

    def _limited(self, refusal: Refusal, retry_after: str | None = None) -> Response:
        daily = refusal.policy == "DAILY"
        body = {"status": "error",
                "message": "You have reached your daily limit." if daily else
                           "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                "policyName": refusal.policy, "category": "RATE_LIMITS",
                "requestId": uuid.uuid4().hex}
        headers = {**self.gate.headers(),
                   "Retry-After": retry_after or self.gate.retry_after(refusal)}
        return json_response(body, 429, headers=headers)

    # -- EmulatorApp hooks --------------------------------------------------------------------

    def render_fault(self, rule: FaultRule, request: Request) -> Response | None:
        retry = f"{rule.retry_after:g}" if rule.retry_after is not None else None
        if rule.kind in ("rate_limit", "concurrency"):
            return self._limited(Refusal("TEN_SECONDLY_ROLLING", self.config.burst_window_s),
                                 retry)
        if rule.kind == "quota":
            return self._limited(Refusal("DAILY", 3600.0), retry)
        if rule.kind == "token_expired":
            return error_response(401, "EXPIRED_AUTHENTICATION", "The OAuth token used to make "
                                  "this call expired 10 second(s) ago.")
        if rule.kind == "server_error":
            headers = {"Retry-After": retry} if retry else None
            return error_response(rule.status or 502, "INTERNAL_ERROR",
                                  "internal error", headers=headers)
        return None

    def vendor_code(self, response_body: bytes, status: int) -> str | None:
        if status < 400 or not response_body.startswith(b"{"):
            return None
        try:
            data = json.loads(response_body)
        except ValueError:
            return None
        code = data.get("policyName") or data.get("category") if isinstance(data, dict) else None
        return str(code) if code else None

    def credentials(self) -> dict[str, str]:
        return {"access_token": self.config.access_token,
                "portal_id": str(self.config.portal_id)}

    def _type(self, obj: str) -> ObjectType:
        found = object_type(obj)
        if found is None:
            raise KeyError(f"hubspot has no object type {obj!r} ({', '.join(OBJECT_TYPES)})")
        return found

    def list_records(self, obj: str, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        kind = self._type(obj)
        with self.store.lock:
            live = sorted(self.store.live(kind.name), key=lambda r: r.id)
            names = [p.name for p in kind.properties]
            page = [ep.render(self.store, kind, r, names) for r in live[offset:offset + limit]]
        return page, len(live)

    def get_record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        kind = self._type(obj)
        record = self.store.get(kind.name, int(record_id)) if record_id.isdigit() else None
        if record is None:
            return None
        return ep.render(self.store, kind, record, [p.name for p in kind.properties])

    def edit_record(self, obj: str, record_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Edit a record as a user in HubSpot would: moves its modified dates."""
        kind = self._type(obj)
        try:
            self.store.update(kind.name, int(record_id), changes)
        except (PropertyError, UniqueConflictError) as exc:
            raise ValueError(str(exc)) from None
        record = self.get_record(kind.name, record_id)
        assert record is not None
        return record

    def create_record(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        kind = self._type(obj)
        try:
            record = self.store.create(kind.name, values)
        except (PropertyError, UniqueConflictError) as exc:
            raise ValueError(str(exc)) from None
        return ep.render(self.store, kind, record, [p.name for p in kind.properties])

    def touch(self, obj: str, ids: list[int], at_ms: int) -> int:
        """Give many records one modified time at once (tests of search windowing)."""
        return self.store.touch(self._type(obj).name, ids, at_ms)

    def reset(self) -> None:
        super().reset()
        self.gate.reset()
        self.store = self._seeded()


def _params(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


async def _json_body(request: Request) -> Any:
    if request.method not in ("POST", "PATCH", "PUT"):
        return None
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", "Invalid input JSON on line 1: the body is "
                       "not valid JSON") from None
