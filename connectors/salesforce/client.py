"""The guarded way to talk to Salesforce: login, one session, retries, ledger, quota.

simple-salesforce does the URL building and JSON parsing; around it this module adds what
it lacks: our own OAuth login (and one re-login when the session expired), per-request
timeouts, TLS that trusts the sandbox CA *in addition to* the system CAs, retries of
retriable errors only, the shared per-org limiter, the API-call ledger, and the org's
``Sforce-Limit-Info`` usage.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from connectors.salesforce.errors import call_error
from connectors.sdk import (
    ApiCall,
    AuthenticationError,
    ConfigurationError,
    ConnectorContext,
    ConnectorError,
    NotSentError,
    QuotaExhaustedError,
    RateLimitedError,
    RetryPolicy,
    VendorUnavailableError,
    call_with_retries,
    parse_retry_after,
    reveal,
)
from connectors.sdk.limits import AccountLimiter

__all__ = ["ApiUsage", "SalesforceClient"]

T = TypeVar("T")
log = logging.getLogger("renkei.connectors.salesforce")
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class ApiUsage:
    """The org's daily API usage as the last response reported it.

    Attributes:
        used: Requests made in the last 24 hours, by every integration of the org.
        limit: The org's allocation.
    """

    used: int
    limit: int

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit else 0.0


class _SSLAdapter(HTTPAdapter):
    """An adapter whose TLS context trusts an extra CA besides the system ones."""

    def __init__(self, context: ssl.SSLContext):
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


class _Session(requests.Session):
    """A requests session with a default timeout: simple-salesforce sets none."""

    def __init__(self, timeout_s: float, context: ssl.SSLContext):
        super().__init__()
        self.timeout_s = timeout_s
        self.mount("https://", _SSLAdapter(context))

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verification always on; ``ca_bundle`` is trusted on top of the system CAs."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


class SalesforceClient:
    """One logged-in connection to an org.

    Args:
        config: The validated connector config (secrets wrapped).
        context: Ledger and CA bundle.
        limiter: The org's shared limiter.
        retry: Per-request retry policy.
    """

    def __init__(self, config: Mapping[str, Any], context: ConnectorContext,
                 limiter: AccountLimiter, retry: RetryPolicy):
        self._config = config
        self._context = context
        self._limiter = limiter
        self._retry = retry
        self._session = _Session(float(config.get("timeout_s", 30.0)),
                                 ssl_context(context.ca_bundle))
        self._session.hooks["response"].append(self._on_response)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sf: Salesforce | None = None
        self.api_usage: ApiUsage | None = None
        self.logins = 0

    def __repr__(self) -> str:
        return f"SalesforceClient(connection={self._context.connection!r})"

    # -- ledger and usage ----------------------------------------------------------------
    @property
    def _kind(self) -> str:
        return getattr(self._local, "kind", "other")

    @contextmanager
    def _as(self, kind: str) -> Iterator[None]:
        previous = self._kind
        self._local.kind = kind
        try:
            yield
        finally:
            self._local.kind = previous

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        self._local.logged = True
        self._context.ledger.record(ApiCall(
            connection=self._context.connection, method=str(request.method),
            path=urlsplit(str(request.url)).path, status=response.status_code,
            duration_s=response.elapsed.total_seconds(), kind=self._kind))
        # simple-salesforce's errors carry no headers: keep the vendor's wait for _once.
        self._local.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        match = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = ApiUsage(int(match.group(1)), int(match.group(2)))

    def _record_failure(self, method: str, path: str) -> None:
        self._context.ledger.record(ApiCall(
            connection=self._context.connection, method=method, path=path, status=0,
            duration_s=0.0, kind=self._kind))

    # -- login ---------------------------------------------------------------------------
    def _token_url(self) -> str:
        url = self._config.get("token_url")
        if url:
            return str(url)
        return str(self._config["login_url"]).rstrip("/") + "/services/oauth2/token"

    def login(self) -> None:
        """Fetch a session with the OAuth token endpoint and build the simple-salesforce client.

        Raises:
            AuthenticationError: the org refused the credentials.
            ConfigurationError: the token URL cannot be verified or does not exist.
        """
        form = {"client_id": self._config["client_id"],
                "client_secret": reveal(self._config["client_secret"])}
        if self._config.get("username"):
            form.update(grant_type="password", username=self._config["username"],
                        password=reveal(self._config.get("password", "")) +
                        reveal(self._config.get("security_token", "")))
        else:
            form["grant_type"] = "client_credentials"
        url = self._token_url()
        path = urlsplit(url).path

        def attempt() -> requests.Response:
            with self._as("auth"):
                return self._send(lambda: self._session.post(url, data=form), "POST", path)

        response = call_with_retries(attempt, self._retry, idempotent=True,
                                     describe=f"POST {path}")
        body = _json_or_none(response)
        if body is None:
            # Raised here, not in an except block: the decode error would carry the body.
            raise VendorUnavailableError(f"POST {path} answered a body that is not JSON",
                                         status=response.status_code)
        if response.status_code != 200 or not isinstance(body, dict):
            code = body.get("error") if isinstance(body, dict) else None
            description = body.get("error_description", "") if isinstance(body, dict) else ""
            if response.status_code >= 500:
                raise VendorUnavailableError(f"POST {path} failed", status=response.status_code)
            raise AuthenticationError(f"Salesforce refused the login: {description}",
                                      vendor_code=code, status=response.status_code)
        token, instance = body.get("access_token"), body.get("instance_url")
        if not token or not (instance or self._config.get("instance_url")):
            raise AuthenticationError("the token response has no access_token/instance_url",
                                      status=response.status_code)
        instance_url = str(self._config.get("instance_url") or instance)
        self._sf = Salesforce(instance_url=instance_url, session_id=token,
                              session=self._session, version=str(self._config["api_version"]))
        self.logins += 1
        log.info("logged in to Salesforce (%s)", urlsplit(instance_url).netloc)

    def _client(self) -> Salesforce:
        with self._lock:
            if self._sf is None:
                self.login()
            assert self._sf is not None
            return self._sf

    # -- one call ------------------------------------------------------------------------
    def _send(self, fn: Callable[[], T], method: str, path: str) -> T:
        """Run one HTTP exchange, turning transport failures into classified errors.

        The classified error is raised outside the ``except`` block on purpose: chained as
        ``__context__``, the requests exception would keep the prepared request (with its
        ``Authorization`` header) and the response's socket alive for as long as anything
        (a log record, a report) holds our error.
        """
        error: ConnectorError
        self._local.logged = False
        try:
            return fn()
        except requests.exceptions.SSLError as exc:
            # A reset mid-exchange on a TLS connection is an SSLError too (unexpected EOF):
            # only a refused certificate is the configuration's fault.
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                error = ConfigurationError(
                    f"TLS verification failed for {method} {path}: the server's certificate "
                    "is not trusted (for the sandbox, pass its CA bundle)")
            else:
                error = VendorUnavailableError(f"connection lost during {method} {path}")
        except (requests.exceptions.ConnectTimeout, requests.exceptions.InvalidURL):
            error = NotSentError(f"cannot connect for {method} {path}")
        except requests.exceptions.ConnectionError as exc:
            # A refused connection never reached Salesforce; a reset mid-exchange may have.
            refused = "NewConnectionError" in repr(exc) or "Connection refused" in str(exc)
            error = (NotSentError(f"cannot connect for {method} {path}") if refused else
                     VendorUnavailableError(f"connection lost during {method} {path}"))
        except (requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError):
            error = VendorUnavailableError(f"timeout or cut-off body during {method} {path}")
        if not self._local.logged:  # a body cut off after the headers is already logged
            self._record_failure(method, path)
        raise error

    def call(self, fn: Callable[[Salesforce], T], *, method: str, path: str, kind: str,
             idempotent: bool) -> T:
        """Call simple-salesforce with everything it lacks around it.

        Args:
            fn: Does one request through the given client and returns its parsed result.
            method: HTTP method, for messages and the ledger.
            path: URL path, absolute or relative to the API root (no query string), for
                messages and the ledger.
            kind: ``read`` or ``write``, for the ledger.
            idempotent: Whether resending after a timeout is safe.

        Raises:
            ConnectorError: classified (see :mod:`connectors.salesforce.errors`).
        """
        if not path.startswith("/"):
            path = f"/services/data/v{self._config['api_version']}/{path}"
        where = f"{method} {path}"

        def attempt() -> T:
            self._check_ceiling(where)
            sf = self._client()
            with self._limiter.slot(), self._as(kind):
                try:
                    return self._once(fn, sf, where, method, path)
                except SalesforceExpiredSession:
                    log.info("Salesforce session expired; logging in again")
                    with self._lock:
                        self.login()
                    return self._once(fn, self._client(), where, method, path)

        def on_retry(exc: BaseException, wait: float) -> None:
            if isinstance(exc, RateLimitedError):
                self._limiter.back_off(exc.retry_after if exc.retry_after is not None else wait)

        try:
            return call_with_retries(attempt, self._retry, idempotent=idempotent,
                                     describe=where, on_retry=on_retry)
        except SalesforceExpiredSession as exc:
            error = call_error(401, exc.content, where)
        raise error

    def _once(self, fn: Callable[[Salesforce], T], sf: Salesforce, where: str, method: str,
              path: str) -> T:
        error: ConnectorError
        try:
            return self._send(lambda: fn(sf), method, path)
        except SalesforceExpiredSession:
            raise
        except SalesforceError as exc:
            error = call_error(exc.status, exc.content, where)
            if isinstance(error, RateLimitedError) and error.retry_after is None:
                error.retry_after = getattr(self._local, "retry_after", None)
        except ValueError:
            # simple-salesforce parsed a body that was cut off mid-way.
            error = VendorUnavailableError(f"{where} answered a body that is not valid JSON "
                                           "(cut off?)")
        raise error  # outside the except block: see _send

    def _check_ceiling(self, where: str) -> None:
        ceiling = float(self._config.get("max_org_usage", 1.0))
        usage = self.api_usage
        # At 1.0 there is nothing to leave for others: let Salesforce decide (its window
        # rolls, so older calls may have expired since the last header).
        if ceiling < 1.0 and usage is not None and usage.limit and usage.fraction >= ceiling:
            raise QuotaExhaustedError(
                f"the org has used {usage.used} of {usage.limit} daily API requests; this "
                f"connection stops at {ceiling:.0%} to leave room for other integrations "
                f"({where} not sent)")

    def close(self) -> None:
        self._session.close()


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
