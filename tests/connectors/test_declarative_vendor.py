"""The fake REST vendor of test_declarative.py (no tests here; named to sit with them).

Items ``1..23`` with ``updated`` times; every paging style, every auth style, OAuth tokens
that can be expired, error endpoints answering whatever a test sets, and a batch write
endpoint answering one result per item.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "fake-api-key-8b1f"
TOKEN = "fake-static-token-77aa"
USER, PASSWORD = "renkei", "fake-basic-password-3c"
CLIENT_ID, CLIENT_SECRET = "fake-client", "fake-client-secret-9e"


@dataclass
class FakeVendor:
    """State a test can inspect and change."""

    items: list[dict[str, Any]] = field(default_factory=lambda: [
        {"id": i, "name": f"item {i}", "updated": f"2026-01-01T00:00:{i:02d}Z"}
        for i in range(1, 24)])
    requests: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    error: tuple[int, dict[str, Any], dict[str, str]] | None = None
    batches: list[list[dict[str, Any]]] = field(default_factory=list)

    def log(self, request: Request, body: Any = None) -> None:
        self.requests.append({"path": request.url.path, "params": dict(request.query_params),
                              "headers": dict(request.headers), "body": body})

    def authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return (request.headers.get("x-api-key") == API_KEY
                or request.query_params.get("key") == API_KEY
                or header in (f"Bearer {TOKEN}", basic)
                or (header.startswith("Bearer ") and header[7:] in self.tokens))

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/offset", self.offset), Route("/pages", self.pages),
            Route("/cursor", self.cursor), Route("/hcursor", self.cursor),
            Route("/linked", self.linked), Route("/since", self.since),
            Route("/error", self.fail), Route("/batch", self.batch, methods=["POST"]),
        ])

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        self.token_requests += 1
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse({"error": "invalid_client"}, 401)
        token = secrets.token_hex(8)
        self.tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 3600})

    def _guard(self, request: Request) -> Response | None:
        self.log(request)
        if not self.authorized(request):
            return JSONResponse({"error": {"code": "AUTH"}}, 401)
        return None

    async def offset(self, request: Request) -> Response:
        refused = self._guard(request)
        if refused:
            return refused
        start, size = int(request.query_params["offset"]), int(request.query_params["limit"])
        return JSONResponse({"data": self.items[start:start + size], "total": len(self.items)})

    async def pages(self, request: Request) -> Response:
        refused = self._guard(request)
        if refused:
            return refused
        page, size = int(request.query_params["page"]), int(request.query_params["size"])
        return JSONResponse({"data": self.items[(page - 1) * size:page * size]})

    async def cursor(self, request: Request) -> Response:
        refused = self._guard(request)
        if refused:
            return refused
        start = int(request.query_params.get("after", "0"))
        chunk = self.items[start:start + 5]
        more = start + 5 < len(self.items)
        nxt = str(start + 5) if more else None
        if request.url.path == "/hcursor":
            return JSONResponse({"data": chunk}, headers={"X-Next": nxt} if nxt else {})
        return JSONResponse({"data": chunk, "next": nxt})

    async def linked(self, request: Request) -> Response:
        refused = self._guard(request)
        if refused:
            return refused
        start = int(request.query_params.get("from", "0"))
        headers = {}
        if start + 5 < len(self.items):
            headers["Link"] = f'</linked?from={start + 5}&per_page=5>; rel="next", ' \
                              '</linked?from=0>; rel="first"'
        return JSONResponse(self.items[start:start + 5], headers=headers)

    async def since(self, request: Request) -> Response:
        refused = self._guard(request)
        if refused:
            return refused
        # The since value arrives in JST as "2026/01/01 09:00:05"; items are in UTC.
        from datetime import datetime, timedelta, timezone
        since = datetime.strptime(request.query_params["since"], "%Y/%m/%d %H:%M:%S").replace(
            tzinfo=timezone(timedelta(hours=9)))
        found = [i for i in self.items if datetime.fromisoformat(i["updated"]) >= since]
        found.sort(key=lambda i: (i["updated"], i["id"]))
        return JSONResponse({"data": found})

    async def fail(self, request: Request) -> Response:
        self.log(request)
        assert self.error is not None
        status, body, headers = self.error
        return JSONResponse(body, status, headers=headers)

    async def batch(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.log(request, body)
        self.batches.append(body["rows"])
        results = []
        for row in body["rows"]:
            if "@" not in str(row.get("email", "@")):
                results.append({"status": "error", "error": {"code": "E_EMAIL",
                                                             "message": "bad email"}})
            elif row.get("email") == "dup@example.com":
                results.append({"status": "error", "error": {"code": "E_DUP",
                                                             "message": "duplicate"}})
            else:
                results.append({"status": "ok", "id": f"n{len(results)}",
                                "created": row.get("id") is None})
        if request.query_params.get("short") == "1":
            results = results[:-1]
        return JSONResponse({"results": results})
