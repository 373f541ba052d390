"""Error rules: a response's status and/or body code → an action, in Airbyte's vocabulary.

Rules are tried in file order; the first that matches decides:

* ``retry``: transient (:class:`VendorUnavailableError`), retried by the HTTP helper;
* ``rate_limited``: :class:`RateLimitedError`, waiting ``Retry-After`` (or ``retry_after_s``);
* ``refresh_token``: :class:`TokenExpiredError` (the auth fetches a new token);
* ``fail``: raised at once as the ``error`` named (configuration, authentication, permission,
  quota, protocol);
* ``ignore``: the response is used as if it were fine (a 404 on an empty search).

When no rule matches, the SDK's status defaults apply (429, 401, 403, 5xx). A body the
decoder cannot read is a retriable error (a body cut off mid-way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jmespath

from connectors.declarative.codecs import DecodeError, Decoder
from connectors.sdk.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    ProtocolError,
    QuotaExhaustedError,
    RateLimitedError,
    TokenExpiredError,
    VendorUnavailableError,
)
from connectors.sdk.http import default_classify, parse_retry_after

__all__ = ["ErrorRule", "RuleClassifier"]

_FAIL: dict[str, type[ConnectorError]] = {
    "configuration": ConfigurationError, "authentication": AuthenticationError,
    "permission": AccessDeniedError, "quota": QuotaExhaustedError, "protocol": ProtocolError,
}


@dataclass(frozen=True)
class ErrorRule:
    """One ``errors:`` entry of a connector file."""

    action: str
    status: int | tuple[int, ...] | str | None = None
    body_path: str | None = None
    equals: Any = None
    has_equals: bool = False
    one_of: tuple[Any, ...] | None = None
    kind: str = "any"
    error: str = "protocol"
    retry_after_s: float | None = None
    message: str | None = None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> ErrorRule:
        status = spec.get("status")
        return cls(
            action=str(spec["action"]),
            status=tuple(status) if isinstance(status, list) else status,
            body_path=spec.get("body_path"), equals=spec.get("equals"),
            has_equals="equals" in spec,
            one_of=tuple(spec["in"]) if "in" in spec else None,
            kind=str(spec.get("kind", "any")), error=str(spec.get("error", "protocol")),
            retry_after_s=spec.get("retry_after_s"), message=spec.get("message"))

    def _status_matches(self, status: int) -> bool:
        if self.status is None:
            return True
        if isinstance(self.status, int):
            return status == self.status
        if isinstance(self.status, tuple):
            return status in self.status
        return str(status)[0] == self.status[0]

    def matches(self, status: int, kind: str, body: Any) -> tuple[bool, str | None]:
        """Whether the rule applies, and the body code it matched (for the error)."""
        if self.kind != "any" and self.kind != kind:
            return False, None
        if not self._status_matches(status):
            return False, None
        if self.body_path is None:
            return True, None
        found = jmespath.search(self.body_path, body)
        if self.has_equals:
            hit = found == self.equals or (found is not None and str(found) == str(self.equals))
        elif self.one_of is not None:
            hit = found in self.one_of or str(found) in {str(v) for v in self.one_of}
        else:
            hit = found not in (None, False, "", [], {})
        return hit, (None if found is None or isinstance(found, (dict, list)) else str(found))


class RuleClassifier:
    """The ``classify`` function for :class:`~connectors.sdk.HttpClient`.

    Args:
        rules: The file's rules, in order.
        decoder: Reads bodies for ``body_path`` rules.
        name: Connector name, for messages.
    """

    def __init__(self, rules: Sequence[ErrorRule], decoder: Decoder, name: str) -> None:
        self.rules = list(rules)
        self.decoder = decoder
        self.name = name

    def __call__(self, response: httpx.Response) -> ConnectorError | None:
        status = response.status_code
        path = response.request.url.path
        kind = str(response.request.extensions.get("renkei_kind", "read"))
        body: Any = None
        if status < 500:
            try:
                body = self.decoder.decode(response.content)
            except DecodeError as exc:
                return VendorUnavailableError(f"{self.name} {path}: the body cannot be read "
                                              f"({exc}); cut off?", status=status)
        for rule in self.rules:
            hit, code = rule.matches(status, kind, body)
            if hit:
                return self._error(rule, response, path, code)
        return default_classify(response)

    def _error(self, rule: ErrorRule, response: httpx.Response, path: str,
               code: str | None) -> ConnectorError | None:
        status = response.status_code
        message = f"{self.name} {path}: {rule.message or rule.action.replace('_', ' ')}"
        if rule.action == "ignore":
            return None
        if rule.action == "retry":
            return VendorUnavailableError(message, vendor_code=code, status=status)
        if rule.action == "rate_limited":
            wait = parse_retry_after(response.headers.get("Retry-After"))
            return RateLimitedError(message, retry_after=wait if wait is not None
                                    else rule.retry_after_s, vendor_code=code, status=status)
        if rule.action == "refresh_token":
            return TokenExpiredError(message, vendor_code=code, status=status)
        return _FAIL.get(rule.error, ProtocolError)(message, vendor_code=code, status=status)
