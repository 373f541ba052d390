"""What kintone's answers mean for the caller: call-level errors and record-level reasons.

kintone answers every failure with an HTTP status and a JSON body
``{"code": "CB_VA01", "id": "...", "message": "...", "errors": {...}}`` (REFERENCE.md §3,
js-sdk ``KintoneRestAPIError``):

==========================================  ===============================================
kintone says                                renkei raises
==========================================  ===============================================
401 CB_AU01/CB_WA01, 400 GAIA_IA02 (token)  :class:`AuthenticationError` (never retried)
403 (CB_NO02, GAIA_NO01, ...)               :class:`AccessDeniedError`
429 GAIA_TO04 (concurrent requests)         :class:`RateLimitedError` (retried, shared back-off)
429 GAIA_TM12 (10 cursors already open)     :class:`KintoneApiError`: the reader seeks instead
5xx, timeouts, resets, cut-off bodies       :class:`VendorUnavailableError` (retried)
404 GAIA_AP01 (no such app)                 :class:`ConfigurationError` naming the app
400 GAIA_IQ* naming an unknown field        :class:`ConfigurationError` (:func:`field_gone`)
400 CB_VA01, 409 GAIA_CO02, 404 GAIA_RE01   :class:`KintoneApiError`: the writer turns them
                                            into per-record results
anything else                               :class:`KintoneApiError` (a ProtocolError)
==========================================  ===============================================

Messages carry the vendor's code and message, the method, the path and the app id: never a
header (the API token, the password) nor a request body (personal data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.sdk import (
    AccessDeniedError,
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    ErrorCategory,
    ProtocolError,
    RateLimitedError,
    RecordError,
    VendorUnavailableError,
    json_body,
    parse_retry_after,
)

__all__ = [
    "CONFLICT",
    "CURSOR_LIMIT",
    "NOT_FOUND",
    "VALIDATION",
    "FieldError",
    "KintoneApiError",
    "KintoneClassifier",
    "field_errors",
    "field_gone",
    "record_error",
]

VALIDATION = "CB_VA01"
CONFLICT = "GAIA_CO02"
NOT_FOUND = "GAIA_RE01"
APP_NOT_FOUND = "GAIA_AP01"
CONCURRENCY = "GAIA_TO04"
CURSOR_LIMIT = "GAIA_TM12"
AUTH_CODES = frozenset({"CB_AU01", "CB_WA01", "GAIA_IA02"})
"""Not logged in, bad password, unknown API token (kintone answers the last with 400)."""
FIELD_NOT_FOUND = frozenset({"GAIA_IQ11", "GAIA_FE01"})
"""A request named a field code the app does not have: in a query, GAIA_IQ11 "指定された
フィールド（x）が見つかりません。" [C: kintone-js-sdk test fixture, cli-kintone features];
GAIA_FE01 "field not found" [S: third-party kintone plugins; where kintone answers it is
unverified]."""
UPDATE_KEY = "updateKey.field"
"""The ``errors`` key ending of a CB_VA01 about the update key (no such field, or not set to
prohibit duplicate values) [S: the emulator; kintone.dev says only that it must be unique]."""

_DUPLICATE_WORDS = ("重複", "already exists", "duplicate")
# kintone's unknown-field query errors (GAIA_IQ11 "指定されたフィールド（code: x）が見つかりません").
_UNKNOWN_FIELD = re.compile(r"(フィールド|field).{0,20}(見つかりません|not found)", re.IGNORECASE)


class KintoneApiError(ProtocolError):
    """kintone refused a request with a code the caller may handle per record.

    Attributes:
        code: kintone's error code (``CB_VA01``).
        vendor_message: kintone's top-level message, verbatim.
        errors: The ``errors`` object of the body (``records[3].メールアドレス.value`` →
            ``{"messages": [...]}``), empty when kintone sent none.
    """

    def __init__(self, message: str, *, code: str, vendor_message: str,
                 errors: Mapping[str, Any], status: int):
        super().__init__(message, vendor_code=code or None, status=status)
        self.code = code
        self.vendor_message = vendor_message
        self.errors: dict[str, Any] = dict(errors)


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json_body(response)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _app_of(request: httpx.Request) -> str:
    app = request.url.params.get("app") or request.url.params.get("id")
    if app is None and request.content[:1] == b"{":
        try:
            app = json.loads(request.content).get("app")
        except (ValueError, AttributeError):
            app = None
    return f" (app {app})" if app is not None else ""


class KintoneClassifier:
    """Classifies kintone responses for :class:`~connectors.sdk.HttpClient`.

    Args:
        concurrency_wait_s: Wait after a 429 without ``Retry-After`` (kintone sends none;
            a slot frees as soon as any request of the domain ends).
        app_names: App id → the stream name it serves, for messages.
    """

    def __init__(self, *, concurrency_wait_s: float = 1.0,
                 app_names: Mapping[str, str] | None = None):
        self.concurrency_wait_s = concurrency_wait_s
        self.app_names = dict(app_names or {})

    def __call__(self, response: httpx.Response) -> ConnectorError | None:
        status = response.status_code
        if status < 400:
            return None
        request = response.request
        body = _body(response)
        code = str(body.get("code") or response.headers.get("X-Cybozu-Error") or "")
        message = str(body.get("message") or "")
        app = _app_of(request)
        where = f"kintone {request.method} {request.url.path}{app}"
        if status == 401 or code in AUTH_CODES:
            return AuthenticationError(
                f"{where}: kintone refused the API token or login/password", vendor_code=code
                or None, status=status)
        if status == 403:
            return AccessDeniedError(f"{where}: {message or 'permission denied'}",
                                     vendor_code=code or None, status=status)
        if status == 429 and code == CURSOR_LIMIT:
            # 10 cursors per domain are open: waiting a second frees none; the reader
            # pages by seek instead.
            return KintoneApiError(f"{where}: {message or 'too many open cursors'}", code=code,
                                   vendor_message=message, errors={}, status=status)
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            return RateLimitedError(f"{where}: too many concurrent requests to the domain",
                                    retry_after=self.concurrency_wait_s if wait is None else wait,
                                    vendor_code=code or None, status=status)
        if status >= 500:
            return VendorUnavailableError(f"{where}: kintone answered HTTP {status}"
                                          + (f": {message}" if message else ""),
                                          vendor_code=code or None, status=status)
        if code == APP_NOT_FOUND or (status == 404 and not code):
            stream = self.app_names.get(app.strip(" ()").removeprefix("app "))
            named = f" for stream {stream!r}" if stream else ""
            return ConfigurationError(
                f"{where}: the app does not exist or the token cannot see it{named}: "
                f"{message}", vendor_code=code or None, status=status)
        if code.startswith("GAIA_IQ") and _UNKNOWN_FIELD.search(message):
            return ConfigurationError(f"{where}: {message}", vendor_code=code, status=status)
        return KintoneApiError(f"{where}: {message or 'request refused'}", code=code,
                               vendor_message=message, errors=body.get("errors") or {},
                               status=status)


def field_gone(exc: BaseException) -> bool:
    """Whether kintone refused a call for naming a field the app no longer has as described.

    True for the unknown-field codes of :data:`FIELD_NOT_FOUND` and for a CB_VA01 about the
    update key: a form kept from an earlier run (see :mod:`connectors.sdk.cache`) is then
    out of date and must be read again.

    Example:
        >>> field_gone(ConfigurationError("unknown field", vendor_code="GAIA_IQ11"))
        True
        >>> field_gone(ConfigurationError("no such app", vendor_code="GAIA_AP01"))
        False
    """
    if getattr(exc, "vendor_code", None) in FIELD_NOT_FOUND:
        return True
    return isinstance(exc, KintoneApiError) and exc.code == VALIDATION and any(
        str(key).endswith(UPDATE_KEY) for key in exc.errors)


@dataclass(frozen=True)
class FieldError:
    """One entry of a CB_VA01 ``errors`` object, attributed to a record of the request.

    Attributes:
        index: Position of the record in the request's ``records`` list.
        field: The field code kintone blamed (the table's code for a cell of a table).
        messages: kintone's messages, verbatim.
    """

    index: int
    field: str
    messages: tuple[str, ...]


# records[3].メールアドレス.value, records[3].record.x.value, records[0].表.value[1].value.c.value
_KEY = re.compile(r"^records\[(\d+)\]\.(?:record\.)?(.+?)\.value(?:\[|$)")


def field_errors(errors: Mapping[str, Any]) -> tuple[list[FieldError], list[str]]:
    """Split a CB_VA01 ``errors`` object into per-record errors and unattributed messages.

    Example:
        >>> found, rest = field_errors(
        ...     {"records[1].メールアドレス.value": {"messages": ["必須です。"]}})
        >>> found[0].index, found[0].field, found[0].messages
        (1, 'メールアドレス', ('必須です。',))
    """
    found: list[FieldError] = []
    rest: list[str] = []
    for key, detail in errors.items():
        raw = detail.get("messages") if isinstance(detail, Mapping) else detail
        messages = tuple(str(m) for m in raw) if isinstance(raw, list) else (str(raw),)
        match = _KEY.match(str(key))
        if match is None:
            rest.extend(f"{key}: {m}" for m in messages)
            continue
        found.append(FieldError(int(match.group(1)), match.group(2), messages))
    return found, rest


def record_error(errors: list[FieldError], *, code: str = VALIDATION) -> RecordError:
    """The :class:`RecordError` of one record from its CB_VA01 entries.

    A unique-value violation (kintone's "値がほかのレコードと重複しています。") is a
    ``duplicate``; any other message a ``validation`` failure. Both are permanent.
    """
    messages = [m for e in errors for m in e.messages]
    fields = tuple(dict.fromkeys(e.field for e in errors))
    # One blamed field: kintone's words exactly; several: say which message is whose.
    text = "; ".join(messages) if len(fields) == 1 else "; ".join(
        f"{e.field}: {m}" for e in errors for m in e.messages)
    duplicate = any(w in m.lower() for m in messages for w in _DUPLICATE_WORDS)
    category = ErrorCategory.DUPLICATE if duplicate else ErrorCategory.VALIDATION
    return RecordError(category, text, code=code, retriable=False, fields=fields)
