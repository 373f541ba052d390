"""A small well-behaved connector and, per conformance rule, a subclass that breaks it.

``GoodConnector`` passes every check; each ``Bad*`` class changes one thing, so a test can
show that exactly the check for that rule fails. The good data is chosen to trip naive
checks: two compound keys whose ``|``-joined strings collide, and a cursor that goes
backwards as a string while moving forward as an instant.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from connectors.sdk import (
    AuthenticationError,
    ConfigurationError,
    Connector,
    ConnectorContext,
    ConnectorError,
    Page,
    ProtocolError,
    QuotaExhaustedError,
    RetriableError,
    StreamSpec,
    VendorUnavailableError,
    WriteMode,
    WriteOp,
    WriteResult,
)
from connectors.sdk.ledger import ApiCall

GOOD_TOKEN = "fixture-token-5b8e2d"
STREAM = "accounts"
SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["region", "id", "updated"],
    "properties": {
        "region": {"type": "string"}, "id": {"type": "string"},
        "updated": {"type": "string"}, "name": {"type": "string"},
        "score": {"type": "integer"},
    },
}
ROWS: tuple[dict[str, Any], ...] = (
    {"region": "a", "id": "b|c", "updated": "2026-01-01T00:00:01Z", "name": "A", "score": 1},
    {"region": "a|b", "id": "c", "updated": "2026-01-01T00:00:02Z", "name": "B", "score": 2},
    {"region": "jp", "id": "1", "updated": "2026-01-01T00:00:03Z", "name": "C", "score": 3},
    {"region": "jp", "id": "2", "updated": "2026-01-01T05:00:00Z", "name": "D", "score": 4},
    # 05:00:01Z: smaller than the row before as a string, later as an instant.
    {"region": "jp", "id": "3", "updated": "2026-01-01T04:00:01-01:00", "name": "E", "score": 5},
    {"region": "us", "id": "1", "updated": "2026-01-01T06:00:00Z", "name": "F", "score": 6},
    {"region": "us", "id": "2", "updated": "2026-01-01T06:00:01Z", "name": "G", "score": 7},
    {"region": "us", "id": "3", "updated": "2026-01-01T06:00:02Z", "name": "H", "score": 8},
)

log = logging.getLogger("tests.conformance.fixture")


class GoodConnector(Connector):
    """Pages of ``page_size`` rows by offset; writes append or edit rows; one call per page."""

    name = "fixture"
    spec: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "required": ["api_token"],
        "additionalProperties": False,
        "properties": {
            "api_token": {"type": "string", "minLength": 1, "x-secret": True},
            "page_size": {"type": "integer", "minimum": 1, "default": 3},
            "primary_key_field": {"type": "string", "x-secret": False},
        },
    }
    rows: ClassVar[tuple[dict[str, Any], ...]] = ROWS

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        super().__init__(config, context=context)
        self.data = [dict(r) for r in self.rows]
        self.fail_next: list[Exception] = []
        self.received = 0
        """Calls the pretend vendor received (its own count, like ``/_sandbox/calls``)."""
        self._clock = 100

    def _call(self, method: str, path: str, status: int = 200) -> None:
        self.received += 1
        self._record(ApiCall(self.context.connection, method, path, status, 0.0))

    def _record(self, call: ApiCall) -> None:
        self.context.ledger.record(call)

    def _token(self) -> str:
        return str(self.config["api_token"].get())

    def streams(self) -> Sequence[StreamSpec]:
        return [StreamSpec(name=STREAM, schema=SCHEMA, primary_key=("region", "id"),
                           cursor_field="updated", write_batch_size=2,
                           write_modes=frozenset({WriteMode.CREATE, WriteMode.UPDATE}))]

    def check(self) -> None:
        self._call("GET", "/me", 200 if self._token() == GOOD_TOKEN else 401)
        if self._token() != GOOD_TOKEN:
            raise AuthenticationError("the API token was refused", status=401)

    def _fail(self) -> None:
        if self.fail_next:
            self._call("GET", f"/{STREAM}", 503)
            raise self.fail_next.pop(0)

    def page_state(self, offset: int, end: int) -> dict[str, Any]:
        return {"offset": end}

    def page_records(self, chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [dict(r) for r in chunk]

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        self.stream(stream)
        size = int(self.config.get("page_size", 3))
        offset = int((state or {}).get("offset", 0))
        while offset < len(self.data):
            self._fail()
            self._call("GET", f"/{stream}")
            chunk = self.data[offset:offset + size]
            end = offset + len(chunk)
            yield Page(records=self.page_records(chunk), state=self.page_state(offset, end))
            offset = end

    def _stamp(self) -> str:
        self._clock += 1
        return f"2026-01-02T00:{self._clock // 60:02d}:{self._clock % 60:02d}Z"

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        self.stream(stream)
        self._call("POST", f"/{stream}")
        results = []
        for op in ops:
            if op.mode is WriteMode.UPDATE and op.id is not None:
                region, rid = op.id.split("|", 1)
                row = next(r for r in self.data if (r["region"], r["id"]) == (region, rid))
                row.update(op.values, updated=self._stamp())
                self.data.remove(row)
                self.data.append(row)
                results.append(WriteResult.success(op.id))
            else:
                row = {**op.values, "region": "w", "id": str(len(self.data) + 1),
                       "updated": self._stamp()}
                self.data.append(row)
                results.append(WriteResult.success(f"w|{row['id']}", created=True))
        return results

    def fetch(self, stream: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        self._call("GET", f"/{stream}/batch")
        keys = {tuple(i.split("|", 1)) for i in ids}
        return [dict(r) for r in self.data if (r["region"], r["id"]) in keys]


def inject(connector: GoodConnector, error: Exception) -> Any:
    """An injector: the connector's next read call fails with ``error``."""
    return lambda: connector.fail_next.append(error)


