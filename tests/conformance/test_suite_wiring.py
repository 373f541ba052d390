"""Each test method of ConformanceSuite runs its check: it fails on the matching bad fixture."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.sdk import QuotaExhaustedError, VendorUnavailableError
from connectors.sdk.conformance import ConformanceError, ConformanceRun, ConformanceSuite
from tests.conformance import fixture_connectors as fx
from tests.conformance.test_known_bad import BAD_CREDENTIALS, GOOD, SAMPLES


def _run(cls: type[fx.GoodConnector], **options: Any) -> ConformanceRun:
    return ConformanceRun(cls, GOOD, {"bad_credentials_config": BAD_CREDENTIALS,
                                      "write_samples": {fx.STREAM: SAMPLES}, **options})


def _suite(cls: type[fx.GoodConnector]) -> ConformanceSuite:
    suite: ConformanceSuite = type(f"Test{cls.__name__}", (ConformanceSuite,),
                                   {"connector_class": cls})()
    return suite




CASES: list[tuple[str, type[fx.GoodConnector]]] = [
    ("test_bad_config_is_refused_with_a_clear_error", fx.BadVagueConfigError),
    ("test_check_fails_cleanly_on_bad_credentials", fx.BadCheckTrustsAnyone),
    ("test_records_match_stream_schema", fx.BadSchemaInvalidRecord),
    ("test_primary_keys_present_non_null_unique", fx.BadDuplicateKey),
    ("test_cursor_present_and_non_decreasing", fx.BadCursorBackwards),
    ("test_second_read_returns_nothing_new", fx.BadSecondReadRepeats),
    ("test_pages_resume_from_their_state", fx.BadResumeSkips),
    ("test_writes_one_result_per_op_in_order", fx.BadWriteReversed),
    ("test_unknown_stream_is_a_permanent_error", fx.BadUnknownStreamIgnored),
    ("test_secrets_never_leak", fx.BadLogsSecret),
    ("test_ledger_counts_calls", fx.BadNoLedger),
]


@pytest.mark.parametrize(("method", "cls"), CASES, ids=[m for m, _ in CASES])
def test_suite_method_fails_on_its_bad_fixture_and_passes_the_good_one(
        method: str, cls: type[fx.GoodConnector]) -> None:
    getattr(_suite(fx.GoodConnector), method)(_run(fx.GoodConnector))
    with pytest.raises(ConformanceError):
        getattr(_suite(cls), method)(_run(cls))


def test_spec_method_fails_on_an_unmarked_secret() -> None:
    _suite(fx.GoodConnector).test_spec_is_json_schema_with_secrets_marked()
    with pytest.raises(ConformanceError, match="x-secret"):
        _suite(fx.BadUnmarkedSecret).test_spec_is_json_schema_with_secrets_marked()


def test_missing_bad_credentials_fixture_is_a_failure_not_a_skip() -> None:
    with pytest.raises(ConformanceError, match="define a bad_credentials_config fixture"):
        _suite(fx.GoodConnector).test_check_fails_cleanly_on_bad_credentials(
            ConformanceRun(fx.GoodConnector, GOOD))


def test_unknown_conformance_stream_is_named() -> None:
    run = ConformanceRun(fx.GoodConnector, GOOD, only_streams=["acounts"])
    with pytest.raises(ConformanceError, match=r"\['acounts'\] are not offered"):
        _suite(fx.GoodConnector).test_records_match_stream_schema(run)


def test_error_injection_methods_check_what_the_next_call_does() -> None:
    # Errors land on the connector the suite builds: class-level list shared by instances.
    shared: list[Exception] = []

    class Armed(fx.GoodConnector):
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self.fail_next = shared

    class ArmedFatal(fx.BadRetriableAsFatal, Armed):
        pass

    retriable = {"inject_retriable_failure":
                 lambda: shared.append(VendorUnavailableError("503"))}
    _suite(Armed).test_retriable_failure_is_retried_or_retriable(_run(Armed, **retriable))
    with pytest.raises(ConformanceError, match="raised ProtocolError"):
        _suite(ArmedFatal).test_retriable_failure_is_retried_or_retriable(
            _run(ArmedFatal, **retriable))
    shared.clear()
    permanent = {"inject_permanent_failure": lambda: shared.append(QuotaExhaustedError("q"))}
    _suite(Armed).test_permanent_failure_is_not_retried(_run(Armed, **permanent))
