"""The Identity service: client-credentials tokens and their validation.

Facts relied on (``authentication.md``, ``error-codes.md``) [C]: ``GET`` (or ``POST``)
``/identity/oauth/token?grant_type=client_credentials&client_id=..&client_secret=..`` answers
``{"access_token", "token_type": "bearer", "expires_in", "scope"}``; a token lives 3600 s;
asking again before expiry returns the same token with its remaining lifespan; a bad client
id or secret gets HTTP 401 from Identity; an expired token gets 602, an unknown one 601.
The 401 body ``{"error": "invalid_client", "error_description": "Bad client credentials"}``
is [S] (a third-party client's tests; marketorestpython checks the same ``error`` values).
Tokens look like ``cdf01657-110d-4155-99a7-f986b2ff13a0:int`` (the doc's example) [C].
"""

from __future__ import annotations

import hmac
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["IssuedToken", "TokenIssuer"]


@dataclass(frozen=True)
class IssuedToken:
    """A token and when it dies (epoch seconds)."""

    value: str
    expires_at: float


class TokenIssuer:
    """Issues and checks access tokens of one custom service.

    Args:
        client_id: The custom service's client id.
        client_secret: Its secret.
        lifetime_s: Lifespan of a new token (3600 at the vendor; small in tests).
        scope: The owning API user, echoed as ``scope``.
        clock: Wall clock in epoch seconds.
    """

    def __init__(self, client_id: str, client_secret: str, *, lifetime_s: float,
                 scope: str, clock: Callable[[], float]):
        self._client_id = client_id
        self._client_secret = client_secret
        self.lifetime_s = lifetime_s
        self.scope = scope
        self._clock = clock
        self._lock = threading.Lock()
        self._current: IssuedToken | None = None
        self._expired: set[str] = set()
        self.issued = 0

    def __repr__(self) -> str:
        return f"TokenIssuer(client_id={self._client_id!r}, lifetime_s={self.lifetime_s})"

    def credentials_ok(self, client_id: str | None, client_secret: str | None) -> bool:
        """Constant-time check of a client id and secret."""
        return (hmac.compare_digest((client_id or "").encode(), self._client_id.encode())
                and hmac.compare_digest((client_secret or "").encode(),
                                        self._client_secret.encode()))

    def issue(self) -> tuple[str, int]:
        """The current token and its remaining seconds, minting a new one if it expired."""
        with self._lock:
            now = self._clock()
            if self._current is None or self._current.expires_at <= now:
                if self._current is not None:
                    self._expired.add(self._current.value)
                self._current = IssuedToken(f"{uuid.uuid4()}:int", now + self.lifetime_s)
                self.issued += 1
            remaining = self._current.expires_at - now
            # The vendor reports whole seconds; round down but never report a live token as 0.
            return self._current.value, max(1, int(remaining))

    def check(self, token: str | None) -> str | None:
        """``None`` when the token is valid, else the error code (601 invalid, 602 expired)."""
        if not token:
            return "601"
        with self._lock:
            current = self._current
            if current is not None and hmac.compare_digest(token.encode(), current.value.encode()):
                if current.expires_at <= self._clock():
                    return "602"
                return None
            return "602" if token in self._expired else "601"

    def expire_now(self) -> None:
        """Expire the current token at once (tests: "the token expired mid-run")."""
        with self._lock:
            if self._current is not None:
                self._current = IssuedToken(self._current.value, self._clock())

    def reset(self) -> None:
        """Forget every token."""
        with self._lock:
            self._current = None
            self._expired.clear()
