"""Per-request retries (tenacity) on retriable errors only, honouring ``Retry-After``.

Prefect task retries sit above this for a batch that failed as a whole; the two multiply, so
keep :attr:`RetryPolicy.attempts` small.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from connectors.sdk.errors import RateLimitedError, RetriableError, TokenExpiredError

T = TypeVar("T")
log = logging.getLogger("renkei.http")
# Our own generator: jitter must not move the global `random` state other code relies on.
_jitter = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry one request.

    Attributes:
        attempts: Tries in all, the first included.
        base_delay_s: First backoff step; doubles each time, with full jitter.
        max_delay_s: Cap on one wait, including a vendor's ``Retry-After``.
        max_elapsed_s: Give up once this much time has passed since the first try.
    """

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_elapsed_s: float = 120.0


class NotSentError(RetriableError):
    """Marker base: the request never reached the vendor (connect error), so any retry is safe."""


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), policy.max_delay_s)
        if isinstance(exc, TokenExpiredError):
            return 0.0
        step = policy.base_delay_s * (2 ** (state.attempt_number - 1))
        return _jitter.uniform(0, min(step, policy.max_delay_s))

    return wait


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    idempotent: bool,
    describe: str,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Call ``fn`` and retry it while it raises a retriable error.

    Args:
        fn: The call; raises :class:`RetriableError` subclasses on transient failures.
        policy: Attempts and backoff.
        idempotent: When False, only retry errors that prove the vendor did not act on the
            request (rate limits, token expiry, connection refused): a timed-out create may
            have been stored, and sending it again would duplicate the record.
        describe: ``METHOD /path`` for the log line (never the query string or body).
        on_retry: Called with the error and the wait before each retry.
    """

    def should_retry(exc: BaseException) -> bool:
        if not isinstance(exc, RetriableError):
            return False
        if idempotent:
            return True
        return isinstance(exc, (RateLimitedError, TokenExpiredError, NotSentError))

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("retrying %s after %s (attempt %d, waiting %.2fs)", describe, exc,
                    state.attempt_number, wait)
        if on_retry is not None and exc is not None:
            on_retry(exc, wait)

    retrying = Retrying(
        retry=retry_if_exception(should_retry),
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_elapsed_s),
        wait=_wait(policy),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn)
