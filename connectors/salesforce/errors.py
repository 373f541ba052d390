"""Salesforce errors in renkei's vocabulary: whole calls and single records.

Whole calls (an HTTP status plus the JSON error array ``[{"errorCode", "message"}]``):

==========================================  ===============================================
Salesforce says                             renkei raises
==========================================  ===============================================
401 INVALID_SESSION_ID (after one re-login) :class:`AuthenticationError`
403 REQUEST_LIMIT_EXCEEDED "TotalRequests"  :class:`QuotaExhaustedError` (wait for the reset)
403 REQUEST_LIMIT_EXCEEDED (concurrency)    :class:`RateLimitedError` (retry after a pause)
403 anything else                           :class:`AccessDeniedError`
400 INVALID_FIELD / INVALID_TYPE /          :class:`ConfigurationError` (the query names a
    MALFORMED_QUERY, 404                    field or object the org does not have)
other 400                                   :class:`ProtocolError`
5xx, timeouts, resets, cut-off bodies       :class:`VendorUnavailableError`
==========================================  ===============================================

Single records of an sObject Collections call map to :class:`RecordError` categories.
Messages are built from status codes, error codes and URL paths only: never from request
headers (the session id) or bodies (personal data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.sdk import (
    AccessDeniedError,
    ConfigurationError,
    ConnectorError,
    ErrorCategory,
    ProtocolError,
    QuotaExhaustedError,
    RateLimitedError,
    RecordError,
    VendorUnavailableError,
)
from connectors.sdk.errors import AuthenticationError

__all__ = ["call_error", "first_error", "record_error"]

_VALIDATION = {
    "REQUIRED_FIELD_MISSING", "STRING_TOO_LONG", "INVALID_EMAIL_ADDRESS",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    "FIELD_INTEGRITY_EXCEPTION", "MALFORMED_ID", "JSON_PARSER_ERROR", "NUMBER_OUTSIDE_VALID_RANGE",
    "INVALID_FIELD_FOR_INSERT_UPDATE", "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
    "CANNOT_UPDATE_CONVERTED_LEAD",  # a task or update on a lead sales already converted
}
_DUPLICATE = {"DUPLICATES_DETECTED", "DUPLICATE_VALUE", "DUPLICATE_EXTERNAL_ID"}
_NOT_FOUND = {"ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_ID_FIELD"}
_PERMISSION = {"INSUFFICIENT_ACCESS_OR_READONLY", "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
               "INSUFFICIENT_ACCESS"}
# Transient by nature: the same write succeeds once the lock or the limit is gone.
_TRANSIENT = {"UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG", "SERVER_UNAVAILABLE",
              "ALL_OR_NONE_OPERATION_ROLLED_BACK", "REQUEST_LIMIT_EXCEEDED"}
_CONFIG_CODES = {"INVALID_FIELD", "INVALID_TYPE", "MALFORMED_QUERY", "NOT_FOUND",
                 "INVALID_QUERY_FILTER_OPERATOR", "API_DISABLED_FOR_ORG", "INVALID_OPERATION"}


def first_error(content: Any) -> tuple[str | None, str]:
    """``(errorCode, message)`` of a Salesforce error body (an array, an object or text)."""
    if isinstance(content, Sequence) and not isinstance(content, (str, bytes)) and content:
        content = content[0]
    if isinstance(content, Mapping):
        code = content.get("errorCode") or content.get("statusCode") or content.get("error")
        message = content.get("message") or content.get("error_description") or ""
        return (str(code) if code else None), str(message)
    return None, ""


def call_error(status: int, content: Any, where: str) -> ConnectorError:
    """The exception for a failed call (``where`` is ``METHOD /path``, no query string)."""
    code, message = first_error(content)
    if status == 401:
        return AuthenticationError(f"Salesforce refused the session for {where} even after a "
                                   "fresh login", vendor_code=code, status=status)
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
        if "TotalRequests" in message:
            return QuotaExhaustedError(
                f"the org's daily API request limit is used up ({where}): {message}",
                vendor_code=code, status=status)
        # ConcurrentPerOrgLongTxn and friends: too many long requests at once; it passes.
        return RateLimitedError(f"Salesforce concurrency limit hit ({where}): {message}",
                                vendor_code=code, status=status)
    if status == 403:
        return AccessDeniedError(f"Salesforce denied {where}: {message}", vendor_code=code,
                                 status=status)
    if status == 429:
        return RateLimitedError(f"Salesforce asked to slow down ({where})", vendor_code=code,
                                status=status)
    if status >= 500:
        return VendorUnavailableError(f"Salesforce failed {where}", vendor_code=code,
                                      status=status)
    if status == 404 or code in _CONFIG_CODES:
        # The request names an object, field or version this org does not have. Only the
        # first line of the message: the rest echoes the query.
        detail = message.strip().splitlines()[-1] if message.strip() else ""
        return ConfigurationError(f"Salesforce rejected {where}: {detail}", vendor_code=code,
                                  status=status)
    return ProtocolError(f"Salesforce rejected {where}", vendor_code=code, status=status)


def record_error(error: Mapping[str, Any], *, updating: bool) -> RecordError:
    """One per-record error of a SaveResult, classified."""
    code = str(error.get("statusCode") or error.get("errorCode") or "UNKNOWN_EXCEPTION")
    message = str(error.get("message") or "")
    fields = tuple(str(f) for f in error.get("fields") or ())
    if code in _DUPLICATE:
        category = ErrorCategory.DUPLICATE
    elif code in _NOT_FOUND:
        category = ErrorCategory.NOT_FOUND
    elif code == "INVALID_CROSS_REFERENCE_KEY":
        # On the record being updated it means "no such record"; on a lookup field it
        # means the referenced record is missing, which is the data's fault.
        category = ErrorCategory.NOT_FOUND if updating and not fields else ErrorCategory.VALIDATION
    elif code in _PERMISSION:
        category = ErrorCategory.PERMISSION
    elif code in _TRANSIENT:
        category = ErrorCategory.CONFLICT if code == "UNABLE_TO_LOCK_ROW" else ErrorCategory.VENDOR_OUTAGE
    elif code in _VALIDATION or code.startswith("INVALID_"):
        category = ErrorCategory.VALIDATION
    else:
        category = ErrorCategory.UNKNOWN
    return RecordError(category=category, message=message, code=code,
                       retriable=code in _TRANSIENT, fields=fields)
