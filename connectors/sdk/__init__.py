"""The connector SDK: what a connector implements and the helpers it builds on.

Public API::

    Connector, ConnectorContext          base class and runtime context
    StreamSpec, Page, WriteOp, WriteMode, WriteResult, RecordError, ErrorCategory
    HttpClient, TokenAuth                 the shared HTTP helper
    RatePolicy, AccountLimiter, limiter_for
    RetryPolicy, call_with_retries
    ApiCall, Ledger, MemoryLedger
    Secret                                masked secret values
    errors: ConnectorError and its tree (see connectors.sdk.errors)
"""

from connectors.sdk.base import Connector, ConnectorContext
from connectors.sdk.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConfigurationError,
    ConnectorError,
    ProtocolError,
    QuotaExhaustedError,
    RateLimitedError,
    RetriableError,
    TokenExpiredError,
    VendorUnavailableError,
)
from connectors.sdk.http import (
    HttpClient,
    TokenAuth,
    default_classify,
    json_body,
    parse_retry_after,
)
from connectors.sdk.ledger import ApiCall, Ledger, MemoryLedger
from connectors.sdk.limits import AccountLimiter, RatePolicy, limiter_for
from connectors.sdk.retry import NotSentError, RetryPolicy, call_with_retries
from connectors.sdk.secrets import Secret, reveal
from connectors.sdk.types import (
    ErrorCategory,
    Page,
    RecordError,
    StreamSpec,
    WriteMode,
    WriteOp,
    WriteResult,
)

__all__ = [
    "AccessDeniedError",
    "AccountLimiter",
    "ApiCall",
    "AuthenticationError",
    "ConfigurationError",
    "Connector",
    "ConnectorContext",
    "ConnectorError",
    "ErrorCategory",
    "HttpClient",
    "Ledger",
    "MemoryLedger",
    "NotSentError",
    "Page",
    "ProtocolError",
    "QuotaExhaustedError",
    "RateLimitedError",
    "RatePolicy",
    "RecordError",
    "RetriableError",
    "RetryPolicy",
    "Secret",
    "StreamSpec",
    "TokenAuth",
    "TokenExpiredError",
    "VendorUnavailableError",
    "WriteMode",
    "WriteOp",
    "WriteResult",
    "call_with_retries",
    "default_classify",
    "json_body",
    "limiter_for",
    "parse_retry_after",
    "reveal",
]
