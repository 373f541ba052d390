"""Every conformance check fails on a connector that breaks its rule (issue #7).

Singer SDK's key-uniqueness check compared generators and could never fail; here each check
meets a known-bad connector (tests/conformance/fixture_connectors.py) and must raise
ConformanceError with a message that names the rule, while the good fixture passes them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from connectors.sdk import (
    ConnectorContext,
    MemoryLedger,
    QuotaExhaustedError,
    VendorUnavailableError,
)
from connectors.sdk.conformance import ConformanceError, checks, read_all
from tests.conformance import fixture_connectors as fx

GOOD: Mapping[str, Any] = {"api_token": fx.GOOD_TOKEN, "page_size": 3}
BAD_CREDENTIALS: Mapping[str, Any] = {"api_token": "wrong-token-c41d", "page_size": 3}
SAMPLES = [{"name": "Write one", "score": 10}, {"name": "Write two", "score": 20},
           {"name": "Write three", "score": 30}]


def factory(cls: type[fx.GoodConnector]) -> Callable[[Mapping[str, Any]], fx.GoodConnector]:
    def make(config: Mapping[str, Any]) -> fx.GoodConnector:
        return cls(config, context=ConnectorContext("conformance-fixture", ledger=MemoryLedger()))
    return make


def connector(cls: type[fx.GoodConnector]) -> fx.GoodConnector:
    return factory(cls)(GOOD)


def run_every_check(cls: type[fx.GoodConnector]) -> None:
    make = factory(cls)
    checks.check_spec(cls)
    checks.check_bad_config_rejected(cls, make, GOOD)
    checks.check_good_credentials(make, GOOD)
    checks.check_bad_credentials(cls, make, BAD_CREDENTIALS, GOOD)
    c = make(GOOD)
    read = read_all(c, fx.STREAM)
    checks.check_has_records(read)
    checks.check_records_match_schema(read)
    checks.check_primary_keys(read)
    checks.check_cursor_monotonic(read)
    checks.check_second_read_empty(c, read)
    checks.check_resumable(c, read)
    checks.check_writes(make(GOOD), fx.STREAM, SAMPLES)
    c = make(GOOD)
    checks.check_retriable_failure(c, fx.STREAM, fx.inject(c, VendorUnavailableError("503")))
    c = make(GOOD)
    checks.check_permanent_failure(c, fx.STREAM, fx.inject(c, QuotaExhaustedError("quota")))
    checks.check_unknown_stream_is_permanent(make(GOOD))
    checks.check_no_secret_leaks(cls, make, GOOD, [fx.STREAM], BAD_CREDENTIALS)
    c = make(GOOD)
    checks.check_ledger_counts(c, fx.STREAM, lambda: c.received)


def test_the_good_fixture_passes_every_check() -> None:
    run_every_check(fx.GoodConnector)


def test_good_fixture_data_would_trip_naive_checks() -> None:
    # Guards the fixture itself: joined keys collide and one cursor string sorts backwards,
    # so only a tuple-key and instant-cursor implementation passes the good connector.
    spec = connector(fx.GoodConnector).stream(fx.STREAM)
    joined = [spec.record_id(r) for r in fx.ROWS]
    assert len(set(joined)) < len(joined)
    cursors = [r["updated"] for r in fx.ROWS]
    assert cursors != sorted(cursors)


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadUnmarkedSecret, r"auth\.password look\(s\) like a secret"),
    (fx.BadSchemaSpec, r"not a valid JSON Schema \(Draft 2020-12\) at properties/api_token"),
])
def test_spec_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    with pytest.raises(ConformanceError, match=message):
        checks.check_spec(cls)


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadUnvalidatedConfig, "declares no required and no typed properties"),
    (fx.BadVagueConfigError, "does not name the property 'api_token'"),
])
def test_config_validation_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    with pytest.raises(ConformanceError, match=message):
        checks.check_bad_config_rejected(cls, factory(cls), GOOD)


def test_config_validation_check_fails_on_a_traceback() -> None:
    cls = fx.BadUnvalidatedConfig
    typed = type("TypedButUnvalidated", (cls,), {"spec": {
        "type": "object", "properties": {"api_token": {"type": "string", "x-secret": True}}}})
    with pytest.raises(ConformanceError, match="raised TypeError instead of ConfigurationError"):
        checks.check_bad_config_rejected(typed, factory(typed), GOOD)


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadCheckTrustsAnyone, "passed with bad_credentials_config"),
    (fx.BadCheckCrashes, "raised KeyError .* not AuthenticationError"),
    (fx.BadCheckShowsSecret, "show a secret value"),
    (fx.BadCheckChainsSecret, "chained exceptions show a secret value"),
    (fx.BadCheckRetriable, "also a RetriableError"),
])
def test_bad_credentials_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    with pytest.raises(ConformanceError, match=message):
        checks.check_bad_credentials(cls, factory(cls), BAD_CREDENTIALS, GOOD)


def test_schema_check_fails_on_an_invalid_record_and_names_where() -> None:
    read = read_all(connector(fx.BadSchemaInvalidRecord), fx.STREAM)
    with pytest.raises(ConformanceError, match=r"page 1, record 1 .* field score fails type"):
        checks.check_records_match_schema(read)


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadDuplicateKey, (r"page 1, record 2 repeats primary key \(region, id\)=\('a\|b', "
                          r"'c'\) first seen on page 0, record 1")),
    (fx.BadNullKey, r"page 2, record 0 has primary-key field 'id' null"),
    (fx.BadMissingKey, r"page 0, record 2 has no primary-key field 'region'"),
])
def test_primary_key_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    with pytest.raises(ConformanceError, match=message):
        checks.check_primary_keys(read_all(connector(cls), fx.STREAM))


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadCursorBackwards, r"page 1, record 0: cursor 'updated' = .* goes back before page 0"),
    (fx.BadCursorMissing, r"page 2, record 1 has no value in cursor field 'updated'"),
])
def test_cursor_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    with pytest.raises(ConformanceError, match=message):
        checks.check_cursor_monotonic(read_all(connector(cls), fx.STREAM))


def test_second_read_check_fails_when_records_come_again() -> None:
    c = connector(fx.BadSecondReadRepeats)
    with pytest.raises(ConformanceError, match=r"second read from the saved state returned "
                                               r"2 record\(s\) again"):
        checks.check_second_read_empty(c, read_all(c, fx.STREAM))


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadResumeRestarts, (r"resuming from the state of page 0 returned \(region, id\)="
                            r"\('a', 'b\|c'\) again")),
    (fx.BadResumeSkips, r"resuming from the state of page 0 lost 1 record"),
])
def test_resume_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    c = connector(cls)
    with pytest.raises(ConformanceError, match=message):
        checks.check_resumable(c, read_all(c, fx.STREAM))


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadWriteReversed, r"result 0 has id 'w\|10', which holds the values of op 1"),
    (fx.BadWriteDropsResult, r"returned 1 result\(s\) for 2 op\(s\)"),
    (fx.BadWriteNoId, r"result 0 is ok but carries no id"),
    (fx.BadUpdateReordered, r"update result 0 has id 'w\|10' for op on 'w\|9'"),
])
def test_write_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    with pytest.raises(ConformanceError, match=message):
        checks.check_writes(connector(cls), fx.STREAM, SAMPLES)


def test_write_check_needs_distinct_samples() -> None:
    with pytest.raises(ConformanceError, match="at least two different records"):
        checks.check_writes(connector(fx.GoodConnector), fx.STREAM, [SAMPLES[0], SAMPLES[0]])


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadRetriableAsFatal, "raised ProtocolError"),
    (fx.BadRetriableSwallowed, "the failure was never seen"),
])
def test_retriable_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    c = connector(cls)
    with pytest.raises(ConformanceError, match=message):
        checks.check_retriable_failure(c, fx.STREAM, fx.inject(c, VendorUnavailableError("503")))


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadPermanentAsRetriable, "raised VendorUnavailableError, a RetriableError"),
    (fx.BadPermanentRetried, r"made 3 call\(s\) for a permanent failure .* it was retried"),
])
def test_permanent_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    c = connector(cls)
    with pytest.raises(ConformanceError, match=message):
        checks.check_permanent_failure(c, fx.STREAM, fx.inject(c, QuotaExhaustedError("quota")))


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadUnknownStreamIgnored, "did not fail"),
    (fx.BadUnknownStreamRetriable, "a RetriableError: an unknown stream never heals"),
])
def test_unknown_stream_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    with pytest.raises(ConformanceError, match=message):
        checks.check_unknown_stream_is_permanent(connector(cls))


@pytest.mark.parametrize(("cls", "message"), [
    (fx.BadLogsSecret, r"log record of logger 'tests.conformance.fixture' at DEBUG"),
    (fx.BadErrorShowsSecret, r"check\(\) with bad credentials: ConnectorError"),
    (fx.BadReprShowsSecret, r"shows in repr\(BadReprShowsSecret\)"),
])
def test_secret_leak_check_fails(cls: type[fx.GoodConnector], message: str) -> None:
    with pytest.raises(ConformanceError, match=message) as caught:
        checks.check_no_secret_leaks(cls, factory(cls), GOOD, [fx.STREAM], BAD_CREDENTIALS)
    assert fx.GOOD_TOKEN not in str(caught.value)
    assert BAD_CREDENTIALS["api_token"] not in str(caught.value)


def test_ledger_check_fails_without_calls_or_with_the_wrong_count() -> None:
    with pytest.raises(ConformanceError, match="recorded no call in the ledger"):
        checks.check_ledger_counts(connector(fx.BadNoLedger), fx.STREAM)
    with pytest.raises(ConformanceError, match=r"under connection\(s\) \['default'\]"):
        checks.check_ledger_counts(connector(fx.BadLedgerWrongConnection), fx.STREAM)
    c = connector(fx.BadLedgerMissesAuth)
    with pytest.raises(ConformanceError, match=r"counted 1 call\(s\) .* the vendor received 2"):
        checks.check_ledger_counts(c, fx.STREAM, lambda: c.received)


def test_empty_stream_fails_instead_of_passing_vacuously() -> None:
    empty = type("EmptyConnector", (fx.GoodConnector,), {"rows": ()})
    with pytest.raises(ConformanceError, match="a full read returned no records"):
        checks.check_has_records(read_all(connector(empty), fx.STREAM))
