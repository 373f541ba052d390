"""Checks of error classification, secret hygiene and the API-call ledger."""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from connectors.sdk.base import Connector
from connectors.sdk.conformance.config_checks import ConnectorFactory
from connectors.sdk.conformance.errors import ConformanceError
from connectors.sdk.conformance.secrets import MIN_SECRET_LEN, secret_values
from connectors.sdk.errors import ConnectorError, RetriableError
from connectors.sdk.ledger import ApiCall, MemoryLedger

__all__ = [
    "LogCapture",
    "check_ledger_counts",
    "check_no_secret_leaks",
    "check_permanent_failure",
    "check_retriable_failure",
    "check_unknown_stream_is_permanent",
]

Injector = Callable[[], None]
"""Makes the vendor's next call fail (a sandbox fault rule, a recorded error response)."""


def _ledger(connector: Connector) -> MemoryLedger:
    ledger = connector.context.ledger
    if not isinstance(ledger, MemoryLedger):
        raise ConformanceError("the connector under test must use the MemoryLedger of its "
                               "context (build it with the suite's factory)")
    return ledger


def _first_page(connector: Connector, stream: str) -> None:
    reader = connector.read(stream, None)
    try:
        next(iter(reader), None)
    finally:
        close = getattr(reader, "close", None)
        if callable(close):
            close()


def _calls_for_first_page(connector: Connector, stream: str) -> list[ApiCall]:
    ledger = _ledger(connector)
    before = len(ledger.calls())
    _first_page(connector, stream)
    return ledger.calls()[before:]


def check_retriable_failure(connector: Connector, stream: str, inject: Injector) -> None:
    """A transient vendor failure is retried (and counted) or raised as a RetriableError.

    Reads the first page once cleanly to count its calls, calls ``inject`` and reads it
    again. Passing outcomes: a :class:`RetriableError` subclass, or success with the
    failed attempt visible in the ledger (more calls than the clean read, or a call with a
    4xx/5xx or no status). Anything else (a ProtocolError, a bare ``httpx`` error, a
    success that left no trace of the failure) fails the check.

    Raises:
        ConformanceError: the failure was misclassified or never reached the connector.
    """
    name = type(connector).__name__
    connector.check()
    clean = _calls_for_first_page(connector, stream)
    inject()
    try:
        faulted = _calls_for_first_page(connector, stream)
    except RetriableError:
        return
    except Exception as exc:  # noqa: BLE001 - partner code may raise anything
        raise ConformanceError(
            f"{name}.read({stream!r}) after inject_retriable_failure raised "
            f"{type(exc).__name__} ({exc}); a transient vendor failure must surface as a "
            "RetriableError subclass (or be retried by HttpClient)") from None
    failed = [c for c in faulted if c.status == 0 or c.status >= 400]
    if len(faulted) > len(clean) or failed:
        return
    raise ConformanceError(
        f"{name}.read({stream!r}) succeeded after inject_retriable_failure with "
        f"{len(faulted)} call(s) (a clean read took {len(clean)}) and no failed call in the "
        "ledger: the failure was never seen; is the injector wired to this connection, and "
        "do the connector's calls go through HttpClient with the context's ledger?")


def check_unknown_stream_is_permanent(connector: Connector) -> None:
    """Reading a stream the connector does not have raises a permanent ConnectorError naming it.

    Raises:
        ConformanceError: it read something, crashed, or called it retriable.
    """
    name = type(connector).__name__
    missing = f"no_such_stream_{uuid.uuid4().hex[:6]}"
    try:
        _first_page(connector, missing)
    except RetriableError as exc:
        raise ConformanceError(f"{name}.read({missing!r}) raised {type(exc).__name__}, a "
                               "RetriableError: an unknown stream never heals by "
                               "retrying") from None
    except ConnectorError as exc:
        if missing not in str(exc):
            raise ConformanceError(f"{name}.read({missing!r}) raised {type(exc).__name__} "
                                   f"without naming the stream: {exc}") from None
        return
    except Exception as exc:  # noqa: BLE001 - partner code may raise anything
        raise ConformanceError(f"{name}.read({missing!r}) raised {type(exc).__name__} "
                               f"({exc}), not a ConnectorError (use self.stream(name))") from None
    raise ConformanceError(f"{name}.read({missing!r}) did not fail: unknown streams must raise "
                           "ConfigurationError")


def check_permanent_failure(connector: Connector, stream: str, inject: Injector) -> None:
    """A permanent vendor failure raises a ConnectorError that is not retriable, at once.

    Raises:
        ConformanceError: it succeeded, was classified retriable, or was retried.
    """
    name = type(connector).__name__
    connector.check()
    clean = _calls_for_first_page(connector, stream)
    ledger = _ledger(connector)
    before = len(ledger.calls())
    inject()
    try:
        _first_page(connector, stream)
    except RetriableError as exc:
        raise ConformanceError(f"{name}.read({stream!r}) after inject_permanent_failure raised "
                               f"{type(exc).__name__}, a RetriableError: a permanent failure "
                               "must not be retried") from None
    except ConnectorError:
        spent = len(ledger.calls()) - before
        if spent > len(clean):
            raise ConformanceError(f"{name}.read({stream!r}) made {spent} call(s) for a "
                                   f"permanent failure (a clean read takes {len(clean)}): "
                                   "it was retried") from None
        return
    except Exception as exc:  # noqa: BLE001 - partner code may raise anything
        raise ConformanceError(f"{name}.read({stream!r}) after inject_permanent_failure raised "
                               f"{type(exc).__name__} ({exc}), not a ConnectorError") from None
    raise ConformanceError(f"{name}.read({stream!r}) succeeded after inject_permanent_failure: "
                           "the failure was swallowed (or the injector is not wired)")


