"""Every check function in one namespace (each raises :class:`ConformanceError`)."""

from connectors.sdk.conformance.config_checks import (
    check_bad_config_rejected,
    check_bad_credentials,
    check_good_credentials,
    check_spec,
)
from connectors.sdk.conformance.read_checks import (
    check_cursor_monotonic,
    check_has_records,
    check_primary_keys,
    check_records_match_schema,
    check_resumable,
    check_second_read_empty,
)
from connectors.sdk.conformance.safety_checks import (
    check_ledger_counts,
    check_no_secret_leaks,
    check_permanent_failure,
    check_retriable_failure,
    check_unknown_stream_is_permanent,
)
from connectors.sdk.conformance.write_checks import check_writes

__all__ = [
    "check_bad_config_rejected",
    "check_bad_credentials",
    "check_cursor_monotonic",
    "check_good_credentials",
    "check_has_records",
    "check_ledger_counts",
    "check_no_secret_leaks",
    "check_permanent_failure",
    "check_primary_keys",
    "check_records_match_schema",
    "check_resumable",
    "check_retriable_failure",
    "check_second_read_empty",
    "check_spec",
    "check_unknown_stream_is_permanent",
    "check_writes",
]
