"""The pure-ASGI middleware in front of every emulator: call logging and fault injection.

Generic fault kinds are carried out here, where the connection is within reach:

* ``slow``: sleep ``delay_s``, then answer normally.
* ``timeout``: sleep ``delay_s`` (default 60 s) or until the client gives up, then 504.
* ``reset``: abort the TCP connection (RST) before any response byte.
* ``truncate``: run the handler, announce the full ``Content-Length``, send half the
  body, then close the connection.

The vendor kinds (``rate_limit``, ``quota``, ``concurrency``, ``server_error``,
``token_expired``) are rendered by the emulator's ``render_fault`` or, failing that,
generically.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.core.faults import FaultRule

if TYPE_CHECKING:
    from sandbox.core.app import EmulatorApp

__all__ = ["SandboxMiddleware", "generic_fault_response", "retry_after_header"]

logger = logging.getLogger("sandbox")

_CAPTURE_LIMIT = 1 << 20
_GENERIC_STATUS = {"server_error": 503, "token_expired": 401, "timeout": 504}


def retry_after_header(rule: FaultRule) -> dict[str, str]:
    """``{"Retry-After": "N"}`` when the rule sets ``retry_after``, else ``{}``.

    Whole seconds are written as integers (``"2"``); fractions are kept (``"0.2"``) so that
    tests can use sub-second waits.
    """
    if rule.retry_after is None:
        return {}
    return {"Retry-After": f"{rule.retry_after:g}"}


def generic_fault_response(rule: FaultRule) -> Response:
    """The vendor-neutral rendering of a fault: 429 for the limit kinds, 503, 401 or 504."""
    status = rule.status or _GENERIC_STATUS.get(rule.kind, 429)
    body = {"error": rule.kind, "message": f"sandbox fault injected: {rule.kind}"}
    return Response(
        json.dumps(body).encode(),
        status_code=status,
        headers=retry_after_header(rule),
        media_type="application/json",
    )


class _Capture:
    """A ``send`` wrapper that remembers the status and the first MiB of the body, and calls
    ``on_complete`` just before the last body chunk goes out."""

    def __init__(self, send: Send, on_complete: Callable[[], None]) -> None:
        self._send = send
        self._on_complete = on_complete
        self.status = 0
        self.body = bytearray()

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        elif message["type"] == "http.response.body":
            if len(self.body) < _CAPTURE_LIMIT:
                self.body += message.get("body", b"")[: _CAPTURE_LIMIT - len(self.body)]
            if not message.get("more_body", False):
                # Log the call before the client can see the whole response, so a test that
                # reads the call log right after a response always finds the call there.
                self.complete()
        await self._send(message)

    def complete(self) -> None:
        """Log the call now (idempotent); for faults that end the connection instead."""
        self._on_complete()


def _transport(send: Send) -> asyncio.Transport | None:
    # uvicorn's send is a bound method of its request cycle, which holds the transport.
    # EmulatorServer turns off uvicorn's proxy-headers wrapper, so nothing sits between.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    return transport if isinstance(transport, asyncio.BaseTransport) else None  # type: ignore[return-value]


async def _let_connection_lost_run() -> None:
    # transport.abort()/close() schedule connection_lost with call_soon; once it has run,
    # uvicorn sees the cycle as disconnected and does not try to answer 500 for us.
    for _ in range(3):
        await asyncio.sleep(0)


class SandboxMiddleware:
    """Wraps an emulator's Starlette app; logs each vendor call and applies its faults.

    Calls under ``/_sandbox`` pass straight through, unlogged and never faulted.
    """

    def __init__(self, app: ASGIApp, emulator: EmulatorApp) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path == "/_sandbox" or path.startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        at, started = time.time(), time.perf_counter()
        method: str = scope["method"]
        rule = self.emulator.faults.match(method, path)
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            status = capture.status
            if status == 0 and (rule is None or rule.kind != "reset"):
                status = 500  # the handler raised before answering
            self.emulator.calls.record(
                method,
                path,
                dict(
                    parse_qsl(
                        scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
                    )
                ),
                status,
                self._vendor_code(bytes(capture.body), status),
                at=at,
                duration_ms=(time.perf_counter() - started) * 1000.0,
                fault=rule.kind if rule else None,
            )

        capture = _Capture(send, record)
        try:
            await self._dispatch(rule, scope, receive, send, capture)
        finally:
            record()  # responses that never completed: reset, truncate, handler errors

    async def _dispatch(
        self, rule: FaultRule | None, scope: Scope, receive: Receive, send: Send, capture: _Capture
    ) -> None:
        if rule is None:
            await self.app(scope, receive, capture)
        elif rule.kind == "slow":
            await asyncio.sleep(rule.delay_s)
            await self.app(scope, receive, capture)
        elif rule.kind == "timeout":
            await self._timeout(rule, scope, receive, capture)
        elif rule.kind == "reset":
            capture.complete()
            await self._reset(send)
        elif rule.kind == "truncate":
            await self._truncate(scope, receive, send, capture)
        else:
            response = self.emulator.render_fault(rule, Request(scope, receive))
            if response is None:
                response = generic_fault_response(rule)
            await response(scope, receive, capture)

    def _vendor_code(self, body: bytes, status: int) -> str | None:
        try:
            return self.emulator.vendor_code(body, status)
        except Exception:  # a bug in a vendor parser must not hide the call itself
            logger.exception(
                "%s: vendor_code() failed on a status %s response", self.emulator.name, status
            )
            return None

    async def _timeout(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        async def client_gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        sleeper = asyncio.ensure_future(asyncio.sleep(rule.timeout_s))
        watcher = asyncio.ensure_future(client_gone())
        try:
            await asyncio.wait({sleeper, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            watcher.cancel()
        # Answer even if the client left: the call log then shows the 504 it would have got.
        await generic_fault_response(rule)(scope, receive, send)

    async def _reset(self, send: Send) -> None:
        transport = _transport(send)
        if transport is None:
            raise ConnectionResetError(
                "sandbox fault 'reset': not served by EmulatorServer, no transport to abort"
            )
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0 makes close() send RST instead of FIN: a real "connection reset by peer".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        await _let_connection_lost_run()

    async def _truncate(
        self, scope: Scope, receive: Receive, send: Send, capture: _Capture
    ) -> None:
        messages: list[Message] = []

        async def buffer(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, buffer)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if start is None:
            raise RuntimeError("sandbox fault 'truncate': the handler sent no response")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        declared = len(body) if len(body) >= 2 else len(body) + 16
        headers: list[Any] = [
            (k, v)
            for k, v in start.get("headers", [])
            if k.lower() not in (b"content-length", b"transfer-encoding")
        ]
        headers.append((b"content-length", str(declared).encode()))
        await capture(
            {"type": "http.response.start", "status": start["status"], "headers": headers}
        )
        await capture(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        transport = _transport(send)
        if transport is None:
            raise ConnectionResetError(
                "sandbox fault 'truncate': not served by EmulatorServer, cannot cut the body"
            )
        capture.complete()
        transport.close()  # FIN after the half body: the client sees an incomplete message
        await _let_connection_lost_run()