class LogCapture(logging.Handler):
    """Every log record of every logger at DEBUG and above, while active.

    Example:
        >>> with LogCapture.active() as logs:
        ...     logging.getLogger("demo").debug("hello %s", "there")
        >>> [r.getMessage() for r in logs.records if r.name == "demo"]
        ['hello there']
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @classmethod
    @contextmanager
    def active(cls) -> Iterator[LogCapture]:
        """Attach to the root logger at DEBUG; restore its level on exit."""
        handler = cls()
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            yield handler
        finally:
            root.removeHandler(handler)
            root.setLevel(level)

    def texts(self) -> Iterator[tuple[str, str]]:
        """``(where, text)`` of each record: its message, its args and its traceback."""
        for r in self.records:
            text = r.getMessage() + repr(r.args)
            if r.exc_info and r.exc_info[1] is not None:
                text += "".join(traceback.format_exception(r.exc_info[1]))
            yield f"log record of logger {r.name!r} at {r.levelname}", text


def check_no_secret_leaks(connector_class: type[Connector], factory: ConnectorFactory,
                          config: Mapping[str, Any], streams: Sequence[str],
                          bad_config: Mapping[str, Any] | None = None) -> None:
    """No secret shows in log records (DEBUG included), exceptions or reprs.

    Exercises the connector as a run would (construct, ``check()``, the first page of each
    stream, an unknown stream, and ``check()`` with the bad credentials) while capturing
    every log record of every logger at DEBUG, then searches for each secret value of the
    configs in: log messages, their arguments and tracebacks; the text, repr and chained
    tracebacks of every exception raised; ``repr``/``str`` of the connector and its config.

    Raises:
        ConformanceError: naming where a secret showed, never the secret itself.
    """
    secrets = secret_values(connector_class.spec, config)
    if bad_config is not None:
        secrets += secret_values(connector_class.spec, bad_config)
    if not secrets:
        raise ConformanceError(
            f"{connector_class.__name__}: connector_config holds no secret of "
            f"{MIN_SECRET_LEN}+ characters to look for; use distinctive secret values in the "
            "fixtures (the check is skipped only when the spec has no secret property)")
    texts: list[tuple[str, str]] = []

    def exc_text(where: str, exc: BaseException) -> None:
        texts.append((f"{where}: {type(exc).__name__}",
                      "".join(traceback.format_exception(exc)) + repr(exc)))

    with LogCapture.active() as logs:
        connector = factory(config)
        with connector:
            texts.append((f"repr({connector_class.__name__})", repr(connector)))
            texts.append((f"str({connector_class.__name__})", str(connector)))
            texts.append((f"repr({connector_class.__name__}.config)", repr(connector.config)))
            try:
                connector.check()
            except Exception as exc:  # noqa: BLE001 - searched below: it may be the leak
                exc_text("check()", exc)
            for stream in streams:
                try:
                    _first_page(connector, stream)
                except Exception as exc:  # noqa: BLE001 - partner code may raise anything
                    exc_text(f"read({stream!r})", exc)
            try:
                _first_page(connector, f"no_such_stream_{uuid.uuid4().hex[:6]}")
            except Exception as exc:  # noqa: BLE001 - partner code may raise anything
                exc_text("read(unknown stream)", exc)
        if bad_config is not None:
            try:
                with factory(bad_config) as bad:
                    texts.append((f"repr({connector_class.__name__}) with bad credentials",
                                  repr(bad)))
                    bad.check()
            except Exception as exc:  # noqa: BLE001 - partner code may raise anything
                exc_text("check() with bad credentials", exc)
    texts += list(logs.texts())
    for where, text in texts:
        for secret in secrets:
            if secret in text:
                at = text.index(secret)
                context = text[max(at - 40, 0):at] + "<SECRET>" + \
                    text[at + len(secret):at + len(secret) + 20]
                raise ConformanceError(f"a secret value of the config shows in {where}: "
                                       f"...{context!r}...")


def check_ledger_counts(connector: Connector, stream: str,
                        vendor_calls: Callable[[], int] | None = None) -> None:
    """``check()`` plus the first page of a read leave their calls in the context's ledger.

    With ``vendor_calls`` (the vendor's own count, e.g. the sandbox's ``/_sandbox/calls``),
    the ledger must count exactly the calls the vendor received.

    Raises:
        ConformanceError: calls went unrecorded, under another connection, or miscounted.
    """
    name = type(connector).__name__
    ledger = _ledger(connector)
    vendor_before = vendor_calls() if vendor_calls else 0
    before = len(ledger.calls())
    connector.check()
    _first_page(connector, stream)
    calls = ledger.calls()[before:]
    if not calls:
        raise ConformanceError(f"{name}: check() and a read of {stream!r} recorded no call in "
                               "the ledger; send every request through HttpClient with "
                               "ledger=self.context.ledger")
    others = sorted({c.connection for c in calls} - {connector.context.connection})
    if others:
        raise ConformanceError(f"{name}: the ledger recorded calls under connection(s) "
                               f"{others}, not {connector.context.connection!r}")
    if vendor_calls is not None:
        received = vendor_calls() - vendor_before
        if received != len(calls):
            raise ConformanceError(f"{name}: the ledger counted {len(calls)} call(s) for "
                                   f"check() and one page of {stream!r}, the vendor received "
                                   f"{received}")