# -- spec ------------------------------------------------------------------------------------

class BadUnmarkedSecret(GoodConnector):
    spec: ClassVar[Mapping[str, Any]] = {
        "type": "object", "required": ["api_token"],
        "properties": {"api_token": {"type": "string", "x-secret": True},
                       "auth": {"type": "object",
                                "properties": {"password": {"type": "string"}}}},
    }


class BadSchemaSpec(GoodConnector):
    spec: ClassVar[Mapping[str, Any]] = {
        "type": "object", "required": ["api_token"],
        "properties": {"api_token": {"type": "text", "x-secret": True}},
    }


# -- config ----------------------------------------------------------------------------------

class BadUnvalidatedConfig(GoodConnector):
    """Reads its config before validating it: a bad config is a KeyError traceback."""

    spec: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {"api_token": {"x-secret": True}, "page_size": {}},
    }

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        if not isinstance(config["api_token"], str):
            raise TypeError("api_token")
        super().__init__(config, context=context)


class BadVagueConfigError(GoodConnector):
    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        try:
            super().__init__(config, context=context)
        except ConfigurationError:
            raise ConfigurationError("invalid configuration") from None


# -- credentials -----------------------------------------------------------------------------

class BadCheckTrustsAnyone(GoodConnector):
    def check(self) -> None:
        self._call("GET", "/health")


class BadCheckCrashes(GoodConnector):
    def check(self) -> None:
        if self._token() != GOOD_TOKEN:
            raise KeyError("access_token")


class BadCheckShowsSecret(GoodConnector):
    def check(self) -> None:
        if self._token() != GOOD_TOKEN:
            raise AuthenticationError(f"token {self._token()} refused")


class BadCheckChainsSecret(GoodConnector):
    def check(self) -> None:
        try:
            {"good": 1}[self._token()]
        except KeyError:
            raise AuthenticationError("the API token was refused")  # chained on purpose: the leak


class RetriableAuthError(AuthenticationError, RetriableError):
    pass


class BadCheckRetriable(GoodConnector):
    def check(self) -> None:
        if self._token() != GOOD_TOKEN:
            raise RetriableAuthError("refused")


# -- records ---------------------------------------------------------------------------------

class BadSchemaInvalidRecord(GoodConnector):
    rows = (*ROWS[:4], {**ROWS[4], "score": "five"}, *ROWS[5:])


class BadDuplicateKey(GoodConnector):
    rows = (*ROWS[:5], {**ROWS[1], "updated": "2026-01-01T06:00:00Z"}, *ROWS[6:])


class BadNullKey(GoodConnector):
    rows = (*ROWS[:6], {**ROWS[6], "id": None}, *ROWS[7:])


class BadMissingKey(GoodConnector):
    rows = (*ROWS[:2], {k: v for k, v in ROWS[2].items() if k != "region"}, *ROWS[3:])


