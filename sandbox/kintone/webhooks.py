"""Webhooks: kintone POSTs a JSON notification per record added, updated or deleted.

Shapes [S: kintone help 040602 "Content of Webhook Notifications"]::

    {"id": "<uuid>", "type": "ADD_RECORD" | "UPDATE_RECORD", "app": {"id": "1", "name": ...},
     "record": {<Get Record format>}, "recordTitle": "...", "url": "https://…/k/1/show#record=2"}
    {"id": "<uuid>", "type": "DELETE_RECORD", "app": {...}, "recordId": "2",
     "deletedBy": {"code", "name"}, "deletedAt": "2017-07-03T09:38:00Z"}

Bulk calls send one notification per record [S]. kintone signs nothing: no signature header is
documented and none is sent here, so a receiver must rely on a secret URL (or Basic auth in
the URL) [S; U for "no signature at all"]. Notifications go out from a background thread after
the API call has answered; a failed delivery is logged and not retried [U].

Register URLs through the sandbox API: ``POST /_sandbox/webhooks`` with ``{"app": 1,
"url": "http://…"}``; ``GET /_sandbox/webhooks`` lists them and the deliveries.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections import deque
from typing import Any

import httpx

from sandbox.kintone.records import Event
from sandbox.kintone.schema import APPS, USERS
from sandbox.kintone.store import render_record

__all__ = ["WebhookDispatcher", "notification"]

_TITLE = {1: "会社名", 2: "件名", 3: "商談名", 4: "件名"}


def notification(event: Event, domain_url: str) -> dict[str, Any]:
    """The JSON kintone sends for one committed change."""
    app = APPS[event.app_id]
    body: dict[str, Any] = {"id": str(uuid.uuid4()), "type": event.type,
                            "app": {"id": str(app.id), "name": app.name}}
    if event.type == "DELETE_RECORD":
        body.update(recordId=str(event.record.id),
                    deletedBy={"code": event.user, "name": USERS.get(event.user, event.user)},
                    deletedAt=event.at)
        return body
    title = event.record.values.get(_TITLE.get(app.id, ""), "") or ""
    body.update(record=render_record(app, event.record), recordTitle=str(title),
                url=f"{domain_url.rstrip('/')}/k/{app.id}/show#record={event.record.id}")
    return body


class WebhookDispatcher:
    """Registered webhook URLs per app and a thread that delivers notifications.

    Args:
        domain_url: The kintone domain URL put in ``url`` of notifications.
        timeout_s: Per-delivery HTTP timeout.
    """

    def __init__(self, domain_url: str, timeout_s: float = 5.0) -> None:
        self.domain_url = domain_url
        self.timeout_s = timeout_s
        self._urls: dict[int, list[str]] = {}
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._log: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def register(self, app_id: int, url: str) -> None:
        """Send this app's notifications to ``url`` too."""
        with self._lock:
            urls = self._urls.setdefault(app_id, [])
            if url not in urls:
                urls.append(url)

    def clear(self) -> None:
        """Forget every URL and the delivery log."""
        with self._lock:
            self._urls.clear()
            self._log.clear()

    def describe(self) -> dict[str, Any]:
        """Registered URLs and recent deliveries."""
        with self._lock:
            return {"webhooks": {str(a): list(u) for a, u in self._urls.items()},
                    "deliveries": list(self._log), "pending": self._pending}

    def publish(self, events: list[Event]) -> None:
        """Queue one notification per event for every URL of its app (never blocks)."""
        with self._lock:
            jobs = [(url, event) for event in events for url in self._urls.get(event.app_id, [])]
            if not jobs:
                return
            self._pending += len(jobs)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kintone-webhooks",
                                                daemon=True)
                self._thread.start()
        for url, event in jobs:
            self._queue.put((url, notification(event, self.domain_url)))

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Block until every queued notification was attempted; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s, trust_env=False) as client:
            while (job := self._queue.get()) is not None:
                url, body = job
                entry: dict[str, Any] = {"url": url, "type": body["type"], "app": body["app"]["id"],
                                         "notification_id": body["id"]}
                try:
                    response = client.post(url, json=body)
                    entry["status"] = response.status_code
                except httpx.HTTPError as exc:
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                with self._idle:
                    self._log.append(entry)
                    self._pending -= 1
                    self._idle.notify_all()

    def stop(self) -> None:
        """Stop the delivery thread (pending notifications are still attempted first)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)
