"""Wire details shared by every endpoint: the response envelope and request parameters.

Facts relied on (``error-codes.md``, ``lead-database.md``, ``leads.md``) [C]: response-level
errors come back with HTTP 200, ``success: false`` and ``errors: [{"code": "601", ...}]``
(codes are quoted strings); ``requestId`` looks like ``e42b#14272d07d78``; a GET whose URI
would pass 8 KB may be sent as ``POST`` with ``_method=GET`` and the query in a form body;
HTTP 413 above 1 MB of payload and 414 above 8 KB of URI. marketorestpython puts ``_method``
in the form body and its Get Opportunities puts it in the query string; form lists arrive as
repeated keys (REFERENCE.md, marketorestpython ``client.py``) [C].
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from sandbox.core import json_response

__all__ = ["ApiError", "ApiRequest", "HttpError", "fail", "ok", "read_request"]

_request_ids = itertools.count(0x1000)


class ApiError(Exception):
    """A response-level error: HTTP 200, ``success: false``, one error.

    Args:
        code: The vendor code (``"606"``, ``"1003"``...).
        message: Its message.
    """

    def __init__(self, code: str, message: str):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class HttpError(Exception):
    """An HTTP-level error (413, 414): the body is the status line, as a web server sends it."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> Response:
        return Response(f"{self.status} {self.reason}", status_code=self.status,
                        media_type="text/plain")


def request_id() -> str:
    """A request id in the vendor's ``hex#hex`` shape."""
    return f"{next(_request_ids):x}#{int(time.time() * 1000):x}"


def ok(result: Any = None, **extra: Any) -> Response:
    """A successful envelope; ``result`` is left out when ``None``."""
    body: dict[str, Any] = {"requestId": request_id()}
    if result is not None:
        body["result"] = result
    body["success"] = True
    body.update(extra)
    return json_response(body)


def fail(code: str, message: str) -> Response:
    """A response-level error envelope (HTTP 200)."""
    return json_response({"requestId": request_id(), "success": False,
                          "errors": [{"code": code, "message": message}]})


@dataclass
class ApiRequest:
    """One REST call after method override and body parsing.

    Attributes:
        method: The effective method (``GET`` for a ``POST`` with ``_method=GET``).
        params: Query (and, for an overridden GET, form or JSON body) parameters; every
            value is a list, because a parameter may repeat.
        body: The parsed JSON body of a real POST, if any.
        token: The access token (``Authorization: Bearer`` or the legacy ``access_token``).
    """

    method: str
    params: dict[str, list[str]] = field(default_factory=dict)
    body: Any = None
    token: str | None = None

    def first(self, name: str) -> str | None:
        """The first value of a parameter, or ``None``."""
        values = self.params.get(name)
        return values[0] if values else None

    def csv(self, name: str) -> list[str]:
        """A list parameter given comma-separated, repeated, or both."""
        out: list[str] = []
        for value in self.params.get(name, []):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out


def _add(params: dict[str, list[str]], pairs: Mapping[str, Any] | list[tuple[str, str]]) -> None:
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    for key, value in items:
        if isinstance(value, list):
            params.setdefault(key, []).append(",".join(str(v) for v in value))
        elif value is not None:
            params.setdefault(key, []).append(str(value))


async def read_request(request: Request, *, payload_limit: int, uri_limit: int) -> ApiRequest:
    """Parse a REST call the way the vendor does.

    Raises:
        HttpError: 414 for a long URI, 413 for a large payload.
        ApiError: 609 invalid JSON, 612 unsupported content type.
    """
    raw_query = request.scope.get("query_string", b"")
    if len(request.url.path) + len(raw_query) + 1 > uri_limit:
        raise HttpError(414, "Request-URI Too Long")
    query = parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True)
    params: dict[str, list[str]] = {}
    _add(params, query)
    body_bytes = await request.body()
    if len(body_bytes) > payload_limit:
        raise HttpError(413, "Request Entity Too Large")
    token = None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    method = request.method.upper()
    body: Any = None
    if method == "POST" and body_bytes:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded":
            _add(params, parse_qsl(body_bytes.decode("utf-8", "replace"), keep_blank_values=True))
        elif ctype in ("application/json", "text/json", ""):
            try:
                body = json.loads(body_bytes)
            except ValueError:
                raise ApiError("609", "Invalid JSON") from None
        else:
            raise ApiError("612", "Invalid Content Type")
    override = params.pop("_method", [None])[0]
    if method == "POST" and override and override.upper() == "GET":
        method = "GET"
        if isinstance(body, dict):  # compound-key style: the query sits in a JSON body
            _add(params, body)
            body = None
    legacy = params.pop("access_token", [None])[0]
    return ApiRequest(method=method, params=params, body=body, token=token or legacy)
