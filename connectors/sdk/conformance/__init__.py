"""The connector conformance kit: every standard check, from one line in a partner's tests.

Usage (``tests/test_conformance.py`` of a connector package)::

    import pytest
    from connectors.sdk.conformance import ConformanceSuite
    from renkei_acme import AcmeConnector

    class TestAcme(ConformanceSuite):          # pytest collects every standard check
        connector_class = AcmeConnector
        # streams = ["contacts"]               # optional; default: every stream
        # checks_credentials = False           # only for a connector without credentials

        @pytest.fixture
        def connector_config(self, sandbox_url):               # required
            return {"base_url": sandbox_url, "api_token": "acme-sandbox-token-1234",
                    "page_size": 5}             # small pages, so resuming is checked

        @pytest.fixture
        def bad_credentials_config(self, connector_config):    # required with credentials
            return {**connector_config, "api_token": "wrong-token-5678"}

        @pytest.fixture
        def write_samples(self):                               # optional: checks writes
            return {"contacts": [{"email": "a@example.com"}, {"email": "b@example.com"}]}

        @pytest.fixture
        def inject_retriable_failure(self, sandbox):           # optional: next call -> 503
            return lambda: sandbox.faults.add(FaultRule("server_error", times=1))

        # also optional: inject_permanent_failure, vendor_call_count (callable -> int, the
        # vendor's own count of calls received), connector_ca_bundle (CA file to trust)

The fixtures may also live in a ``conftest.py``. ``pytest --conformance-streams a,b``
narrows the streams (the ``pytest11`` plug-in registers the option).

Checks (each its own test; a failure says what broke, where, and how to fix it):

==============================================  ===========================================
test                                            rule
==============================================  ===========================================
test_spec_is_json_schema_with_secrets_marked    spec is Draft 2020-12; secret-looking
                                                properties carry ``x-secret``
test_bad_config_is_refused_with_a_clear_error   missing/wrong-typed config values raise
                                                ConfigurationError naming the property
test_check_passes_with_working_config           ``check()`` passes on connector_config
test_check_fails_cleanly_on_bad_credentials     AuthenticationError, not retriable, no secret
test_records_match_stream_schema                every record validates against its schema
test_primary_keys_present_non_null_unique       keys present, non-null, unique as tuples
test_cursor_present_and_non_decreasing          cursor set; no page older than an earlier one
test_second_read_returns_nothing_new            a read from the last state returns nothing
test_pages_resume_from_their_state              each page's state resumes right after it
test_writes_one_result_per_op_in_order          one result per op, in order, with ids
test_retriable_failure_is_retried_or_retriable  RetriableError, or retried and in the ledger
test_unknown_stream_is_a_permanent_error        ConfigurationError, not retriable
test_permanent_failure_is_not_retried           ConnectorError, not retriable, not retried
test_secrets_never_leak                         no secret in logs (DEBUG), errors, reprs
test_ledger_counts_calls                        calls recorded (= the vendor's count)
==============================================  ===========================================

Every check is also a plain function that raises :class:`ConformanceError` (an
AssertionError), for use outside the suite::

    from connectors.sdk.conformance import checks, read_all
    with AcmeConnector(config) as c:
        checks.check_primary_keys(read_all(c, "contacts"))
"""

from connectors.sdk.conformance import checks
from connectors.sdk.conformance.errors import ConformanceError
from connectors.sdk.conformance.reading import FullRead, key_of, read_all
from connectors.sdk.conformance.safety_checks import LogCapture
from connectors.sdk.conformance.suite import ConformanceRun, ConformanceSuite

__all__ = [
    "ConformanceError",
    "ConformanceRun",
    "ConformanceSuite",
    "FullRead",
    "LogCapture",
    "checks",
    "key_of",
    "read_all",
]