class BadCursorBackwards(GoodConnector):
    # 06:00+09:00 is 21:00Z the day before: forward as a string, backwards as an instant.
    rows = (*ROWS[:3], {**ROWS[3], "updated": "2026-01-01T06:00:00+09:00"}, *ROWS[4:])


class BadCursorMissing(GoodConnector):
    rows = (*ROWS[:7], {k: v for k, v in ROWS[7].items() if k != "updated"})


# -- state -----------------------------------------------------------------------------------

class BadSecondReadRepeats(GoodConnector):
    """Resumes at the start of the last page (an off-by-one in the saved offset)."""

    def page_state(self, offset: int, end: int) -> dict[str, Any]:
        return {"offset": offset if end >= len(self.data) else end}


class BadResumeRestarts(GoodConnector):
    """Each page's state points at its own start: a resume delivers that page again."""

    def page_state(self, offset: int, end: int) -> dict[str, Any]:
        return {"offset": end if end >= len(self.data) else offset}


class BadResumeSkips(GoodConnector):
    """Each page's state points one record too far: a resume loses a record."""

    def page_state(self, offset: int, end: int) -> dict[str, Any]:
        return {"offset": min(end + 1, len(self.data))}


# -- writes ----------------------------------------------------------------------------------

class BadWriteReversed(GoodConnector):
    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        return list(reversed(super().write(stream, ops)))


class BadWriteDropsResult(GoodConnector):
    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        return super().write(stream, ops)[:-1]


class BadWriteNoId(GoodConnector):
    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        return [WriteResult(ok=True) for _ in super().write(stream, ops)]


class BadUpdateReordered(GoodConnector):
    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        results = super().write(stream, ops)
        if ops and ops[0].mode is WriteMode.UPDATE:
            return list(reversed(results))
        return results


# -- error classification ---------------------------------------------------------------------

class BadRetriableAsFatal(GoodConnector):
    def _fail(self) -> None:
        try:
            super()._fail()
        except VendorUnavailableError as exc:
            raise ProtocolError(f"unexpected answer: {exc}") from None


class BadRetriableSwallowed(GoodConnector):
    """Drops the failure and reads nothing, leaving no trace in the ledger."""

    def _fail(self) -> None:
        if self.fail_next:
            self.fail_next.pop(0)


class BadPermanentAsRetriable(GoodConnector):
    def _fail(self) -> None:
        try:
            super()._fail()
        except QuotaExhaustedError as exc:
            raise VendorUnavailableError(str(exc)) from None


class BadPermanentRetried(GoodConnector):
    """Retries a quota error three times before giving up."""

    def _fail(self) -> None:
        if self.fail_next:
            error = self.fail_next.pop(0)
            for _ in range(3):
                self._call("GET", f"/{STREAM}", 429)
            raise error


class BadUnknownStreamIgnored(GoodConnector):
    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        if stream != STREAM:
            return iter(())
        return super().read(stream, state)


class BadUnknownStreamRetriable(GoodConnector):
    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        if stream != STREAM:
            raise VendorUnavailableError(f"404 for {stream}")
        return super().read(stream, state)


# -- secrets ---------------------------------------------------------------------------------

class BadLogsSecret(GoodConnector):
    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        log.debug("GET /%s Authorization: Bearer %s", stream, self._token())
        return super().read(stream, state)


class BadErrorShowsSecret(GoodConnector):
    def check(self) -> None:
        if self._token() != GOOD_TOKEN:
            raise ConnectorError(f"refused token {self._token()!r}")


class BadReprShowsSecret(GoodConnector):
    def __repr__(self) -> str:
        return f"BadReprShowsSecret(token={self._token()!r})"


# -- ledger ----------------------------------------------------------------------------------

class BadNoLedger(GoodConnector):
    def _record(self, call: ApiCall) -> None:
        return None


class BadLedgerWrongConnection(GoodConnector):
    def _record(self, call: ApiCall) -> None:
        self.context.ledger.record(ApiCall("default", call.method, call.path, call.status, 0.0))


class BadLedgerMissesAuth(GoodConnector):
    """Records reads but not the credential check: the vendor counts more calls."""

    def _record(self, call: ApiCall) -> None:
        if call.path != "/me":
            super()._record(call)
