"""The Marketo REST calls this connector makes, on top of the SDK's :class:`HttpClient`.

Vendor behaviour relied on (``AdobeDocs/marketo-developer.en`` ``help/rest-api``):

* Identity: ``/identity/oauth/token`` with ``grant_type=client_credentials``; the same token
  comes back with its remaining life until it expires, so refreshing early buys nothing:
  a token is fetched when none is held or the held one has expired by our clock, and again
  when a call answers 601/602 (``authentication.md``) [C]. The credentials travel in a form
  body, never in a URL, so no access log or proxy ever sees the secret (Identity is a
  standard OAuth2 token endpoint; form parameters are accepted [S]).
* Get Leads by Filter Type with ``filterType=id``, up to 300 values; a URI over 8 KB must be
  sent as ``POST`` with ``_method=GET`` and a form body (``leads.md``, ``error-codes.md``) [C].
* Paging token from ``sinceDatetime``, then Get Lead Changes, Get Deleted Leads and Get Lead
  Activities (``activityTypeIds``, up to ten), which always return ``nextPageToken`` and
  ``moreResult`` (``paging-tokens.md``, ``activities.md``) [C].
* Sync Leads: ``action``, ``lookupField``, up to 300 records, results in input order
  (``leads.md``) [C].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.marketo.errors import TOKEN_CODES, MarketoClassifier, vendor_error
from connectors.sdk import (
    AuthenticationError,
    HttpClient,
    Ledger,
    ProtocolError,
    RetryPolicy,
    Secret,
    TokenAuth,
    VendorUnavailableError,
    json_body,
    reveal,
)
from connectors.sdk.limits import AccountLimiter

__all__ = ["URI_BUDGET", "MarketoApi", "batch_results"]

URI_BUDGET = 7000
"""Above this many bytes of path + query, a GET goes as ``POST _method=GET`` (limit 8 KB)."""


def _is_expired(response: httpx.Response) -> bool:
    if response.status_code != 200 or not response.content.startswith(b"{"):
        return False
    try:
        failure = vendor_error(json_body(response))
    except ValueError:
        return False
    return failure is not None and failure[0] in TOKEN_CODES


def _parse_token(response: httpx.Response) -> tuple[str, float]:
    if response.status_code in (400, 401, 403):
        raise AuthenticationError("Marketo Identity refused the client id or secret",
                                  status=response.status_code)
    if response.status_code >= 500:
        raise VendorUnavailableError("Marketo Identity is unavailable", status=response.status_code)
    try:
        data = response.json()
        token, lifetime = str(data["access_token"]), float(data["expires_in"])
    except (ValueError, KeyError, TypeError):
        raise ProtocolError("Marketo Identity answered without an access token",
                            status=response.status_code) from None
    return token, max(lifetime, 0.0)


def batch_results(body: Any, sent: int, what: str) -> list[Any]:
    """The ``result`` list of a batch write: one item per input, in order.

    Raises:
        ProtocolError: the vendor answered a different number of results (or none).
    """
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list) or len(result) != sent:
        raise ProtocolError(f"Marketo {what}: {sent} sent, "
                            f"{len(result) if isinstance(result, list) else 'no'} results received")
    return result


class MarketoApi:
    """Typed calls to one Marketo instance.

    Args:
        base_url: ``https://{munchkin}.mktorest.com`` (without ``/rest``).
        client_id: The custom service's client id.
        client_secret: Its secret.
        connection: Connection name, for the ledger.
        limiter: The account's shared limiter.
        ledger: Where every call is recorded.
        classifier: Response classifier (knows the rate window).
        timeout_s: Per-request timeout.
        retry: Per-request retry policy.
        verify: TLS verification (a CA bundle path to trust in addition).
    """

    def __init__(self, *, base_url: str, client_id: str, client_secret: Secret | str,
                 connection: str, limiter: AccountLimiter | None, ledger: Ledger | None,
                 classifier: MarketoClassifier, timeout_s: float, retry: RetryPolicy,
                 verify: bool | str = True):
        root = base_url.rstrip("/")
        token_url = f"{root}/identity/oauth/token"
        secret = client_secret if isinstance(client_secret, Secret) else Secret(client_secret)

        def token_request() -> httpx.Request:
            return httpx.Request("POST", token_url, data={
                "grant_type": "client_credentials", "client_id": client_id,
                "client_secret": reveal(secret)})

        self.classifier = classifier
        self.auth = TokenAuth(token_request, _parse_token, _is_expired, refresh_margin_s=0.0)
        self.http = HttpClient(base_url=root, connection=connection, classify=classifier,
                               auth=self.auth, limiter=limiter, ledger=ledger, verify=verify,
                               timeout_s=timeout_s, retry=retry)

    def __repr__(self) -> str:
        return f"MarketoApi({self.http!r})"

    def close(self) -> None:
        self.http.close()

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        query = urlencode(params)
        if len(path) + len(query) + 1 > URI_BUDGET:
            body = self.http.json("POST", path, kind="read", idempotent=True,
                                  data={**params, "_method": "GET"})
        else:
            body = self.http.json("GET", path, kind="read", params=params)
        if not isinstance(body, dict) or body.get("success") is not True:
            raise ProtocolError(f"Marketo {path}: answer without success:true")
        return body

    def describe_leads(self) -> list[dict[str, Any]]:
        """Describe Leads: every lead field with its type, length and read-only flag."""
        result = self._get("/rest/v1/leads/describe.json", {}).get("result")
        if not isinstance(result, list):
            raise ProtocolError("Marketo describe: no result list")
        return result

    def paging_token(self, since_iso: str) -> str:
        """A date-based paging token for activities at or after ``since_iso``."""
        body = self._get("/rest/v1/activities/pagingtoken.json", {"sinceDatetime": since_iso})
        token = body.get("nextPageToken")
        if not isinstance(token, str):
            raise ProtocolError("Marketo pagingtoken: no nextPageToken")
        return token

    def _activity_page(self, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], str, bool]:
        body = self._get(path, params)
        token = body.get("nextPageToken")
        if not isinstance(token, str):
            raise ProtocolError(f"Marketo {path}: no nextPageToken")
        result = body.get("result") or []  # absent on an empty page
        return [a for a in result if isinstance(a, dict)], token, bool(body.get("moreResult"))

    def lead_changes(self, token: str, fields: Sequence[str], batch_size: int,
                     ) -> tuple[list[dict[str, Any]], str, bool]:
        """One page of New Lead / Change Data Value activities: ``(items, next, more)``."""
        return self._activity_page("/rest/v1/activities/leadchanges.json", {
            "nextPageToken": token, "fields": ",".join(fields), "batchSize": batch_size})

    def activities(self, token: str, type_ids: Sequence[int], batch_size: int,
                   ) -> tuple[list[dict[str, Any]], str, bool]:
        """One page of Get Lead Activities of up to ten types: ``(items, next, more)``."""
        return self._activity_page("/rest/v1/activities.json", {
            "nextPageToken": token, "activityTypeIds": ",".join(map(str, type_ids)),
            "batchSize": batch_size})

    def deleted_leads(self, token: str, batch_size: int) -> tuple[list[dict[str, Any]], str, bool]:
        """One page of Delete Lead activities: ``(items, next, more)``."""
        return self._activity_page("/rest/v1/activities/deletedleads.json", {
            "nextPageToken": token, "batchSize": batch_size})

    def leads_by_id(self, ids: Sequence[int], fields: Sequence[str]) -> list[dict[str, Any]]:
        """Leads by id (at most 300 ids), following ``nextPageToken`` if the vendor pages."""
        params: dict[str, Any] = {"filterType": "id", "filterValues": ",".join(map(str, ids)),
                                  "fields": ",".join(fields), "batchSize": 300}
        out: list[dict[str, Any]] = []
        while True:
            body = self._get("/rest/v1/leads.json", params)
            out.extend(r for r in body.get("result") or [] if isinstance(r, dict))
            token = body.get("nextPageToken")
            if not body.get("moreResult") or not token:
                return out
            params["nextPageToken"] = token

    def sync_leads(self, action: str, lookup_field: str, records: list[dict[str, Any]],
                   ) -> list[dict[str, Any]]:
        """Sync Leads; one result per record, in order.

        Raises:
            ProtocolError: the vendor answered a different number of results.
        """
        body = self.http.json(
            "POST", "/rest/v1/leads.json", kind="write",
            # An update by id is safe to resend; an upsert by email that timed out may still
            # be running, and a resend could then create a duplicate (``leads.md``).
            idempotent=(action == "updateOnly"),
            json={"action": action, "lookupField": lookup_field, "input": records})
        return batch_results(body, len(records), "sync leads")
