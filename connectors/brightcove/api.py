"""Typed calls to Brightcove's OAuth, CMS and Analytics APIs over one :class:`HttpClient`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx

from connectors.brightcove.errors import BrightcoveClassifier, vendor_error
from connectors.sdk import (
    AuthenticationError,
    HttpClient,
    Ledger,
    ProtocolError,
    RetryPolicy,
    Secret,
    TokenAuth,
    VendorUnavailableError,
    reveal,
)

__all__ = ["BrightcoveApi"]


def _parse_token(response: httpx.Response) -> tuple[str, float]:
    if response.status_code in (400, 401, 403):
        code, message = vendor_error(response)
        raise AuthenticationError(f"Brightcove OAuth refused the client credentials: "
                                  f"{code or 'error'}: {message}", status=response.status_code,
                                  vendor_code=code)
    if response.status_code >= 400:
        raise VendorUnavailableError("Brightcove OAuth is unavailable",
                                     status=response.status_code)
    try:
        data = response.json()
        token, lifetime = str(data["access_token"]), float(data.get("expires_in", 300))
    except (ValueError, KeyError, TypeError):
        raise ProtocolError("Brightcove OAuth answered without an access token",
                            status=response.status_code) from None
    return token, max(lifetime, 0.0)


def _is_expired(response: httpx.Response) -> bool:
    return response.status_code == 401


class BrightcoveApi:
    """The calls renkei needs, with token refresh, retries and the ledger.

    Args:
        account_id: The Video Cloud account.
        client_id: The API credential's id.
        client_secret: Its secret.
        oauth_url: ``https://oauth.brightcove.com`` (or the sandbox).
        cms_url: ``https://cms.api.brightcove.com``.
        analytics_url: ``https://analytics.api.brightcove.com``.
        connection: Connection name, for the ledger.
        ledger: Where every call is recorded.
        timeout_s: Per-request timeout.
        retry: Per-request retry policy.
        verify: TLS verification (a CA bundle path to trust in addition).
    """

    def __init__(self, *, account_id: str, client_id: str, client_secret: Secret,
                 oauth_url: str, cms_url: str, analytics_url: str, connection: str,
                 ledger: Ledger | None, timeout_s: float, retry: RetryPolicy,
                 verify: bool | str = True) -> None:
        self.account_id = account_id
        token_url = f"{oauth_url.rstrip('/')}/v4/access_token"
        self._cms = f"{cms_url.rstrip('/')}/v1/accounts/{account_id}"

        def token_request() -> httpx.Request:
            basic = base64.b64encode(f"{client_id}:{reveal(client_secret)}".encode()).decode()
            return httpx.Request("POST", token_url, data={"grant_type": "client_credentials"},
                                 headers={"Authorization": f"Basic {basic}"})

        # Tokens live 5 minutes; refresh a little early so a page never starts on a dying one.
        self.auth = TokenAuth(token_request, _parse_token, _is_expired, refresh_margin_s=15.0)
        self.http = HttpClient(base_url=analytics_url.rstrip("/"), connection=connection,
                               classify=BrightcoveClassifier(), auth=self.auth, ledger=ledger,
                               verify=verify, timeout_s=timeout_s, retry=retry)

    def __repr__(self) -> str:
        return f"BrightcoveApi(account_id={self.account_id!r})"

    def close(self) -> None:
        self.http.close()

    def videos(self, *, limit: int = 1, offset: int = 0) -> list[dict[str, Any]]:
        """A page of CMS video objects, newest first."""
        body = self.http.json("GET", f"{self._cms}/videos",
                              params={"limit": limit, "offset": offset, "sort": "-updated_at"})
        if not isinstance(body, list):
            raise ProtocolError("Brightcove CMS /videos answered something other than a list")
        return [v for v in body if isinstance(v, dict)]

    def report(self, params: dict[str, str], *, page_size: int) -> Iterator[list[dict[str, Any]]]:
        """Every item of an Analytics ``/v1/data`` report, a page (``limit``/``offset``) at a time.

        Raises:
            ProtocolError: The answer lacks the ``item_count``/``items`` envelope.
        """
        offset = 0
        while True:
            body = self.http.json("GET", "/v1/data", params={
                "accounts": self.account_id, **params, "limit": str(page_size),
                "offset": str(offset)})
            items = body.get("items") if isinstance(body, dict) else None
            total = body.get("item_count") if isinstance(body, dict) else None
            if not isinstance(items, list) or not isinstance(total, int):
                raise ProtocolError("Brightcove /v1/data answered without item_count/items")
            yield [i for i in items if isinstance(i, dict)]
            offset += len(items)
            if not items or offset >= total:
                return
