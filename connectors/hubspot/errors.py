"""What HubSpot's answers mean for the caller: call-level errors and per-input reasons.

HubSpot answers errors with an HTTP status and ``{status, message, correlationId,
category}`` (spec schema ``Error``); a batch answers 207 with ``errors`` carrying each
failed input's ids in ``context.ids``. Private-app tokens never expire, so a 401 means the
token is wrong or revoked: refreshing cannot help.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.sdk import (
    AccessDeniedError,
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    ErrorCategory,
    ProtocolError,
    QuotaExhaustedError,
    RateLimitedError,
    RecordError,
    VendorUnavailableError,
    json_body,
    parse_retry_after,
)

__all__ = ["HubSpotClassifier", "input_error"]


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json_body(response)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class HubSpotClassifier:
    """Classifies HubSpot responses for :class:`~connectors.sdk.HttpClient`.

    Args:
        window_s: The burst window; a 429 without ``Retry-After`` waits this long (or the
            ``X-HubSpot-RateLimit-Interval-Milliseconds`` the answer names).
    """

    def __init__(self, *, window_s: float = 10.0):
        self.window_s = window_s

    def __call__(self, response: httpx.Response) -> ConnectorError | None:
        status = response.status_code
        if status < 400:
            return None
        path = response.request.url.path
        body = _body(response)
        category = str(body.get("category") or body.get("errorType") or "")
        where = f"HubSpot {response.request.method} {path}"
        # The vendor's message is safe to show: HubSpot never echoes the token in it.
        message = str(body.get("message") or f"HTTP {status}")
        if status == 401:
            return AuthenticationError(f"{where}: the private app token was refused "
                                       f"({category or 'unauthorized'})", status=status,
                                       vendor_code=category or None)
        if status == 403:
            return AccessDeniedError(f"{where}: {message}", status=status,
                                     vendor_code=category or None)
        if status == 429:
            if body.get("policyName") == "DAILY":
                return QuotaExhaustedError(f"{where}: the portal's daily API limit is reached",
                                           status=status, vendor_code="DAILY")
            return RateLimitedError(f"{where}: burst limit reached", status=status,
                                    retry_after=self._wait(response),
                                    vendor_code=str(body.get("policyName") or "RATE_LIMIT"))
        if status >= 500:
            return VendorUnavailableError(f"{where}: HubSpot answered HTTP {status}",
                                          status=status, vendor_code=category or None)
        if "Unable to infer object type" in message:
            return ConfigurationError(f"{where}: {message}", status=status)
        return ProtocolError(f"{where}: {message}", status=status, vendor_code=category or None)

    def _wait(self, response: httpx.Response) -> float:
        header = parse_retry_after(response.headers.get("Retry-After"))
        if header is not None:
            return header
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "")
        return int(interval) / 1000 if interval.isdigit() else self.window_s


_CATEGORIES: dict[str, tuple[ErrorCategory, bool]] = {
    "VALIDATION_ERROR": (ErrorCategory.VALIDATION, False),
    "CONFLICT": (ErrorCategory.DUPLICATE, False),
    "OBJECT_NOT_FOUND": (ErrorCategory.NOT_FOUND, False),
    "RATE_LIMITS": (ErrorCategory.RATE_LIMIT, True),
    "MISSING_SCOPES": (ErrorCategory.PERMISSION, False),
    "INTERNAL_ERROR": (ErrorCategory.VENDOR_OUTAGE, True),
}


def input_error(error: dict[str, Any]) -> RecordError:
    """A :class:`RecordError` from one entry of a 207's ``errors`` (or a whole-call body).

    Example:
        >>> input_error({"category": "CONFLICT", "message": "Existing ID: 5"}).category
        <ErrorCategory.DUPLICATE: 'duplicate'>
    """
    category = str(error.get("category", ""))
    kind, retriable = _CATEGORIES.get(category, (ErrorCategory.UNKNOWN, False))
    fields: tuple[str, ...] = ()
    for detail in error.get("errors") or []:
        if isinstance(detail, dict):
            names = (detail.get("context") or {}).get("propertyName") or []
            fields += tuple(str(n) for n in names)
    code = str(error.get("subCategory") or category) or None
    return RecordError(kind, str(error.get("message", "rejected without a message")),
                       code=code, retriable=retriable, fields=fields)
