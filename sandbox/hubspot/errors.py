"""HubSpot's error envelope: ``{status, message, correlationId, category, ...}``."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response

from sandbox.core import json_response

__all__ = ["ApiError", "error_body", "error_response"]


def error_body(category: str, message: str, *, sub_category: str | None = None,
               context: dict[str, list[str]] | None = None,
               errors: list[dict[str, Any]] | None = None,
               links: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON of a HubSpot error (spec schema ``Error``; ``status`` as the API sends it)."""
    body: dict[str, Any] = {"status": "error", "message": message,
                            "correlationId": str(uuid.uuid4()), "category": category}
    if sub_category:
        body["subCategory"] = sub_category
    if context is not None:
        body["context"] = context
    if errors is not None:
        body["errors"] = errors
    if links is not None:
        body["links"] = links
    return body


def error_response(status: int, category: str, message: str,
                   headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """An HTTP response carrying :func:`error_body`."""
    body = error_body(category, message, **extra)
    all_headers = {"X-HubSpot-Correlation-Id": body["correlationId"], **(headers or {})}
    return json_response(body, status, headers=all_headers)


class ApiError(Exception):
    """A call-level refusal; the endpoint pipeline renders it with :func:`error_response`."""

    def __init__(self, status: int, category: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.category, self.message, self.extra = status, category, message, extra

    def response(self) -> Response:
        return error_response(self.status, self.category, self.message, **self.extra)
