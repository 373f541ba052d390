"""SMP's signed requests: the ``type: custom`` auth of ``smp.yaml``.

Every call carries ``api_key``, ``token`` and ``api_sig`` = HMAC-SHA1 (hex), keyed by the
secret key, of the ``name+value`` strings of all parameters sorted ascending (documented).
The token comes from the authentication call and lives one hour (documented); it is
fetched on first use and again when a call answers 401 about the token. The token call
signs the password instead of sending it (assumed: the guide's parameter list for
``authentication.get`` could not be read; a password in a URL would reach every log).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import xml.etree.ElementTree as ET
from collections.abc import Generator, Mapping
from typing import Any

import httpx

from connectors.declarative import BuildContext, DeclarativeAuth
from connectors.sdk import AuthenticationError, ProtocolError, reveal

__all__ = ["SmpSignatureAuth", "signature"]

_TOKEN_CODES = (b"INVALID_TOKEN", b"TOKEN_EXPIRED")


def signature(params: Mapping[str, str], secret_key: str) -> str:
    """``api_sig`` of a parameter set (``api_sig`` itself left out).

    Example:
        >>> len(signature({"api_key": "k", "token": "t"}, "s"))
        40
    """
    seed = "".join(sorted(f"{k}{v}" for k, v in params.items() if k != "api_sig"))
    return hmac.new(secret_key.encode(), seed.encode(), hashlib.sha1).hexdigest()


class SmpSignatureAuth(DeclarativeAuth):
    """Token + signature auth.

    Options:
        token_path: The authentication call, relative to the base URL
            (default ``/authentication``).
        lifetime_s: Token lifetime (default 3600, as documented).
        margin_s: Fetch a new token this long before it expires (default 60).

    Config keys used: ``api_key``, ``password``, ``secret_key`` (all secrets).
    """

    requires_response_body = True

    def __init__(self, options: Mapping[str, Any], context: BuildContext) -> None:
        super().__init__(options, context)
        self._url = context.base_url + str(options.get("token_path", "/authentication"))
        self._lifetime = float(options.get("lifetime_s", 3600))
        self._margin = float(options.get("margin_s", 60))
        self._token: str | None = None
        self._expires_at = 0.0

    def _secret(self, key: str) -> str:
        return reveal(self.context.config[key])

    def _sign(self, request: httpx.Request) -> None:
        params = dict(request.url.params)
        params.pop("api_sig", None)
        params.update(api_key=self._secret("api_key"), token=self._token or "")
        params["api_sig"] = signature(params, self._secret("secret_key"))
        request.url = request.url.copy_with(params=params)

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, None]:
        # The password is signed, never sent: a URL ends up in proxy and client logs.
        params = {"api_key": self._secret("api_key")}
        params["api_sig"] = signature({**params, "password": self._secret("password")},
                                      self._secret("secret_key"))
        token_request = httpx.Request("GET", self._url, params=params)
        token_request.extensions["renkei_kind"] = "auth"
        response = yield token_request
        if response.status_code in (400, 401, 403):
            raise AuthenticationError("SMP refused the API key, password or secret key",
                                      status=response.status_code)
        token = None
        try:
            token = ET.fromstring(response.content).findtext("Token")
        except ET.ParseError:
            pass
        if response.status_code >= 400 or not token:
            raise ProtocolError("SMP authentication answered without a token",
                                status=response.status_code)
        self._token = token
        self._expires_at = time.monotonic() + self._lifetime

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None or time.monotonic() > self._expires_at - self._margin:
            yield from self._fetch()
        self._sign(request)
        response = yield request
        if response.status_code == 401 and any(c in response.content for c in _TOKEN_CODES):
            yield from self._fetch()
            self._sign(request)
            yield request
