"""The kintone REST calls this connector makes, on top of the SDK's :class:`HttpClient`.

Vendor behaviour relied on (REFERENCE.md §3; cybozu.dev / kintone.dev REST API pages):

* Auth by ``X-Cybozu-API-Token`` (one token, or several comma-joined: kintone picks the one
  of the app the request is about) or ``X-Cybozu-Authorization: base64(login:password)``;
  API tokens never expire, so there is no token endpoint [C].
* ``GET /k/v1/records.json`` with ``app``, ``query`` (``... order by ... limit 500``) and
  ``fields[i]``; a URL over ~4 KB goes as ``POST`` with ``X-HTTP-Method-Override: GET`` and
  a JSON body (the js-sdk does this) [C].
* Cursor: ``POST /k/v1/records/cursor.json {app, query, size<=500}`` → ``{id}``;
  ``GET ...?id=`` → ``{records, next}``; ``DELETE {id}``; kintone frees a cursor read to
  the end; 10 cursors per domain, each expires 10 min after its last use [C].
* ``POST /k/v1/records.json`` (≤100) → ``{ids, revisions}``; ``PUT /k/v1/records.json``
  (≤100) with ``id`` or ``updateKey``, ``revision`` (-1: no check) and ``upsert`` →
  ``{records: [{id, revision, operation?}]}``; all-or-nothing [C].
* Limits: 10,000 requests per app per day; 100 concurrent requests per domain, over which
  kintone answers 429 GAIA_TO04 for the whole domain [S].

Reads also give the server's clock, from the ``Date`` header of their response: HTTP
requires one of an origin server with a clock (RFC 9110 §6.6.1); kintone's docs say
nothing of it, nor that 更新日時 is stamped by that clock [U]. :mod:`.reading` compares the
two, and without a readable header simply assumes nothing.

Every app gets its own :class:`HttpClient` whose limiter holds one slot of the domain's
shared concurrency limiter *and* one request of that app's daily budget, so both are
counted per attempt (retries included), by every connector instance in the process.
"""

from __future__ import annotations

import base64
import email.utils
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.kintone.errors import KintoneClassifier
from connectors.sdk import (
    AccountLimiter,
    HttpClient,
    Ledger,
    ProtocolError,
    RatePolicy,
    RetryPolicy,
    Secret,
    limiter_for,
    reveal,
)

__all__ = ["MAX_READ", "MAX_WRITE", "URL_BUDGET", "KintoneApi", "KintoneAuth", "server_time"]

MAX_READ = 500
MAX_WRITE = 100
URL_BUDGET = 4000
"""Above this many characters of path + query, a GET goes as POST + method override."""


def server_time(response: httpx.Response) -> datetime | None:
    """The server's clock when it answered: its one ``Date`` header (an HTTP-date).

    None when the header is missing, repeated or unreadable: the caller must then assume
    nothing about the server's time.
    """
    values = response.headers.get_list("date")
    if len(values) != 1:
        return None
    try:
        when = email.utils.parsedate_to_datetime(values[0])
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class KintoneAuth(httpx.Auth):
    """Adds kintone's auth header to every request; its repr never shows the secret.

    Args:
        api_token: One API token, or several comma-joined.
        login: Login name for password authentication (with ``password``).
        password: The password.
    """

    def __init__(self, *, api_token: Secret | None = None, login: str | None = None,
                 password: Secret | None = None):
        if api_token is not None and reveal(api_token):
            tokens = ",".join(t.strip() for t in reveal(api_token).split(",") if t.strip())
            self._header = ("X-Cybozu-API-Token", Secret(tokens))
        elif login and password is not None:
            pair = f"{login}:{reveal(password)}".encode()
            self._header = ("X-Cybozu-Authorization",
                            Secret(base64.b64encode(pair).decode("ascii")))
        else:
            raise ValueError("kintone auth needs api_token, or login and password")

    def __repr__(self) -> str:
        return f"KintoneAuth({self._header[0]}=**********)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header[0]] = reveal(self._header[1])
        yield request


