"""The one HTTP helper every httpx-based connector uses.

It owns: TLS verification (on by default; a sandbox CA is trusted explicitly), timeouts,
the shared per-account limiter, per-request retries of retriable errors only, token refresh
on expiry, and the API-call ledger. Connectors supply one function that turns a response
into an error (``classify``), because every vendor says "slow down" differently.
"""

from __future__ import annotations

import email.utils
import ssl
import time
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.sdk import jsonfast
from connectors.sdk.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConnectorError,
    ProtocolError,
    RateLimitedError,
    TokenExpiredError,
    VendorUnavailableError,
)
from connectors.sdk.ledger import ApiCall, Ledger
from connectors.sdk.limits import AccountLimiter
from connectors.sdk.retry import NotSentError, RetryPolicy, call_with_retries

Classifier = Callable[[httpx.Response], ConnectorError | None]

_JSON = "renkei_json"


def json_body(response: httpx.Response) -> Any:
    """The response's JSON body, decoded once: the auth flow, the vendor's classifier and the
    caller all look at it (a 300-lead Marketo page is ~300 kB, decoded three times before).

    Decoded by :func:`connectors.sdk.jsonfast.loads` (the standard library's results, faster).

    Raises:
        ValueError: the body is not JSON (:class:`json.JSONDecodeError`), each time asked.
    """
    cache = response.extensions
    if _JSON in cache:
        return cache[_JSON]
    body = jsonfast.loads(response.content)
    cache[_JSON] = body
    return body


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds, HTTP date or ISO-8601)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    when: datetime | None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(value)  # 3.11+ reads a trailing Z
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def default_classify(response: httpx.Response) -> ConnectorError | None:
    """Errors that mean the same thing at every vendor, by HTTP status alone."""
    status = response.status_code
    if status < 400:
        return None
    if status == 429:
        return RateLimitedError(
            "rate limited", retry_after=parse_retry_after(response.headers.get("Retry-After")),
            status=status,
        )
    if status == 401:
        return TokenExpiredError("access token rejected", status=status)
    if status == 403:
        return AccessDeniedError("access denied", status=status)
    if status >= 500:
        return VendorUnavailableError("vendor error", status=status)
    return None


def tls_context(verify: bool | str) -> ssl.SSLContext | bool:
    """TLS verification: the system CAs, plus an extra CA file when one is given.

    The extra CA (the sandbox's) is trusted in addition to, never instead of, the system
    store, and verification is never switched off by a path.
    """
    if isinstance(verify, bool):
        return verify
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cafile=verify)
    return ctx


class TokenAuth(httpx.Auth):
    """Bearer-token auth that fetches a token when it has none and refreshes it on expiry.

    Written as an httpx auth generator, so the token request goes through the same client
    (and so into the ledger) as every other call.

    Args:
        token_request: Builds the request that fetches a token.
        parse_token: Reads ``(token, lifetime_s)`` from the token response; raises
            :class:`AuthenticationError` when the vendor refused the credentials.
        is_expired: True when a response says the token expired or is invalid.
        refresh_margin_s: Fetch a new token this long before the old one expires.
    """

    requires_response_body = True

    def __init__(
        self,
        token_request: Callable[[], httpx.Request],
        parse_token: Callable[[httpx.Response], tuple[str, float]],
        is_expired: Callable[[httpx.Response], bool],
        *,
        refresh_margin_s: float = 60.0,
    ):
        self._token_request = token_request
        self._parse_token = parse_token
        self._is_expired = is_expired
        self._margin = refresh_margin_s
        self._margin_now = refresh_margin_s
        self._token: str | None = None
        self._expires_at = 0.0
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token={'set' if self._token else 'unset'})"

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, None]:
        token_request = self._token_request()
        token_request.extensions["renkei_kind"] = "auth"
        response = yield token_request
        token, lifetime = self._parse_token(response)
        self._token = token
        # A vendor that hands back the same token with its remaining life (Marketo) must not
        # make us fetch on every call near the end: never refresh earlier than half its life.
        self._expires_at = time.monotonic() + lifetime
        self._margin_now = min(self._margin, lifetime / 2)
        self.refreshes += 1

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None or time.monotonic() > self._expires_at - self._margin_now:
            yield from self._fetch()
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if self._is_expired(response):
            yield from self._fetch()
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request


