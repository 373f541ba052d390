"""Authentication: API tokens (``X-Cybozu-API-Token``) and passwords (``X-Cybozu-Authorization``).

Errors [C: kintone/cli-kintone e2e features run against kintone; C: kintone.dev "API
Tokens" troubleshooting; S where marked]:

* no credentials → 401 CB_AU01 "ログインしてください。";
* a token no app generated → 400 (not 401) GAIA_IA02 "指定したAPIトークンは、アプリで生成
  されたトークンと異なります。";
* the same app's token twice → 400 GAIA_DA03;
* a valid token of another app → 403 GAIA_AP15 "APIトークンとアプリ(id: N)の組み合わせが正しく
  ありません。" [S: gusuku support article quoting kintone; C: kintone.dev names the error
  "The API token does not match the app"];
* wrong login or password → 401 CB_WA01 "ユーザーのパスワード認証に失敗しました。…".

Several tokens may be sent comma-joined; each is valid for its own app [C: js-sdk]. When
both headers come, the password wins [U]. Records written with a token are attributed to
the user ``Administrator`` [U]; with a password, to the login user.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sandbox.kintone.errors import KintoneError

__all__ = ["API_TOKENS", "LOGIN", "PASSWORD", "TOKEN_USER", "Caller", "authenticate"]

LOGIN = "renkei"
PASSWORD = "sandbox-kintone-password"
TOKEN_USER = "Administrator"


def _token(app_id: int) -> str:
    # kintone tokens are 40 characters of [A-Za-z0-9]; derived here so they never change.
    digest = hashlib.sha256(f"renkei-sandbox-kintone-app-{app_id}".encode()).digest()
    return base64.b64encode(digest).decode().replace("+", "").replace("/", "")[:40]


#: One API token per demo app (app id → token).
API_TOKENS: dict[int, str] = {app_id: _token(app_id) for app_id in (1, 2, 3, 4)}


@dataclass(frozen=True)
class Caller:
    """Who is calling: the user code records are stamped with, and the apps a token opens
    (``None`` for password auth, which opens every app)."""

    user: str
    token_apps: frozenset[int] | None

    def check_app(self, app_id: int) -> None:
        """Raise 403 GAIA_AP15 when the caller's tokens do not cover ``app_id``."""
        if self.token_apps is not None and app_id not in self.token_apps:
            raise KintoneError(
                403, "GAIA_AP15", f"APIトークンとアプリ(id: {app_id})の組み合わせが正しくありません。"
            )


def authenticate(headers: Mapping[str, str], tokens: Mapping[int, str],
                 login: str, password: str) -> Caller:
    """Authenticate a request from its headers (lower-cased names).

    Raises:
        KintoneError: CB_AU01, CB_WA01, GAIA_IA02 or GAIA_DA03 as described above.
    """
    basic = headers.get("x-cybozu-authorization")
    if basic:
        try:
            decoded = base64.b64decode(basic.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user, sep, secret = decoded.partition(":")
        if not sep or user != login or secret != password:
            raise KintoneError(
                401, "CB_WA01",
                "ユーザーのパスワード認証に失敗しました。「X-Cybozu-Authorization」ヘッダーの値が"
                "正しくありません。",
            )
        return Caller(login, None)
    raw = headers.get("x-cybozu-api-token")
    if raw:
        return Caller(TOKEN_USER, _token_apps(raw.split(","), tokens))
    raise KintoneError(401, "CB_AU01", "ログインしてください。")


def _token_apps(sent: Iterable[str], tokens: Mapping[int, str]) -> frozenset[int]:
    by_token = {token: app_id for app_id, token in tokens.items()}
    apps: list[int] = []
    for token in (t.strip() for t in sent):
        app_id = by_token.get(token)
        if app_id is None:
            raise KintoneError(
                400, "GAIA_IA02",
                "指定したAPIトークンは、アプリで生成されたトークンと異なります。アプリのAPIトークンの"
                "設定を確認してください。",
            )
        if app_id in apps:
            raise KintoneError(400, "GAIA_DA03", "同じアプリのAPIトークンを重複して指定できません。")
        apps.append(app_id)
    return frozenset(apps)
