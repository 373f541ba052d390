"""The base of every vendor emulator: call log, fault injection, inspection API.

A vendor emulator subclasses :class:`EmulatorApp`, returns its real URL paths from
:meth:`EmulatorApp.routes` and renders vendor-specific errors in
:meth:`EmulatorApp.render_fault`. :meth:`EmulatorApp.asgi` wraps those routes with
:class:`~sandbox.core.middleware.SandboxMiddleware` (logging and faults) and adds the
``/_sandbox`` inspection API.

Example:
    >>> from starlette.responses import JSONResponse
    >>> from starlette.routing import Route
    >>> class Echo(EmulatorApp):
    ...     name = "echo"
    ...     def routes(self):
    ...         return [Route("/ping", lambda request: JSONResponse({"ok": True}))]
    >>> app = Echo().asgi()
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from sandbox.core.calls import CallLog
from sandbox.core.faults import FaultConfigError, FaultPlan, FaultRule
from sandbox.core.middleware import SandboxMiddleware

__all__ = ["SANDBOX_PREFIX", "EmulatorApp", "json_response"]

SANDBOX_PREFIX = "/_sandbox"


def json_response(
    data: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response that keeps Japanese text readable and tolerates dates (``str()``)."""
    body = json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":"))
    return Response(
        body.encode("utf-8"), status_code=status, headers=headers, media_type="application/json"
    )


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


