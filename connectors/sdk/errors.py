"""Errors a connector raises, grouped by what the caller must do.

::

    ConnectorError                  base class; never raised directly
    ├── ConfigurationError          the connection config is wrong: fix it, do not retry
    ├── AuthenticationError         credentials rejected even after a token refresh
    ├── AccessDeniedError           authenticated, but not allowed to do this
    ├── RetriableError              transient: retry the call or, once retries are spent, the batch
    │   ├── RateLimitedError        429 or a vendor rate-limit code; carries ``retry_after``
    │   ├── VendorUnavailableError  5xx, timeouts, resets, truncated bodies
    │   └── TokenExpiredError       the access token expired mid-run (refreshed transparently)
    ├── QuotaExhaustedError         the daily quota is spent: stop until it resets
    └── ProtocolError               the vendor answered something we cannot understand

Record-level failures (one record of a batch rejected) are not exceptions: they come back as
:class:`connectors.sdk.types.RecordError` in the per-record write results.

Messages never include secrets: build them from status codes, vendor error codes and paths,
never from request headers or bodies.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error a connector raises.

    Args:
        message: What happened, in words an operator can act on. Never contains secrets.
        vendor_code: The vendor's own error code (``"606"``, ``"INVALID_SESSION_ID"``), if any.
        status: The HTTP status, if the error came from an HTTP response.
    """

    category: str = "unknown"

    def __init__(self, message: str, *, vendor_code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.vendor_code = vendor_code
        self.status = status

    def __str__(self) -> str:
        parts = [self.message]
        if self.vendor_code:
            parts.append(f"vendor code {self.vendor_code}")
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"


class ConfigurationError(ConnectorError):
    """The connection's configuration is invalid or incomplete."""

    category = "configuration"


class AuthenticationError(ConnectorError):
    """The vendor rejected the credentials."""

    category = "authentication"


class AccessDeniedError(ConnectorError):
    """The credentials are valid but lack permission for the call."""

    category = "permission"


class RetriableError(ConnectorError):
    """A transient failure: the same call may succeed later."""

    category = "vendor_outage"


class RateLimitedError(RetriableError):
    """The vendor asked us to slow down.

    Args:
        retry_after: Seconds the vendor asked us to wait, when it said so.
    """

    category = "rate_limit"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        vendor_code: str | None = None,
        status: int | None = None,
    ):
        super().__init__(message, vendor_code=vendor_code, status=status)
        self.retry_after = retry_after


class VendorUnavailableError(RetriableError):
    """5xx, a timeout, a reset connection or a body cut off mid-way."""

    category = "vendor_outage"


class TokenExpiredError(RetriableError):
    """The access token expired; the HTTP helper refreshes it and retries once."""

    category = "authentication"


class QuotaExhaustedError(ConnectorError):
    """The daily (or allocated) API quota is used up; the sync must wait for the reset."""

    category = "rate_limit"


class ProtocolError(ConnectorError):
    """The vendor's answer does not have the shape its API documents."""

    category = "vendor_outage"
