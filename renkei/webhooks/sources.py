"""How each vendor proves a webhook request is its own, and how its events are split.

Facts (see ../shared/api/REFERENCE.md):

* Zoom signs ``v0:{x-zm-request-timestamp}:{raw body}`` with HMAC-SHA256 under the app's
  secret token, hex, sent as ``x-zm-signature: v0=<hex>``; timestamps older than five
  minutes are to be refused; the ``endpoint.url_validation`` event must be answered with
  ``{"plainToken", "encryptedToken": hex HMAC-SHA256(secret, plainToken)}``.
* HubSpot v3 signs ``method + uri + body + timestamp`` (timestamp in ms, header
  ``X-HubSpot-Request-Timestamp``), base64, in ``X-HubSpot-Signature-v3``; 300 s window. The
  body is an array of events, each with an ``eventId``.
* kintone and Brightcove sign nothing: the endpoint is protected by a secret token in its
  URL path (``/webhooks/kintone/<token>``), compared in constant time. Replays are caught
  by the event id (kintone sends a UUID ``id``; a Brightcove body is hashed).
* ``hmac`` is renkei's own scheme for in-house systems: ``X-Renkei-Timestamp`` (unix s) and
  ``X-Renkei-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>``.

Every comparison is :func:`hmac.compare_digest`. Reasons for a refusal never contain the
body (it carries personal data) or the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from connectors.sdk.secrets import Secret

JSONValue = Any


class WebhookConfigError(Exception):
    """A webhook source is configured wrongly (unknown kind, missing secret)."""


@dataclass(frozen=True)
class IncomingRequest:
    """What a verifier sees of a request.

    Attributes:
        method: HTTP method.
        url: The URL the vendor called (scheme, host, path and query), as the vendor saw it.
        headers: Header names in lower case.
        body: The raw body.
        path_token: The token segment after ``/webhooks/{source}/``, if any.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    path_token: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused, with the HTTP status to answer."""

    status: int
    reason: str


@dataclass(frozen=True)
class Event:
    """One event of an accepted request."""

    event_id: str
    event_type: str | None
    body: str


@dataclass
class Accepted:
    """An authentic request: its events, or a reply the vendor expects instead."""

    signature: str | None
    events: list[Event] = field(default_factory=list)
    reply: dict[str, Any] | None = None


class WebhookSource(ABC):
    """One configured sender of webhooks.

    Args:
        name: The source name in the URL (``/webhooks/{name}``).
        secret: The shared secret or URL token.
        tolerance_s: How old a signed timestamp may be (and how far in the future).
    """

    kind: ClassVar[str]

    def __init__(self, name: str, secret: Secret, *, tolerance_s: float = 300.0):
        self.name = name
        self._secret = secret
        self.tolerance_s = tolerance_s

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def check(self, req: IncomingRequest, now: float) -> Accepted | Refusal:
        """Verify ``req`` and split it into events."""
        refusal = self.verify(req, now)
        if refusal is not None:
            return refusal
        try:
            payload = json.loads(req.body)
        except (ValueError, UnicodeDecodeError):
            return Refusal(400, "body is not valid JSON")
        return self.accept(req, payload)

    @abstractmethod
    def verify(self, req: IncomingRequest, now: float) -> Refusal | None:
        """None when the request is authentic and fresh."""

    def accept(self, req: IncomingRequest, payload: JSONValue) -> Accepted | Refusal:
        if not isinstance(payload, dict):
            return Refusal(400, "body must be a JSON object")
        event_id = payload.get("id") or payload.get("eventId")
        kind = payload.get("type") or payload.get("event")
        return Accepted(self.signature(req), [Event(
            str(event_id) if event_id else _digest(req.body),
            str(kind) if kind else None, req.body.decode())])

    def signature(self, req: IncomingRequest) -> str | None:
        return None

    def _hmac(self, message: bytes) -> bytes:
        return hmac.new(self._secret.get().encode(), message, hashlib.sha256).digest()

    def _fresh(self, stamp: str | None, now: float, *, millis: bool = False) -> Refusal | None:
        if not stamp:
            return Refusal(401, "timestamp header missing")
        try:
            ts = float(stamp) / (1000.0 if millis else 1.0)
        except ValueError:
            return Refusal(401, "timestamp header is not a number")
        if abs(now - ts) > self.tolerance_s:
            return Refusal(401, f"timestamp is {now - ts:+.0f} s from now, outside "
                                f"±{self.tolerance_s:.0f} s")
        return None


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class ZoomSource(WebhookSource):
    kind = "zoom"

    def verify(self, req: IncomingRequest, now: float) -> Refusal | None:
        stale = self._fresh(req.headers.get("x-zm-request-timestamp"), now)
        if stale:
            return stale
        given = req.headers.get("x-zm-signature", "")
        ts = req.headers["x-zm-request-timestamp"]
        expected = "v0=" + self._hmac(b"v0:" + ts.encode() + b":" + req.body).hex()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return Refusal(401, "x-zm-signature does not match")
        return None

    def signature(self, req: IncomingRequest) -> str | None:
        return req.headers.get("x-zm-signature")

    def accept(self, req: IncomingRequest, payload: JSONValue) -> Accepted | Refusal:
        if isinstance(payload, dict) and payload.get("event") == "endpoint.url_validation":
            plain = (payload.get("payload") or {}).get("plainToken")
            if not isinstance(plain, str) or not plain:
                return Refusal(400, "url_validation without payload.plainToken")
            return Accepted(self.signature(req), reply={
                "plainToken": plain, "encryptedToken": self._hmac(plain.encode()).hex()})
        return super().accept(req, payload)


class HubSpotSource(WebhookSource):
    kind = "hubspot_v3"

    def verify(self, req: IncomingRequest, now: float) -> Refusal | None:
        ts = req.headers.get("x-hubspot-request-timestamp")
        stale = self._fresh(ts, now, millis=True)
        if stale:
            return stale
        message = req.method.encode() + req.url.encode() + req.body + str(ts).encode()
        expected = base64.b64encode(self._hmac(message))
        given = req.headers.get("x-hubspot-signature-v3", "").encode()
        if not hmac.compare_digest(given, expected):
            return Refusal(401, "X-HubSpot-Signature-v3 does not match")
        return None

    def signature(self, req: IncomingRequest) -> str | None:
        return req.headers.get("x-hubspot-signature-v3")

    def accept(self, req: IncomingRequest, payload: JSONValue) -> Accepted | Refusal:
        if not isinstance(payload, list) or not all(isinstance(e, dict) for e in payload):
            return Refusal(400, "body must be a JSON array of events")
        events = [Event(str(e.get("eventId") or _digest(json.dumps(e, sort_keys=True).encode())),
                        str(e.get("subscriptionType") or "") or None,
                        json.dumps(e, ensure_ascii=False)) for e in payload]
        return Accepted(self.signature(req), events)


class TokenSource(WebhookSource):
    """For vendors that sign nothing: the secret is the last segment of the URL path."""

    kind = "token"

    def verify(self, req: IncomingRequest, now: float) -> Refusal | None:
        given = (req.path_token or "").encode()
        if not hmac.compare_digest(given, self._secret.get().encode()):
            return Refusal(401, "URL token does not match")
        return None


class HmacSource(WebhookSource):
    kind = "hmac"

    def verify(self, req: IncomingRequest, now: float) -> Refusal | None:
        ts = req.headers.get("x-renkei-timestamp")
        stale = self._fresh(ts, now)
        if stale:
            return stale
        expected = "sha256=" + self._hmac(str(ts).encode() + b"." + req.body).hex()
        given = req.headers.get("x-renkei-signature", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return Refusal(401, "X-Renkei-Signature does not match")
        return None

    def signature(self, req: IncomingRequest) -> str | None:
        return req.headers.get("x-renkei-signature")


KINDS: dict[str, type[WebhookSource]] = {
    cls.kind: cls for cls in (ZoomSource, HubSpotSource, TokenSource, HmacSource)}
"""Verifier kinds by the name used in ``renkei.yaml`` (``verify: zoom``)."""


def make_source(name: str, settings: Mapping[str, Any]) -> WebhookSource:
    """Build a source from its ``webhooks.<name>`` settings (``verify``, ``secret``).

    Raises:
        WebhookConfigError: unknown ``verify`` kind or no secret.
    """
    kind = str(settings.get("verify", ""))
    if kind not in KINDS:
        raise WebhookConfigError(f"webhooks.{name}.verify: {kind!r} is not one of "
                                 f"{', '.join(sorted(KINDS))}")
    secret = settings.get("secret")
    if isinstance(secret, Secret):
        value = secret
    elif isinstance(secret, str) and secret:
        value = Secret(secret)
    else:
        raise WebhookConfigError(f"webhooks.{name}.secret: required (use ${{ENV_VAR}} or "
                                 "${file:...}, never the value itself)")
    tolerance = float(settings.get("tolerance_s", 300))
    return KINDS[kind](name, value, tolerance_s=tolerance)


__all__ = ["KINDS", "Accepted", "Event", "HmacSource", "HubSpotSource", "IncomingRequest",
           "Refusal", "TokenSource", "WebhookConfigError", "WebhookSource", "ZoomSource",
           "make_source"]
