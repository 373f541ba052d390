"""What Brightcove's answers mean: error arrays of ``{error_code, message}`` to SDK errors.

Tokens are refreshed by :class:`~connectors.sdk.TokenAuth` on the first 401; a 401 that
reaches the classifier came back with a fresh token, so the credentials are the problem.
"""

from __future__ import annotations

import httpx

from connectors.sdk import (
    AccessDeniedError,
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    ProtocolError,
    RateLimitedError,
    VendorUnavailableError,
    json_body,
    parse_retry_after,
)

__all__ = ["BrightcoveClassifier", "vendor_error"]

#: Seconds to wait on a 429 that names no Retry-After.
DEFAULT_BACKOFF_S = 1.0


def vendor_error(response: httpx.Response) -> tuple[str | None, str]:
    """The first ``(error_code, message)`` of an error array (or an OAuth error object).

    Example:
        >>> r = httpx.Response(400, json=[{"error_code": "BAD_REQUEST", "message": "no"}])
        >>> vendor_error(r)
        ('BAD_REQUEST', 'no')
    """
    try:
        data = json_body(response)
    except ValueError:
        return None, f"HTTP {response.status_code} without a JSON body"
    first = data[0] if isinstance(data, list) and data else data
    if not isinstance(first, dict):
        return None, f"HTTP {response.status_code}"
    code = first.get("error_code") or first.get("error")
    message = first.get("message") or first.get("error_description") or ""
    return (str(code) if code else None), str(message)[:500]


class BrightcoveClassifier:
    """Classifies Brightcove responses for :class:`~connectors.sdk.HttpClient`."""

    def __call__(self, response: httpx.Response) -> ConnectorError | None:
        status = response.status_code
        if status < 400:
            return None
        code, message = vendor_error(response)
        where = f"Brightcove {response.request.method} {response.request.url.path}"
        text = f"{where}: {code or 'error'}: {message}" if message else f"{where}: {code}"
        if status == 401:
            return AuthenticationError(f"{text} (the client credentials were refused even "
                                       "with a fresh token)", status=status, vendor_code=code)
        if status == 403:
            return AccessDeniedError(f"{text} (check account_id and the credential's "
                                     "permissions)", status=status, vendor_code=code)
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            return RateLimitedError(text, status=status, vendor_code=code,
                                    retry_after=DEFAULT_BACKOFF_S if wait is None else wait)
        if status >= 500:
            # PROCESSING (a long report still running) is also a 500: retrying is right.
            return VendorUnavailableError(text, status=status, vendor_code=code)
        if code in ("BAD_REQUEST", "UNSUPPORTED_FIELD_COMBINATION_ERROR"):
            return ConfigurationError(text, status=status, vendor_code=code)
        return ProtocolError(text, status=status, vendor_code=code)
