"""Auth components: ``none``, ``api_key``, ``bearer``, ``basic``, ``oauth_client_credentials``.

Each builds an :class:`httpx.Auth`, so the token request of OAuth goes through the same
client (limiter, ledger) as every other call. A ``type: custom`` auth subclasses
:class:`DeclarativeAuth` (see ``connectors/smp/auth.py`` for a signed-request scheme).
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Mapping
from typing import Any

import httpx
import jmespath

from connectors.declarative.registry import BuildContext, base_class, component
from connectors.declarative.templates import render
from connectors.sdk.errors import AuthenticationError, ProtocolError
from connectors.sdk.http import TokenAuth

__all__ = ["DeclarativeAuth", "NoAuth"]


class DeclarativeAuth(httpx.Auth):
    """Base class of custom auth components: ``Class(options, context)``.

    Subclasses implement :meth:`httpx.Auth.auth_flow`; secrets come from
    ``context.config`` (wrapped in :class:`~connectors.sdk.Secret`).
    """

    def __init__(self, options: Mapping[str, Any], context: BuildContext) -> None:
        self.options = options
        self.context = context

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


base_class("auth", DeclarativeAuth)


class NoAuth(httpx.Auth):
    """Sends requests as they are."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield request


class _Header(httpx.Auth):
    def __init__(self, name: str, value: str) -> None:
        self._name, self._value = name, value

    def __repr__(self) -> str:
        return f"HeaderAuth({self._name!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._name] = self._value
        yield request


class _Query(httpx.Auth):
    def __init__(self, name: str, value: str) -> None:
        self._name, self._value = name, value

    def __repr__(self) -> str:
        return f"QueryAuth({self._name!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.url = request.url.copy_merge_params({self._name: self._value})
        yield request


def _secret(template: str, context: BuildContext) -> str:
    return str(render(template, {"config": context.config}, reveal=True) or "")


def _plain(template: str, context: BuildContext) -> str:
    return str(render(template, {"config": context.config}) or "")


@component("auth", "none")
def _none(spec: Mapping[str, Any], context: BuildContext) -> httpx.Auth:
    return NoAuth()


@component("auth", "api_key")
def _api_key(spec: Mapping[str, Any], context: BuildContext) -> httpx.Auth:
    name, value = str(spec["name"]), _secret(spec["value"], context)
    return _Query(name, value) if spec["in"] == "query" else _Header(name, value)


@component("auth", "bearer")
def _bearer(spec: Mapping[str, Any], context: BuildContext) -> httpx.Auth:
    return _Header("Authorization", f"Bearer {_secret(spec['token'], context)}")


@component("auth", "basic")
def _basic(spec: Mapping[str, Any], context: BuildContext) -> httpx.Auth:
    pair = f"{_plain(spec['username'], context)}:{_secret(spec['password'], context)}"
    return _Header("Authorization", "Basic " + base64.b64encode(pair.encode()).decode())


@component("auth", "oauth_client_credentials")
def _oauth(spec: Mapping[str, Any], context: BuildContext) -> httpx.Auth:
    token_url = _plain(spec["token_url"], context)
    client_id = _plain(spec["client_id"], context)
    secret = _secret(spec["client_secret"], context)
    scope = _plain(spec["scope"], context) if spec.get("scope") else None
    in_header = spec.get("credentials_in", "body") == "basic_header"
    token_path = jmespath.compile(spec.get("token_path", "access_token"))
    expires_path = jmespath.compile(spec.get("expires_in_path", "expires_in"))
    default_life = float(spec.get("default_expires_in_s", 3600))
    refresh_on = frozenset(spec.get("refresh_on_status", [401]))

    def token_request() -> httpx.Request:
        form = {"grant_type": "client_credentials"}
        headers = {}
        if scope:
            form["scope"] = scope
        if in_header:
            pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        else:
            form.update(client_id=client_id, client_secret=secret)
        return httpx.Request("POST", token_url, data=form, headers=headers)

    def parse_token(response: httpx.Response) -> tuple[str, float]:
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(f"token endpoint refused the client credentials "
                                      f"({context.where or 'auth'})", status=response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = None
        token = token_path.search(body) if isinstance(body, dict) else None
        if response.status_code >= 400 or not isinstance(token, str) or not token:
            raise ProtocolError("token endpoint answered without an access token",
                                status=response.status_code)
        life = expires_path.search(body)
        return token, float(life) if isinstance(life, (int, float)) else default_life

    return TokenAuth(token_request, parse_token, lambda r: r.status_code in refresh_on)
