"""The webhook receiver: verify, store durably, then answer.

``POST /webhooks/{source}`` (or ``/webhooks/{source}/{token}`` for sources that sign
nothing). Each request is checked by its source's verifier (signature and timestamp, or URL
token); an authentic request's events are written to the inbox table and only then does
the receiver answer 200 — so every event a vendor saw accepted is in the inbox, even if the
process dies a moment later. Writes are group-committed: one writer thread takes whatever
requests are waiting and commits them in one transaction, which keeps a burst of thousands
of events per second cheap on SQLite without weakening the promise.

Answers: 200 accepted (or already accepted: a vendor's redelivery is stored once), 200 with
the challenge reply for Zoom's URL validation, 400 malformed body, 401 forged, stale or
replayed (the exact same signed request again), 404 unknown source, 413 body over the limit.
Refusals are logged with the source, the client address and the reason — never the body,
which carries personal data.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from renkei.store import Store
from renkei.store.inbox import InboxEvent
from renkei.webhooks.sources import Accepted, IncomingRequest, Refusal, WebhookSource

log = logging.getLogger("renkei.webhooks")

MAX_BODY = 1024 * 1024
"""Largest body accepted (bytes); vendors send far less (Zoom events are a few KB)."""


@dataclass(frozen=True)
class _Outcome:
    new: bool
    stored_signature: str | None


class InboxWriter:
    """Commits inbox events from many requests in one transaction per group.

    Args:
        store: The state store.
        max_group: Most requests committed together.
    """

    def __init__(self, store: Store, *, max_group: int = 500):
        self.store = store
        self.max_group = max_group
        self._queue: queue.Queue[tuple[list[InboxEvent], Future[list[_Outcome]]] | None] = (
            queue.Queue())
        self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        self._thread.start()

    def submit(self, events: list[InboxEvent]) -> Future[list[_Outcome]]:
        """Queue events; the future resolves once they are committed."""
        fut: Future[list[_Outcome]] = Future()
        self._queue.put((events, fut))
        return fut

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            while len(group) < self.max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                group.append(nxt)
            self._commit(group)

    def _commit(self, group: list[tuple[list[InboxEvent], Future[list[_Outcome]]]]) -> None:
        events = [e for evs, _ in group for e in evs]
        try:
            with self.store.transaction() as tx:
                outcomes = [_Outcome(new, signature) for new, signature
                            in tx.inbox.add_many_with_signatures(events)]
        except Exception as exc:  # noqa: BLE001 — answered 503; the vendor redelivers
            for _, fut in group:
                fut.set_exception(exc)
            return
        i = 0
        for evs, fut in group:
            fut.set_result(outcomes[i:i + len(evs)])
            i += len(evs)


def create_receiver(store: Store, sources: Mapping[str, WebhookSource], *,
                    public_url: str | None = None, max_body: int = MAX_BODY,
                    clock: Callable[[], float] = time.time) -> Starlette:
    """The receiver as an ASGI app; its inbox writer stops when the app shuts down.

    Args:
        store: Where accepted events go.
        sources: Configured sources by name.
        public_url: The base URL vendors call (``https://hooks.example.co.jp``), for
            signatures over the URL (HubSpot) when the receiver sits behind a proxy.
        max_body: Largest accepted body in bytes.
        clock: Current unix time (tests move it).
    """
    writer = InboxWriter(store)

    async def receive(request: Request) -> JSONResponse:
        name = request.path_params["source"]
        client = request.client.host if request.client else "?"
        source = sources.get(name)
        if source is None:
            return _refuse(name, client, Refusal(404, "no such webhook source"))
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            return _refuse(name, client, Refusal(413, f"body of {declared} bytes over "
                                                      f"the {max_body} limit"))
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return _refuse(name, client, Refusal(413, f"body over the {max_body} limit"))
        url = str(request.url)
        if public_url:
            url = public_url.rstrip("/") + request.url.path + (
                f"?{request.url.query}" if request.url.query else "")
        incoming = IncomingRequest(
            method=request.method, url=url, body=body,
            headers={k.lower(): v for k, v in request.headers.items()},
            path_token=request.path_params.get("token"))
        verdict = source.check(incoming, clock())
        if isinstance(verdict, Refusal):
            return _refuse(name, client, verdict)
        return await _store(name, client, verdict)

    async def _store(name: str, client: str, accepted: Accepted) -> JSONResponse:
        if accepted.reply is not None:
            return JSONResponse(accepted.reply)
        events = [InboxEvent(name, e.event_id, e.event_type, accepted.signature, e.body)
                  for e in accepted.events]
        try:
            outcomes = await asyncio.wrap_future(writer.submit(events))
        except Exception as exc:  # noqa: BLE001 — any store failure: 503, vendor retries
            log.error("webhook %s from %s not stored: %s", name, client, type(exc).__name__)
            return JSONResponse({"error": "not stored, retry later"}, status_code=503)
        if accepted.signature and any(
                not o.new and o.stored_signature == accepted.signature for o in outcomes):
            return _refuse(name, client, Refusal(401, "replayed request (signature seen before)"))
        new = sum(o.new for o in outcomes)
        return JSONResponse({"accepted": new, "duplicates": len(outcomes) - new})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            writer.close()

    app = Starlette(routes=[
        Route("/webhooks/{source}", receive, methods=["POST"]),
        Route("/webhooks/{source}/{token}", receive, methods=["POST"]),
    ], lifespan=lifespan)
    app.state.writer = writer
    return app


def _refuse(source: str, client: str, refusal: Refusal) -> JSONResponse:
    log.warning("refused %s webhook from %s: %s (%d)", source, client, refusal.reason,
                refusal.status)
    return JSONResponse({"error": refusal.reason}, status_code=refusal.status)


__all__ = ["MAX_BODY", "InboxWriter", "create_receiver"]