class HttpClient:
    """httpx client with limiter, retries, token refresh and ledger.

    Args:
        base_url: The vendor's API root.
        connection: Connection name, for the ledger and log lines.
        classify: Vendor-specific response classifier; falls back to :func:`default_classify`.
        auth: Token auth or any httpx auth.
        limiter: The shared limiter of the vendor account.
        ledger: Where to record every call.
        verify: True (system CAs), or the path of a CA bundle to trust (the sandbox's).
        timeout_s: Connect/read/write timeout per request. Set it: Prefect cannot interrupt
            a blocked thread.
        retry: Per-request retry policy.

    Example:
        >>> client = HttpClient(base_url="https://example.invalid", connection="demo")
        >>> client.close()
    """

    def __init__(
        self,
        *,
        base_url: str,
        connection: str,
        classify: Classifier | None = None,
        auth: httpx.Auth | None = None,
        limiter: AccountLimiter | None = None,
        ledger: Ledger | None = None,
        verify: bool | str = True,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        self.connection = connection
        self._classify = classify or default_classify
        self._limiter = limiter
        self._ledger = ledger
        self._retry = retry or RetryPolicy()
        self._client = httpx.Client(
            base_url=base_url,
            auth=auth,
            verify=tls_context(verify),
            timeout=httpx.Timeout(timeout_s),
            headers={"User-Agent": "renkei/0.1", **(headers or {})},
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
        )

    def __repr__(self) -> str:
        return f"HttpClient(connection={self.connection!r}, base_url={str(self._client.base_url)!r})"

    # Ledger: httpx hooks see every exchange, token requests and retries included.
    def _on_request(self, request: httpx.Request) -> None:
        request.extensions["renkei_started"] = time.perf_counter()

    def _on_response(self, response: httpx.Response) -> None:
        req = response.request
        # Logged once the headers are in: a body cut off later must not be logged again.
        req.extensions["renkei_logged"] = True
        if self._ledger is None:
            return
        started = req.extensions.get("renkei_started", time.perf_counter())
        self._ledger.record(ApiCall(
            connection=self.connection, method=req.method, path=req.url.path,
            status=response.status_code, duration_s=time.perf_counter() - started,
            kind=str(req.extensions.get("renkei_kind", "other")),
        ))

    def _record_failure(self, method: str, url: str, kind: str) -> None:
        if self._ledger is not None:
            self._ledger.record(ApiCall(connection=self.connection, method=method,
                                        path=httpx.URL(url).path, status=0, duration_s=0.0,
                                        kind=kind))

    def _send_once(
        self, method: str, url: str, kind: str, want_json: bool, kwargs: dict[str, Any]
    ) -> tuple[httpx.Response, Any]:
        slot = self._limiter.slot() if self._limiter else _null_slot()
        # Errors are raised outside the except blocks: `raise ... from None` would still keep
        # the httpx exception as __context__, and with it the request and its Authorization
        # header, for as long as anything (a log record of a retry) holds our error.
        failure: ConnectorError | None = None
        response: httpx.Response | None = None
        logged = False
        with slot:
            try:
                response = self._client.request(
                    method, url, extensions={"renkei_kind": kind}, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
                failure = NotSentError(f"cannot connect for {method} {httpx.URL(url).path}")
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                failure = VendorUnavailableError(
                    f"{type(exc).__name__} during {method} {httpx.URL(url).path}")
                logged = _logged(exc)
        if failure is not None or response is None:
            if not logged:
                self._record_failure(method, url, kind)
            raise failure or VendorUnavailableError(f"no response for {method}")
        body: Any = None
        bad_json = False
        if want_json and response.status_code < 500 and response.content:
            try:
                body = json_body(response)
            except ValueError:
                bad_json = True
        if bad_json:
            raise VendorUnavailableError(
                f"{method} {httpx.URL(url).path} answered a body that is not valid JSON "
                "(cut off?)", status=response.status_code)
        error = self._classify(response)
        if error is None and response.status_code >= 400:
            error = default_classify(response)
        if isinstance(error, RateLimitedError) and self._limiter is not None:
            self._limiter.back_off(error.retry_after if error.retry_after is not None else 1.0)
        if error is not None:
            raise error
        return response, body

    def request(
        self,
        method: str,
        url: str,
        *,
        kind: str = "read",
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request; retry what is retriable; raise a classified error otherwise.

        Args:
            method: HTTP method.
            url: Path relative to ``base_url`` (or absolute).
            kind: ``read`` or ``write``, for the ledger.
            idempotent: Whether resending is safe after a timeout; defaults to True for
                GET/HEAD/PUT/DELETE and False otherwise.
            **kwargs: Passed to :meth:`httpx.Client.request` (``params``, ``json``, ``data``...).
        """
        return self._call(method, url, kind, idempotent, False, kwargs)[0]

    def json(
        self,
        method: str,
        url: str,
        *,
        kind: str = "read",
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """:meth:`request`, returning the parsed JSON body; a cut-off body is retriable."""
        return self._call(method, url, kind, idempotent, True, kwargs)[1]

    def exchange(
        self,
        method: str,
        url: str,
        *,
        kind: str = "read",
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> tuple[httpx.Response, Any]:
        """:meth:`json`, with the response too (its headers: a server's ``Date``, say)."""
        return self._call(method, url, kind, idempotent, True, kwargs)

    def _call(
        self, method: str, url: str, kind: str, idempotent: bool | None, want_json: bool,
        kwargs: dict[str, Any],
    ) -> tuple[httpx.Response, Any]:
        if idempotent is None:
            idempotent = method.upper() in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
        return call_with_retries(
            lambda: self._send_once(method, url, kind, want_json, kwargs),
            self._retry,
            idempotent=idempotent,
            describe=f"{method} {httpx.URL(url).path}",
        )

    def close(self) -> None:
        self._client.close()


def _logged(exc: httpx.RequestError) -> bool:
    """Whether the ledger already has this exchange (its headers came in, then it failed)."""
    try:
        return "renkei_logged" in exc.request.extensions
    except RuntimeError:  # httpx raises when no request is attached
        return False


class _null_slot:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


__all__ = [
    "AuthenticationError",
    "Classifier",
    "HttpClient",
    "ProtocolError",
    "TokenAuth",
    "default_classify",
    "parse_retry_after",
]
