"""kintone's error responses: ``{"id", "code", "message", "errors"?}`` and their HTTP status.

Messages are the Japanese ones kintone answers when the user's language is Japanese (the
default of a Japanese domain); the codes do not depend on the language.
"""

from __future__ import annotations

import secrets
from typing import Any

__all__ = [
    "KintoneError",
    "app_not_found",
    "bad_request",
    "error_body",
    "record_not_found",
    "validation_error",
]

VALIDATION_MESSAGE = "入力内容が正しくありません。"
REQUIRED = "必須です。"


def _error_id() -> str:
    # kintone's ids are 20 random base64url-like characters, new for every error.
    return secrets.token_urlsafe(15)[:20]


def error_body(code: str, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of a kintone error."""
    body: dict[str, Any] = {"id": _error_id(), "code": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return body


class KintoneError(Exception):
    """A kintone API error; the handler renders it as ``status`` with :func:`error_body`.

    Args:
        status: HTTP status.
        code: kintone error code, e.g. ``"CB_VA01"``.
        message: The human message.
        errors: Per-parameter details, ``{"records[0].メール.value": {"messages": [...]}}``.
        headers: Extra response headers (``X-ConcurrencyLimit-*`` and the like).
        body: A whole body that replaces the usual one (bulkRequest's ``{"results": [...]}``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self._body = body

    def body(self) -> dict[str, Any]:
        """The response body (a fresh error id each time)."""
        if self._body is not None:
            return self._body
        return error_body(self.code, self.message, self.errors)


def validation_error(errors: dict[str, list[str]]) -> KintoneError:
    """400 CB_VA01 with ``errors`` as ``{key: {"messages": [...]}}``."""
    return KintoneError(
        400, "CB_VA01", VALIDATION_MESSAGE, {k: {"messages": v} for k, v in errors.items()}
    )


def bad_request(key: str, message: str) -> KintoneError:
    """400 CB_VA01 about one request parameter."""
    return validation_error({key: [message]})


def app_not_found(app: object) -> KintoneError:
    """404 GAIA_AP01."""
    return KintoneError(
        404, "GAIA_AP01", f"指定したアプリ（id: {app}）が見つかりません。削除されている可能性があります。"
    )


def record_not_found(record_id: object) -> KintoneError:
    """404 GAIA_RE01."""
    return KintoneError(404, "GAIA_RE01", f"指定したレコード（id: {record_id}）が見つかりません。")
