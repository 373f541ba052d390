"""The HubSpot CRM calls this connector makes, on top of the SDK's :class:`HttpClient`.

Vendor behaviour relied on: ``Authorization: Bearer`` with the private app's static token
[C: spec securitySchemes]; ``POST /crm/v3/objects/{type}/search`` with filterGroups, one sort
and ``limit`` up to 200 [C: spec; S: the 200]; batch read/create/update/upsert of at most 100
inputs answering 200/201 or 207 [C: spec; S: the 100]; associations v4 batch read
[C: spec]; property definitions from ``/crm/v3/properties/{type}`` [C: spec].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from connectors.hubspot.errors import HubSpotClassifier
from connectors.sdk import HttpClient, Ledger, ProtocolError, RetryPolicy, Secret, reveal
from connectors.sdk.limits import AccountLimiter

__all__ = ["BATCH_LIMIT", "HubSpotApi"]

BATCH_LIMIT = 100


class _Bearer(httpx.Auth):
    """The static private-app token; its repr never shows it."""

    def __init__(self, token: Secret):
        self._token = token

    def __repr__(self) -> str:
        return "_Bearer(token='**********')"

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {reveal(self._token)}"
        yield request


class HubSpotApi:
    """Typed calls to one HubSpot portal.

    Args:
        base_url: ``https://api.hubapi.com`` or the sandbox.
        token: The private app's access token.
        connection: Connection name, for the ledger.
        limiter: The portal's shared limiter.
        ledger: Where every call is recorded.
        classifier: Response classifier.
        timeout_s: Per-request timeout.
        retry: Per-request retry policy.
        verify: TLS verification (a CA bundle path to trust in addition).
    """

    def __init__(self, *, base_url: str, token: Secret, connection: str,
                 limiter: AccountLimiter | None, ledger: Ledger | None,
                 classifier: HubSpotClassifier, timeout_s: float, retry: RetryPolicy,
                 verify: bool | str = True):
        self.http = HttpClient(base_url=base_url.rstrip("/"), connection=connection,
                               classify=classifier, auth=_Bearer(token), limiter=limiter,
                               ledger=ledger, verify=verify, timeout_s=timeout_s, retry=retry)

    def __repr__(self) -> str:
        return f"HubSpotApi({self.http!r})"

    def close(self) -> None:
        self.http.close()

    def properties(self, obj: str) -> list[dict[str, Any]]:
        """The property definitions of an object type."""
        body = self.http.json("GET", f"/crm/v3/properties/{obj}", kind="read")
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise ProtocolError(f"HubSpot properties of {obj}: no results list")
        return [p for p in results if isinstance(p, dict) and isinstance(p.get("name"), str)]

    def search(self, obj: str, filters: list[dict[str, Any]], sort: str,
               properties: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """The first page of one search (one filter group, ascending by ``sort``)."""
        body = self.http.json(
            "POST", f"/crm/v3/objects/{obj}/search", kind="read", idempotent=True,
            json={"filterGroups": [{"filters": filters}],
                  "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
                  "properties": list(properties), "limit": limit})
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise ProtocolError(f"HubSpot search of {obj}: no results list")
        return [r for r in results if isinstance(r, dict)]

    def batch(self, obj: str, op: str, payload: dict[str, Any], *,
              idempotent: bool) -> dict[str, Any]:
        """One batch call (read, create, update, upsert); the 200/201/207 body."""
        kind = "read" if op == "read" else "write"
        body = self.http.json("POST", f"/crm/v3/objects/{obj}/batch/{op}", kind=kind,
                              idempotent=idempotent, json=payload)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise ProtocolError(f"HubSpot batch {op} of {obj}: no results list")
        return body

    def associated(self, obj: str, to: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """``{id: [associated ids]}`` through the v4 batch read, 100 ids a call."""
        out: dict[str, list[str]] = {i: [] for i in ids}
        for start in range(0, len(ids), BATCH_LIMIT):
            chunk = ids[start:start + BATCH_LIMIT]
            body = self.http.json("POST", f"/crm/v4/associations/{obj}/{to}/batch/read",
                                  kind="read", idempotent=True,
                                  json={"inputs": [{"id": i} for i in chunk]})
            for result in (body.get("results") or []) if isinstance(body, dict) else []:
                source = str((result.get("from") or {}).get("id", ""))
                if source in out:
                    out[source] = sorted({str(t.get("toObjectId")) for t in result.get("to")
                                          or []}, key=lambda v: (len(v), v))
        return out
