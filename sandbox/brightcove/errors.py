"""Brightcove's error envelope: a JSON array of ``{error_code, message}``."""

from __future__ import annotations

import uuid

from starlette.responses import Response

from sandbox.core import json_response

__all__ = ["ApiError", "error_response"]


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> Response:
    """``[{"error_code", "message", "request_id"}]`` with the given status."""
    body = [{"error_code": code, "message": message, "request_id": str(uuid.uuid4())}]
    return json_response(body, status, headers=headers)


class ApiError(Exception):
    """A refusal; the route renders it with :func:`error_response`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message)
