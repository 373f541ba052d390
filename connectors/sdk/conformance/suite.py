"""The pytest class a partner subclasses to run every standard check on a connector."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import pytest

from connectors.sdk.base import Connector, ConnectorContext
from connectors.sdk.conformance import config_checks, read_checks, safety_checks, write_checks
from connectors.sdk.conformance.errors import ConformanceError
from connectors.sdk.conformance.reading import FullRead, read_all
from connectors.sdk.conformance.secrets import secret_properties
from connectors.sdk.ledger import MemoryLedger

__all__ = ["ConformanceRun", "ConformanceSuite"]

_OPTIONAL_FIXTURES = ("bad_credentials_config", "write_samples", "inject_retriable_failure",
                      "inject_permanent_failure", "vendor_call_count", "connector_ca_bundle")


@dataclass
class ConformanceRun:
    """What one check needs: the class, the configs and the partner's optional fixtures.

    Attributes:
        connector_class: The connector under test.
        config: The working config (``connector_config`` fixture).
        options: The optional fixtures the partner defined, by name.
        only_streams: Streams to check (None: every stream the connector offers).
    """

    connector_class: type[Connector]
    config: Mapping[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    only_streams: Sequence[str] | None = None

    def make(self, config: Mapping[str, Any] | None = None) -> Connector:
        """A connector on ``config`` (default: the working one) with a fresh MemoryLedger."""
        context = ConnectorContext(
            connection=f"conformance-{self.connector_class.name}", ledger=MemoryLedger(),
            ca_bundle=cast("str | None", self.options.get("connector_ca_bundle")))
        return self.connector_class(self.config if config is None else config, context=context)

    def stream_names(self, connector: Connector) -> list[str]:
        """The streams to check; unknown names in ``only_streams`` fail the check.

        Write-only streams (``StreamSpec.readable`` false) are never read by the suite.
        """
        offered = [s.name for s in connector.streams() if s.readable]
        if not offered:
            raise ConformanceError(f"{self.connector_class.__name__}.streams() offers no "
                                   "readable stream")
        if self.only_streams is None:
            return offered
        unknown = [s for s in self.only_streams if s not in offered]
        if unknown:
            raise ConformanceError(f"conformance streams {unknown} are not offered by "
                                   f"{self.connector_class.__name__} (streams: {offered})")
        return list(self.only_streams)

    def full_reads(self, connector: Connector) -> list[FullRead]:
        """A full read of every stream under check, each materialised."""
        reads = [read_all(connector, name) for name in self.stream_names(connector)]
        for read in reads:
            read_checks.check_has_records(read)
        return reads


class ConformanceSuite:
    """Every standard check, as pytest tests; subclass it in a ``Test*`` class.

    Class attributes:
        connector_class: The connector under test (required).
        streams: Streams to check (default: all; ``--conformance-streams a,b`` overrides).
        checks_credentials: False for a connector that has no credentials to refuse.

    Fixtures the partner defines (in the subclass or a conftest):
        connector_config: A config that works against the sandbox or recorded responses.
        bad_credentials_config: The same with wrong credentials (required unless
            ``checks_credentials`` is False).
        write_samples: Optional ``{stream: [values, values, ...]}`` the vendor accepts.
        inject_retriable_failure: Optional callable that makes the vendor's next call fail
            transiently (a 503 fault rule in the sandbox).
        inject_permanent_failure: Optional callable that makes the next call fail for good.
        vendor_call_count: Optional callable returning how many calls the vendor received.
        connector_ca_bundle: Optional CA file the connector must trust (an HTTPS sandbox).
    """

    connector_class: ClassVar[type[Connector]]
    streams: ClassVar[Sequence[str] | None] = None
    checks_credentials: ClassVar[bool] = True

    @pytest.fixture
    def conformance(self, request: pytest.FixtureRequest,
                    connector_config: Mapping[str, Any]) -> ConformanceRun:
        """The run context of one check (built from the partner's fixtures)."""
        if not isinstance(getattr(type(self), "connector_class", None), type):
            raise ConformanceError(f"{type(self).__name__} must set connector_class = "
                                   "YourConnector")
        options: dict[str, Any] = {}
        for name in _OPTIONAL_FIXTURES:
            try:
                options[name] = request.getfixturevalue(name)
            except pytest.FixtureLookupError:
                continue
        option = request.config.getoption("conformance_streams", default=None)
        only = [s for s in str(option).split(",") if s] if option else self.streams
        return ConformanceRun(self.connector_class, connector_config, options, only)

    # -- spec and credentials ----------------------------------------------------------------

    def test_spec_is_json_schema_with_secrets_marked(self) -> None:
        config_checks.check_spec(self.connector_class)

    def test_bad_config_is_refused_with_a_clear_error(self, conformance: ConformanceRun) -> None:
        config_checks.check_bad_config_rejected(self.connector_class, conformance.make,
                                                conformance.config)

    def test_check_passes_with_working_config(self, conformance: ConformanceRun) -> None:
        config_checks.check_good_credentials(conformance.make, conformance.config)

    def test_check_fails_cleanly_on_bad_credentials(self, conformance: ConformanceRun) -> None:
        bad = conformance.options.get("bad_credentials_config")
        if not self.checks_credentials:
            pytest.skip("checks_credentials = False: the connector has no credentials")
        if bad is None:
            raise ConformanceError("define a bad_credentials_config fixture (the working "
                                   "config with wrong credentials), or set "
                                   "checks_credentials = False")
        config_checks.check_bad_credentials(self.connector_class, conformance.make, bad,
                                            conformance.config)

    # -- reads -------------------------------------------------------------------------------

    def test_records_match_stream_schema(self, conformance: ConformanceRun) -> None:
        with conformance.make() as connector:
            for read in conformance.full_reads(connector):
                read_checks.check_records_match_schema(read)

    def test_primary_keys_present_non_null_unique(self, conformance: ConformanceRun) -> None:
        with conformance.make() as connector:
            for read in conformance.full_reads(connector):
                read_checks.check_primary_keys(read)

    def test_cursor_present_and_non_decreasing(self, conformance: ConformanceRun) -> None:
        with conformance.make() as connector:
            reads = [r for r in conformance.full_reads(connector) if r.stream.cursor_field]
            if not reads:
                pytest.skip("no stream declares a cursor_field")
            for read in reads:
                read_checks.check_cursor_monotonic(read)

    def test_second_read_returns_nothing_new(self, conformance: ConformanceRun) -> None:
        with conformance.make() as connector:
            for read in conformance.full_reads(connector):
                read_checks.check_second_read_empty(connector, read)

    def test_pages_resume_from_their_state(self, conformance: ConformanceRun) -> None:
        with conformance.make() as connector:
            reads = [r for r in conformance.full_reads(connector) if len(r.record_pages) > 1]
            if not reads:
                pytest.skip("every stream fits in one page: lower the page size in "
                            "connector_config or seed more records to check resuming")
            for read in reads:
                read_checks.check_resumable(connector, read)

    # -- writes ------------------------------------------------------------------------------

    def test_writes_one_result_per_op_in_order(self, conformance: ConformanceRun) -> None:
        samples = cast("Mapping[str, Sequence[Mapping[str, Any]]] | None",
                       conformance.options.get("write_samples"))
        if not samples:
            pytest.skip("no write_samples fixture: writes are not checked")
        with conformance.make() as connector:
            for stream, values in samples.items():
                write_checks.check_writes(connector, stream, values)

    # -- errors, secrets, ledger -------------------------------------------------------------

    def test_retriable_failure_is_retried_or_retriable(self, conformance: ConformanceRun) -> None:
        inject = conformance.options.get("inject_retriable_failure")
        if inject is None:
            pytest.skip("no inject_retriable_failure fixture")
        with conformance.make() as connector:
            stream = conformance.stream_names(connector)[0]
            safety_checks.check_retriable_failure(connector, stream,
                                                  cast("Callable[[], None]", inject))

    def test_unknown_stream_is_a_permanent_error(self, conformance: ConformanceRun) -> None:
        with conformance.make() as connector:
            safety_checks.check_unknown_stream_is_permanent(connector)

    def test_permanent_failure_is_not_retried(self, conformance: ConformanceRun) -> None:
        inject = conformance.options.get("inject_permanent_failure")
        if inject is None:
            pytest.skip("no inject_permanent_failure fixture")
        with conformance.make() as connector:
            stream = conformance.stream_names(connector)[0]
            safety_checks.check_permanent_failure(connector, stream,
                                                  cast("Callable[[], None]", inject))

    def test_secrets_never_leak(self, conformance: ConformanceRun) -> None:
        if not any(mark is True for _, _, mark in secret_properties(self.connector_class.spec)):
            pytest.skip("the spec has no secret property")
        with conformance.make() as connector:
            streams = conformance.stream_names(connector)
        safety_checks.check_no_secret_leaks(
            self.connector_class, conformance.make, conformance.config, streams,
            conformance.options.get("bad_credentials_config"))

    def test_ledger_counts_calls(self, conformance: ConformanceRun) -> None:
        counter = cast("Callable[[], int] | None", conformance.options.get("vendor_call_count"))
        with conformance.make() as connector:
            stream = conformance.stream_names(connector)[0]
            safety_checks.check_ledger_counts(connector, stream, counter)
