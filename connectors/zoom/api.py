"""The Zoom calls this connector makes, on top of the SDK's :class:`HttpClient`.

Vendor behaviour relied on (REFERENCE.md §4): Server-to-Server OAuth with
``grant_type=account_credentials&account_id=`` and HTTP Basic client credentials, tokens
living 1 h with no refresh token [C]; a 401 means the token expired or is invalid, whatever
the ``code`` (124 or 201 are both reported) [S]; token paging with ``page_size`` <= 300 and
``next_page_token`` empty when done [C]; 429 with ``X-RateLimit-Type: QPS`` or
``Daily-limit`` (the latter with an ISO-8601 ``Retry-After``) [S]; webinar UUIDs that begin
with ``/`` or hold ``//`` must be double URL-encoded in paths [C: zoomus ``encode_uuid``].
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from connectors.sdk import (
    AccessDeniedError,
    AuthenticationError,
    ConnectorError,
    HttpClient,
    Ledger,
    ProtocolError,
    QuotaExhaustedError,
    RateLimitedError,
    RetryPolicy,
    Secret,
    TokenAuth,
    VendorUnavailableError,
    parse_retry_after,
    reveal,
)
from connectors.sdk.limits import AccountLimiter

__all__ = ["MAX_PAGE_SIZE", "WebinarNotFoundError", "ZoomApi", "classify", "encode_uuid"]

MAX_PAGE_SIZE = 300


class WebinarNotFoundError(ProtocolError):
    """404: the webinar does not exist, or has no report data yet (not ended)."""

    category = "not_found"


def encode_uuid(uuid: str) -> str:
    """A webinar UUID as a path segment: double-encoded when it starts with ``/`` or has ``//``.

    Example:
        >>> encode_uuid("/ab+c=="), encode_uuid("ab+c==")
        ('%252Fab%252Bc%253D%253D', 'ab%2Bc%3D%3D')
    """
    once = quote(uuid, safe="")
    return quote(once, safe="") if uuid.startswith("/") or "//" in uuid else once


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def classify(response: httpx.Response) -> ConnectorError | None:
    """Zoom's answers as SDK errors (messages carry Zoom's code and text, never a token)."""
    status = response.status_code
    if status < 400:
        return None
    body = _body(response)
    code = str(body.get("code", "")) or None
    where = f"Zoom {response.request.method} {response.request.url.path}"
    message = str(body.get("message") or f"HTTP {status}")
    if status == 401:
        # Reached only after TokenAuth fetched a fresh token and was refused again.
        return AuthenticationError(f"{where}: {message}", status=status, vendor_code=code)
    if status == 403:
        return AccessDeniedError(f"{where}: {message}", status=status, vendor_code=code)
    if status == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if response.headers.get("X-RateLimit-Type", "").lower().startswith("daily"):
            return QuotaExhaustedError(f"{where}: the account's daily limit is reached "
                                       f"({response.headers.get('X-RateLimit-Category', '?')})",
                                       status=status, vendor_code=code)
        return RateLimitedError(f"{where}: per-second limit reached", status=status,
                                retry_after=1.0 if wait is None else wait, vendor_code=code)
    if status == 404:
        return WebinarNotFoundError(f"{where}: {message}", status=status, vendor_code=code)
    if status >= 500:
        return VendorUnavailableError(f"{where}: Zoom answered HTTP {status}", status=status,
                                      vendor_code=code)
    return ProtocolError(f"{where}: {message}", status=status, vendor_code=code)


def _parse_token(response: httpx.Response) -> tuple[str, float]:
    if response.status_code in (400, 401, 403):
        reason = str(_body(response).get("reason") or "refused")
        raise AuthenticationError(f"Zoom OAuth refused the account or client credentials: "
                                  f"{reason}", status=response.status_code)
    if response.status_code >= 500:
        raise VendorUnavailableError("Zoom OAuth is unavailable", status=response.status_code)
    data = _body(response)
    try:
        return str(data["access_token"]), max(float(data.get("expires_in", 3600)), 0.0)
    except (KeyError, TypeError, ValueError):
        raise ProtocolError("Zoom OAuth answered without an access token",
                            status=response.status_code) from None


class ZoomApi:
    """Typed, paged calls to one Zoom account.

    Args:
        base_url: ``https://api.zoom.us/v2`` or the sandbox's ``{url}/v2``.
        oauth_url: ``https://zoom.us/oauth/token`` or the sandbox's.
        account_id, client_id, client_secret: The Server-to-Server OAuth app.
        connection: Connection name, for the ledger.
        limiter: The account's shared limiter.
        ledger: Where every call is recorded.
        timeout_s: Per-request timeout.
        retry: Per-request retry policy.
        verify: TLS verification (a CA bundle path to trust in addition).
    """

    def __init__(self, *, base_url: str, oauth_url: str, account_id: str, client_id: str,
                 client_secret: Secret, connection: str, limiter: AccountLimiter | None,
                 ledger: Ledger | None, timeout_s: float, retry: RetryPolicy,
                 verify: bool | str = True):
        def token_request() -> httpx.Request:
            basic = httpx.BasicAuth(client_id, reveal(client_secret))
            request = httpx.Request("POST", oauth_url, params={
                "grant_type": "account_credentials", "account_id": account_id})
            return next(basic.auth_flow(request))

        self.auth = TokenAuth(token_request, _parse_token, lambda r: r.status_code == 401,
                              refresh_margin_s=60.0)
        self.http = HttpClient(base_url=base_url.rstrip("/"), connection=connection,
                               classify=classify, auth=self.auth, limiter=limiter,
                               ledger=ledger, verify=verify, timeout_s=timeout_s, retry=retry)

    def __repr__(self) -> str:
        return f"ZoomApi({self.http!r})"

    def close(self) -> None:
        self.http.close()

    def pages(self, path: str, key: str, *, page_size: int,
              params: dict[str, str] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every page of a token-paged list, as the lists under ``key``.

        Raises:
            ProtocolError: A page without the ``key`` list.
        """
        token = ""
        while True:
            query: dict[str, str | int] = {**(params or {}), "page_size": page_size}
            if token:
                query["next_page_token"] = token
            body = self.http.json("GET", path, kind="read", params=query)
            items = body.get(key) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ProtocolError(f"Zoom GET {path}: the answer has no {key!r} list")
            yield [i for i in items if isinstance(i, dict)]
            token = str(body.get("next_page_token") or "")
            if not token:
                return

    def webinars(self, user_id: str, page_size: int) -> list[dict[str, Any]]:
        """The user's webinars (every page)."""
        return [w for page in self.pages(f"/users/{quote(user_id, safe='@')}/webinars",
                                         "webinars", page_size=page_size) for w in page]

    def registrants(self, webinar_id: str, page_size: int) -> list[dict[str, Any]]:
        """Approved registrants of a webinar (every page)."""
        return [r for page in self.pages(f"/webinars/{quote(webinar_id, safe='')}/registrants",
                                         "registrants", page_size=page_size,
                                         params={"status": "approved"}) for r in page]

    def report_participants(self, uuid: str, page_size: int) -> list[dict[str, Any]] | None:
        """Report rows of one webinar instance; ``None`` when it has no report (yet)."""
        path = f"/report/webinars/{encode_uuid(uuid)}/participants"
        try:
            return [p for page in self.pages(path, "participants", page_size=page_size)
                    for p in page]
        except WebinarNotFoundError:
            return None