class EmulatorApp:
    """Base class of a vendor emulator.

    Attributes:
        name: Short vendor name, e.g. ``"marketo"``; used in logs and by the launcher.
        calls: Every vendor API call received (the ``/_sandbox`` ones excluded).
        faults: The fault rules applied before each vendor API call.
    """

    name: str = "emulator"

    def __init__(self) -> None:
        self.calls = CallLog()
        self.faults = FaultPlan()
        self._asgi: ASGIApp | None = None

    # -- to implement in the vendor emulator -------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """The vendor's real URL paths. Sync endpoints run in Starlette's threadpool."""
        raise NotImplementedError

    def render_fault(self, rule: FaultRule, request: Request) -> Response | None:
        """Render ``rate_limit``, ``quota``, ``concurrency``, ``server_error`` or
        ``token_expired`` the way the vendor does.

        Return ``None`` for the generic rendering: 429 with ``Retry-After`` for the limit
        kinds, 503 for ``server_error``, 401 for ``token_expired`` (``rule.status`` wins).
        """
        return None

    def vendor_code(self, response_body: bytes, status: int) -> str | None:
        """Extract the vendor's error code from a response, for the call log.

        ``response_body`` holds at most the first 1 MiB of the body.
        """
        return None

    def credentials(self) -> dict[str, str]:
        """What a client needs to authenticate (client id/secret, user, ...), for ``describe()``."""
        return {}

    def exception_handlers(self) -> dict[Any, Callable[..., Any]]:
        """Starlette exception handlers, e.g. to answer unknown paths the vendor's way."""
        return {}

    def list_records(
        self, obj: str, *, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of stored records of object type ``obj`` and the total count.

        Raises:
            KeyError: ``obj`` is not an object type of this vendor.
        """
        raise NotImplementedError

    def get_record(self, obj: str, record_id: str) -> dict[str, Any] | None:
        """One stored record, or ``None`` if there is none with that id."""
        raise NotImplementedError

    def edit_record(self, obj: str, record_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Edit a record as a user would in the vendor's UI (modified time, history, ...).

        Raises:
            KeyError: No such object type or record.
            ValueError: The changes are invalid for the vendor.
        """
        raise NotImplementedError

    def create_record(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        """Create a record as a user would in the vendor's UI; return it with its id."""
        raise NotImplementedError

    def reset(self) -> None:
        """Back to the seeded state. Subclasses call ``super().reset()`` to clear calls and faults."""
        self.calls.clear()
        self.faults.clear()

    # -- provided -----------------------------------------------------------------------------

    def asgi(self) -> ASGIApp:
        """The ASGI application: vendor routes and ``/_sandbox``, behind the sandbox middleware."""
        if self._asgi is None:
            inner = Starlette(
                routes=[Mount(SANDBOX_PREFIX, routes=self._sandbox_routes()), *self.routes()],
                exception_handlers=self.exception_handlers(),
            )
            self._asgi = SandboxMiddleware(inner, self)
        return self._asgi

    def _sandbox_routes(self) -> list[BaseRoute]:
        return [
            Route("/calls", self._get_calls, methods=["GET"]),
            Route("/calls", self._delete_calls, methods=["DELETE"]),
            Route("/faults", self._get_faults, methods=["GET"]),
            Route("/faults", self._post_faults, methods=["POST"]),
            Route("/faults", self._delete_faults, methods=["DELETE"]),
            Route("/reset", self._post_reset, methods=["POST"]),
            Route("/credentials", self._get_credentials, methods=["GET"]),
            Route("/records/{obj}", self._get_records, methods=["GET"]),
            Route("/records/{obj}", self._post_record, methods=["POST"]),
            Route("/records/{obj}/{record_id}", self._get_record, methods=["GET"]),
            Route("/records/{obj}/{record_id}", self._patch_record, methods=["PATCH"]),
        ]

    # Inspection endpoints are sync so Starlette runs them in its threadpool: a vendor store
    # may take a lock or scan a million records.

    def _get_calls(self, request: Request) -> Response:
        try:
            since = int(request.query_params.get("since", "0"))
        except ValueError:
            return _error(400, "'since' must be an integer")
        prefix = request.query_params.get("path_prefix") or None
        calls = self.calls.list(since=since, path_prefix=prefix)
        return json_response({"calls": [c.to_dict() for c in calls], "count": len(calls)})

    def _delete_calls(self, request: Request) -> Response:
        self.calls.clear()
        return json_response({"cleared": True})

    def _get_faults(self, request: Request) -> Response:
        return json_response({"rules": [r.to_dict() for r in self.faults.rules()]})

    async def _post_faults(self, request: Request) -> Response:
        try:
            data = await request.json()
        except ValueError:
            return _error(400, 'body must be JSON: one fault rule or {"rules": [...]}')
        items = data["rules"] if isinstance(data, dict) and "rules" in data else [data]
        if not isinstance(items, list):
            return _error(400, "'rules' must be a list")
        try:
            plan = FaultPlan.from_config(items)
        except FaultConfigError as exc:
            return _error(400, str(exc))
        for rule in plan.rules():
            self.faults.add(rule)
        return json_response({"rules": [r.to_dict() for r in self.faults.rules()]}, 201)

    def _delete_faults(self, request: Request) -> Response:
        self.faults.clear()
        return json_response({"cleared": True})

    def _post_reset(self, request: Request) -> Response:
        self.reset()
        return json_response({"reset": True})

    def _get_credentials(self, request: Request) -> Response:
        return json_response(self.credentials())

    def _get_records(self, request: Request) -> Response:
        try:
            offset = int(request.query_params.get("offset", "0"))
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return _error(400, "'offset' and 'limit' must be integers")
        if offset < 0 or limit < 0:
            return _error(400, "'offset' and 'limit' must be >= 0")
        obj = request.path_params["obj"]
        return self._guard(lambda: self._records_page(obj, offset, limit))

    def _records_page(self, obj: str, offset: int, limit: int) -> Response:
        records, total = self.list_records(obj, offset=offset, limit=limit)
        return json_response({"records": records, "total": total})

    def _get_record(self, request: Request) -> Response:
        obj, record_id = request.path_params["obj"], request.path_params["record_id"]

        def get() -> Response:
            record = self.get_record(obj, record_id)
            if record is None:
                return _error(404, f"no {obj} record with id {record_id!r}")
            return json_response(record)

        return self._guard(get)

    async def _patch_record(self, request: Request) -> Response:
        obj, record_id = request.path_params["obj"], request.path_params["record_id"]
        changes = await self._body_object(request)
        if isinstance(changes, Response):
            return changes
        return await run_in_threadpool(
            self._guard, lambda: json_response(self.edit_record(obj, record_id, changes))
        )

    async def _post_record(self, request: Request) -> Response:
        obj = request.path_params["obj"]
        values = await self._body_object(request)
        if isinstance(values, Response):
            return values
        return await run_in_threadpool(
            self._guard, lambda: json_response(self.create_record(obj, values), 201)
        )

    @staticmethod
    async def _body_object(request: Request) -> dict[str, Any] | Response:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            return _error(400, "body must be a JSON object")
        if not isinstance(data, dict):
            return _error(400, "body must be a JSON object")
        return data

    @staticmethod
    def _guard(action: Callable[[], Response]) -> Response:
        try:
            return action()
        except KeyError as exc:
            return _error(404, f"not found: {exc.args[0] if exc.args else exc}")
        except ValueError as exc:
            return _error(400, str(exc))
        except NotImplementedError:
            return _error(501, "this emulator does not support that inspection call")
