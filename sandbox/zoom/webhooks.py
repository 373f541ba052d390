"""Zoom's webhook delivery: events signed the way Zoom signs them, and URL validation.

Signature: ``x-zm-request-timestamp`` (unix seconds) and ``x-zm-signature:
v0=<hex HMAC-SHA256(secret_token, "v0:{timestamp}:{raw body}")>``; URL validation sends
``endpoint.url_validation`` with a ``plainToken`` and expects ``{"plainToken",
"encryptedToken": hex HMAC-SHA256(secret_token, plainToken)}`` back within 3 s
[C: zoom/webhook-sample index.js; REFERENCE.md §4].

Event bodies follow Zoom's generated event types (``@zoom/rivet``) [S]: a participant's join
carries ``join_time``, its leave ``leave_time`` and ``leave_reason`` but no ``join_time``; a
registration's ``object.id`` is a number and its registrant is the registrant object of
``GET /webinars/{id}/registrants`` without ``create_time`` (the event has none).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.zoom.data import Participant, Registrant, Webinar, fmt

__all__ = ["Delivery", "WebhookSender", "encrypted_token", "event_body", "signature"]


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v0=<hex>`` for a request body sent at ``timestamp``."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encrypted_token(secret: str, plain_token: str) -> str:
    """The ``encryptedToken`` a subscriber must answer to a URL validation."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """What happened to one delivered event."""

    event: str
    status: int
    timestamp: str
    error: str | None = None


def _webinar_object(webinar: Webinar) -> dict[str, Any]:
    return {"uuid": webinar.uuid, "id": str(webinar.id), "host_id": webinar.host_id,
            "topic": webinar.topic, "type": 5, "start_time": fmt(webinar.start_time),
            "timezone": "Asia/Tokyo", "duration": webinar.duration}


def event_body(event: str, account_id: str, webinar: Webinar, *,
               participant: Participant | None = None, registrant: Registrant | None = None,
               now_ms: int | None = None) -> dict[str, Any]:
    """The envelope of a webinar event as Zoom posts it.

    Raises:
        ValueError: A participant event without a participant, or a registration event
            without a registrant, or an event the emulator does not send.
    """
    obj = _webinar_object(webinar)
    if event in ("webinar.participant_joined", "webinar.participant_left"):
        if participant is None:
            raise ValueError(f"{event} needs a participant")
        obj["participant"] = {
            "user_id": participant.user_id, "user_name": participant.name,
            "id": participant.id, "participant_uuid": participant.id,
            "email": participant.email, "registrant_id": participant.registrant_id,
            "participant_user_id": "", "customer_key": "", "phone_number": ""}
        if event.endswith("_left"):
            obj["participant"] |= {"leave_time": fmt(participant.leave_time),
                                   "leave_reason": "left the webinar."}
        else:
            obj["participant"]["join_time"] = fmt(participant.join_time)
    elif event == "webinar.registration_created":
        if registrant is None:
            raise ValueError(f"{event} needs a registrant")
        obj["id"] = webinar.id  # a number in registration events, a string in the others
        obj["registrant"] = {k: v for k, v in registrant.to_api(webinar).items()
                             if k != "create_time"}
    elif event == "webinar.ended":
        obj["end_time"] = fmt(webinar.end_time)
    else:
        raise ValueError(f"the emulator does not send {event!r}")
    return {"event": event, "event_ts": now_ms if now_ms is not None else int(time.time() * 1000),
            "payload": {"account_id": account_id, "object": obj}}


class WebhookSender:
    """Posts signed events to one registered endpoint (synchronously, one at a time).

    Args:
        clock: Epoch seconds, for the timestamp header.
        timeout_s: Zoom waits 3 s for an answer.
    """

    def __init__(self, clock: Callable[[], float] = time.time, timeout_s: float = 3.0) -> None:
        self._clock = clock
        self._timeout_s = timeout_s
        self.url: str | None = None
        self._secret: str | None = None
        self.deliveries: list[Delivery] = []

    def __repr__(self) -> str:
        return f"WebhookSender(url={self.url!r}, secret={'set' if self._secret else 'unset'})"

    def register(self, url: str, secret_token: str) -> None:
        """Send future events to ``url``, signed with ``secret_token``.

        Raises:
            ValueError: The URL is not http(s) or the secret token is empty.
        """
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url must be http(s)://..., got {url!r}")
        if not secret_token:
            raise ValueError("webhook secret_token must not be empty")
        self.url, self._secret = url, secret_token

    def clear(self) -> None:
        """Forget the endpoint and the deliveries."""
        self.url = self._secret = None
        self.deliveries = []

    def _post(self, body: dict[str, Any]) -> tuple[Delivery, httpx.Response | None]:
        if self.url is None or self._secret is None:
            raise ValueError("no webhook endpoint registered (POST /_sandbox/zoom/webhook)")
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        ts = str(int(self._clock()))
        headers = {"content-type": "application/json", "x-zm-request-timestamp": ts,
                   "x-zm-signature": signature(self._secret, ts, raw),
                   "user-agent": "Zoom Marketplace/1.0a"}
        try:
            with httpx.Client(timeout=self._timeout_s) as client:
                response = client.post(self.url, content=raw, headers=headers)
                response.read()
        except httpx.HTTPError as exc:
            delivery = Delivery(str(body["event"]), 0, ts, type(exc).__name__)
            self.deliveries.append(delivery)
            return delivery, None
        delivery = Delivery(str(body["event"]), response.status_code, ts)
        self.deliveries.append(delivery)
        return delivery, response

    def send(self, body: dict[str, Any]) -> Delivery:
        """Post one event envelope; the delivery is also kept in :attr:`deliveries`."""
        return self._post(body)[0]

    def validate(self) -> dict[str, Any]:
        """Send ``endpoint.url_validation`` and check the answer, as Zoom does on setup."""
        assert_secret = self._secret or ""
        plain = secrets.token_urlsafe(16)
        body = {"event": "endpoint.url_validation", "payload": {"plainToken": plain},
                "event_ts": int(self._clock() * 1000)}
        delivery, response = self._post(body)
        expected = encrypted_token(assert_secret, plain)
        answer: Any = None
        if response is not None:
            try:
                answer = response.json()
            except ValueError:
                answer = None
        ok = (delivery.status == 200 and isinstance(answer, dict)
              and answer.get("plainToken") == plain
              and hmac.compare_digest(str(answer.get("encryptedToken", "")), expected))
        return {"valid": ok, "status": delivery.status, "error": delivery.error}