class _AppLimiter(AccountLimiter):
    """One slot of an app's daily budget inside one slot of the domain's limiter."""

    def __init__(self, domain: AccountLimiter, app: AccountLimiter):
        super().__init__(RatePolicy())
        self.domain = domain
        self.app = app

    @contextmanager
    def slot(self) -> Iterator[None]:
        # The app's budget first: a spent budget must not hold a domain slot while it raises.
        with self.app.slot(), self.domain.slot():
            yield

    def back_off(self, seconds: float) -> None:
        self.domain.back_off(seconds)  # GAIA_TO04 is about the whole domain


class KintoneApi:
    """Typed calls to one kintone domain.

    Args:
        base_url: ``https://{subdomain}.cybozu.com`` (or the emulator's URL).
        auth: The auth header provider.
        connection: Connection name, for the ledger.
        ledger: Where every call is recorded.
        classifier: Response classifier.
        concurrency: Requests in flight at once from this process to the domain.
        daily_quota: Requests per app per day this hub may spend (0: no cap).
        timeout_s: Per-request timeout.
        retry: Per-request retry policy.
        verify: TLS verification (a CA bundle path to trust in addition).
    """

    def __init__(self, *, base_url: str, auth: KintoneAuth, connection: str,
                 ledger: Ledger | None, classifier: KintoneClassifier, concurrency: int,
                 daily_quota: int, timeout_s: float, retry: RetryPolicy,
                 verify: bool | str = True):
        self.base_url = base_url.rstrip("/")
        self.domain = httpx.URL(self.base_url).netloc.decode("ascii")
        self._auth = auth
        self._connection = connection
        self._ledger = ledger
        self._classifier = classifier
        self._daily_quota = daily_quota
        self._timeout_s = timeout_s
        self._retry = retry
        self._verify = verify
        self.domain_limiter = limiter_for(f"kintone:{self.domain}",
                                          RatePolicy(concurrency=concurrency))
        self._clients: dict[int, HttpClient] = {}

    def __repr__(self) -> str:
        return f"KintoneApi(base_url={self.base_url!r})"

    def budget(self, app: int) -> AccountLimiter:
        """The shared daily-budget limiter of one app."""
        return limiter_for(f"kintone:{self.domain}:app:{app}",
                           RatePolicy(daily_quota=self._daily_quota))

    def http(self, app: int) -> HttpClient:
        """The HTTP client of one app (created on first use)."""
        client = self._clients.get(app)
        if client is None:
            client = self._clients[app] = HttpClient(
                base_url=self.base_url, connection=self._connection,
                classify=self._classifier, auth=self._auth,
                limiter=_AppLimiter(self.domain_limiter, self.budget(app)),
                ledger=self._ledger, verify=self._verify, timeout_s=self._timeout_s,
                retry=self._retry)
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    # -- metadata ---------------------------------------------------------------------------
    def app(self, app: int) -> dict[str, Any]:
        """``GET /k/v1/app.json``: the app's name and space (the cheapest authenticated call)."""
        return _object(self.http(app).json("GET", "/k/v1/app.json", params={"id": app}),
                       "app.json")

    def form_fields(self, app: int) -> dict[str, Any]:
        """``GET /k/v1/app/form/fields.json``: every field's type, options and flags."""
        body = _object(self.http(app).json("GET", "/k/v1/app/form/fields.json",
                                           params={"app": app}), "form/fields.json")
        if not isinstance(body.get("properties"), Mapping):
            raise ProtocolError(f"kintone form/fields.json (app {app}) answered no properties")
        return body

    # -- reading ----------------------------------------------------------------------------
    def records(self, app: int, query: str, fields: Sequence[str] = ()) -> list[dict[str, Any]]:
        """``GET /k/v1/records.json`` (at most 500 records: the query must say ``limit``)."""
        return self.read_records(app, query, fields)[0]

    def read_records(self, app: int, query: str, fields: Sequence[str] = ()
                     ) -> tuple[list[dict[str, Any]], datetime | None]:
        """:meth:`records` and the server's time of the answer (:func:`server_time`)."""
        params: dict[str, Any] = {"app": app, "query": query}
        params.update({f"fields[{i}]": f for i, f in enumerate(fields)})
        http = self.http(app)
        if len("/k/v1/records.json?" + urlencode(params)) > URL_BUDGET:
            args: dict[str, Any] = {
                "headers": {"X-HTTP-Method-Override": "GET"},
                "json": {"app": app, "query": query, **({"fields": list(fields)} if fields else {})}}
            method = "POST"
        else:
            args, method = {"params": params}, "GET"
        response, body = http.exchange(method, "/k/v1/records.json", kind="read",
                                       idempotent=True, **args)
        return _records(body, "records.json"), server_time(response)

    def create_cursor(self, app: int, query: str, size: int) -> tuple[str, datetime | None]:
        """``POST /k/v1/records/cursor.json``: a cursor over every record the query matches,
        and the server's time of its creation (:func:`server_time`)."""
        # not resent once answered (a POST): a cursor may have been opened
        response, answer = self.http(app).exchange(
            "POST", "/k/v1/records/cursor.json", kind="read",
            json={"app": app, "query": query, "size": size})
        body = _object(answer, "records/cursor.json")
        cursor = body.get("id")
        if not isinstance(cursor, str) or not cursor:
            raise ProtocolError("kintone records/cursor.json answered no cursor id")
        return cursor, server_time(response)

    def cursor_page(self, app: int, cursor: str) -> tuple[list[dict[str, Any]], bool]:
        """``GET /k/v1/records/cursor.json``: the next records and whether more remain."""
        body = self.http(app).json("GET", "/k/v1/records/cursor.json", kind="read",
                                   params={"id": cursor})
        return _records(body, "records/cursor.json"), bool(_object(body, "cursor").get("next"))

    def delete_cursor(self, app: int, cursor: str) -> None:
        """``DELETE /k/v1/records/cursor.json``: free a cursor before it is read to the end."""
        self.http(app).request("DELETE", "/k/v1/records/cursor.json", kind="read",
                               json={"id": cursor})

    # -- writing ----------------------------------------------------------------------------
    def add_records(self, app: int, records: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """``POST /k/v1/records.json``: ``(id, revision)`` per record, in order.

        Not resent after a timeout: kintone may have stored the records, and a resend would
        duplicate them. Creates with a hub reference go through :meth:`update_records`
        with ``upsert`` instead, which is safe to resend.
        """
        body = _object(self.http(app).json("POST", "/k/v1/records.json", kind="write",
                                           json={"app": app, "records": records}),
                       "records.json")
        ids, revisions = body.get("ids"), body.get("revisions")
        if not (isinstance(ids, list) and isinstance(revisions, list)
                and len(ids) == len(revisions) == len(records)):
            raise ProtocolError(f"kintone POST records.json: {len(records)} records sent, "
                                "ids/revisions missing or of another length")
        return [(str(i), str(r)) for i, r in zip(ids, revisions)]

    def update_records(self, app: int, records: list[dict[str, Any]], *, upsert: bool
                       ) -> list[dict[str, Any]]:
        """``PUT /k/v1/records.json``: ``{id, revision, operation?}`` per record, in order."""
        body = self.http(app).json("PUT", "/k/v1/records.json", kind="write",
                                   json={"app": app, "upsert": upsert, "records": records})
        answer = _object(body, "records.json").get("records")
        if not isinstance(answer, list) or len(answer) != len(records):
            raise ProtocolError(f"kintone PUT records.json: {len(records)} records sent, "
                                f"{len(answer) if isinstance(answer, list) else 'no'} "
                                "results received")
        return [a if isinstance(a, dict) else {} for a in answer]


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ProtocolError(f"kintone {what} answered {type(body).__name__}, not an object")
    return body


def _records(body: Any, what: str) -> list[dict[str, Any]]:
    records = _object(body, what).get("records")
    if not isinstance(records, list):
        raise ProtocolError(f"kintone {what} answered no records list")
    return [r for r in records if isinstance(r, dict)]
