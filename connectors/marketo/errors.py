"""What Marketo's answers mean for the caller: call-level errors and record-level reasons.

Marketo reports most failures with HTTP 200, ``success: false`` and a quoted code in
``errors[0].code``; record-level reasons sit in ``result[i].reasons`` (vendor doc
``error-codes.md``). This module turns both into the SDK's vocabulary.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from connectors.sdk import (
    AccessDeniedError,
    ConfigurationError,
    ConnectorError,
    ErrorCategory,
    ProtocolError,
    QuotaExhaustedError,
    RateLimitedError,
    RecordError,
    TokenExpiredError,
    VendorUnavailableError,
    json_body,
    parse_retry_after,
)

__all__ = ["TOKEN_CODES", "MarketoClassifier", "record_error", "vendor_error"]

TOKEN_CODES = frozenset({"601", "602"})
"""Access token invalid / expired: fetch a new token and resend."""

_TRANSIENT = frozenset({"604", "608", "611", "614", "713", "719"})
"""Time-outs, temporary unavailability, system and transient errors, lock waits."""

_CONFIG = frozenset({"610", "1006", "1011", "703", "616"})
"""Wrong base URL, unknown field, unsupported lookup field, feature not enabled."""


def vendor_error(body: Any) -> tuple[str, str] | None:
    """``(code, message)`` of a failed envelope, or ``None`` for a successful one."""
    if not isinstance(body, dict) or body.get("success") is not False:
        return None
    errors = body.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    return str(first.get("code", "")), str(first.get("message", ""))


class MarketoClassifier:
    """Classifies Marketo responses for :class:`~connectors.sdk.HttpClient`.

    Args:
        rate_window_s: The account's rate window; a 606 asks the caller to wait this long
            (Marketo sends no ``Retry-After``; only a full window guarantees room).
        concurrency_wait_s: Wait after a 615 (a slot frees as soon as any call ends).
    """

    def __init__(self, *, rate_window_s: float = 20.0, concurrency_wait_s: float = 1.0):
        self.rate_window_s = rate_window_s
        self.concurrency_wait_s = concurrency_wait_s

    def __call__(self, response: httpx.Response) -> ConnectorError | None:
        status = response.status_code
        path = response.request.url.path
        if status == 413:
            return ProtocolError(f"{path}: request body over Marketo's 1 MB limit", status=status)
        if status == 414:
            return ProtocolError(f"{path}: URI over Marketo's 8 KB limit", status=status)
        if status >= 500:
            return VendorUnavailableError(f"{path}: Marketo answered HTTP {status}", status=status)
        if status != 200 or not response.content.startswith(b"{"):
            return None  # the SDK's status rules apply
        try:
            failure = vendor_error(json_body(response))
        except ValueError:
            return None
        if failure is None:
            return None
        code, message = failure
        header = parse_retry_after(response.headers.get("Retry-After"))
        return _classify_code(code, message, path, header, self)


def _classify_code(code: str, message: str, path: str, retry_after: float | None,
                   cls: MarketoClassifier) -> ConnectorError:
    where = f"Marketo {path}"
    if code in TOKEN_CODES:
        # Never echo anything about the token itself.
        return TokenExpiredError(f"{where}: access token rejected", vendor_code=code)
    if code == "606":
        wait = retry_after if retry_after is not None else cls.rate_window_s
        return RateLimitedError(f"{where}: rate limit reached", retry_after=wait, vendor_code=code)
    if code == "615":
        wait = retry_after if retry_after is not None else cls.concurrency_wait_s
        return RateLimitedError(f"{where}: concurrent call limit reached", retry_after=wait,
                                vendor_code=code)
    if code == "607":
        return QuotaExhaustedError(f"{where}: daily API quota reached (resets 00:00 US Central)",
                                   vendor_code=code)
    if code == "603":
        return AccessDeniedError(f"{where}: access denied: {message}", vendor_code=code)
    if code in _TRANSIENT:
        return VendorUnavailableError(f"{where}: {message or 'temporarily unavailable'}",
                                      vendor_code=code)
    if code in _CONFIG:
        return ConfigurationError(f"{where}: {message}", vendor_code=code)
    return ProtocolError(f"{where}: {message or 'request refused'}", vendor_code=code)


# -- record level -----------------------------------------------------------------------------

_RECORD: dict[str, tuple[ErrorCategory, bool]] = {
    "1001": (ErrorCategory.VALIDATION, False),
    "1002": (ErrorCategory.VALIDATION, False),
    "1003": (ErrorCategory.VALIDATION, False),
    "1004": (ErrorCategory.NOT_FOUND, False),
    "1005": (ErrorCategory.DUPLICATE, False),
    "1006": (ErrorCategory.VALIDATION, False),
    "1007": (ErrorCategory.DUPLICATE, False),
    "1008": (ErrorCategory.PERMISSION, False),
    "1009": (ErrorCategory.VALIDATION, False),
    "1010": (ErrorCategory.PERMISSION, False),
    "1011": (ErrorCategory.CONFIGURATION, False),
    "1013": (ErrorCategory.NOT_FOUND, False),
    "1014": (ErrorCategory.VENDOR_OUTAGE, True),
    "1016": (ErrorCategory.RATE_LIMIT, True),
    "1019": (ErrorCategory.VENDOR_OUTAGE, True),
    "1021": (ErrorCategory.VALIDATION, False),
    "1022": (ErrorCategory.CONFLICT, True),
    "1029": (ErrorCategory.RATE_LIMIT, True),
    "1036": (ErrorCategory.DUPLICATE, False),
    "604": (ErrorCategory.VENDOR_OUTAGE, True),
    "608": (ErrorCategory.VENDOR_OUTAGE, True),
    "611": (ErrorCategory.VENDOR_OUTAGE, True),
    "713": (ErrorCategory.VENDOR_OUTAGE, True),
    "719": (ErrorCategory.CONFLICT, True),
}
_FIELD_IN_MESSAGE = re.compile(r"[Ff]ield '([^']+)'")


def record_error(reasons: Any) -> RecordError:
    """The :class:`RecordError` of a skipped record from its ``reasons`` list.

    Example:
        >>> record_error([{"code": "1005", "message": "Lead already exists"}]).category
        <ErrorCategory.DUPLICATE: 'duplicate'>
    """
    items = [r for r in reasons if isinstance(r, dict)] if isinstance(reasons, list) else []
    if not items:
        return RecordError(ErrorCategory.UNKNOWN, "skipped without a reason")
    first = items[0]
    code = str(first.get("code", ""))
    message = "; ".join(str(r.get("message", "")) for r in items)
    category, retriable = _RECORD.get(code, (ErrorCategory.UNKNOWN, False))
    fields = tuple(dict.fromkeys(m.group(1) for r in items
                                 for m in _FIELD_IN_MESSAGE.finditer(str(r.get("message", "")))))
    return RecordError(category, message, code=code, retriable=retriable, fields=fields)
