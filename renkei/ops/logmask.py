"""Masking of secrets and personal data in log records, before any handler sees them.

Prefect sends log records to its API, where anyone with UI access reads them, so redaction must
happen when a record is created, not in one handler. :func:`install_log_masking` wraps the
process's log-record factory: every record of renkei's and httpx's loggers has its message
formatted once, then e-mails and phones masked (:mod:`renkei.redact`), query strings of URLs
dropped (a declarative connector may carry ``?api_key=...``) and ``key=value`` secrets blanked.
Installing twice is harmless.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from renkei.redact import mask_text

#: Loggers whose records are masked (and their children).
MASKED_LOGGERS: tuple[str, ...] = ("renkei", "connectors", "httpx", "httpcore", "sandbox",
                                   "flows", "prefect.flow_runs", "prefect.task_runs")

_URL_QUERY = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s?#\"'<>]+)\?[^\s#\"'<>]*")
_SECRET_PAIR = re.compile(
    r"(?i)\b((?:api[_-]?key|access[_-]?token|refresh[_-]?token|client[_-]?secret|secret|"
    r"password|passwd|token|authorization|x-api-key|x-cybozu-api-token)\b\s*[=:]\s*)"
    r"(?:bearer\s+|basic\s+)?[^\s&,;\"']+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}")


def mask_log_text(text: str) -> str:
    """Drop URL query strings, blank ``key=secret`` pairs and bearer tokens, mask PII."""
    text = _URL_QUERY.sub(r"\1?[query removed]", text)
    text = _SECRET_PAIR.sub(r"\1***", text)
    text = _BEARER.sub(r"\1 ***", text)
    return mask_text(text)


class MaskingFilter(logging.Filter):
    """A filter that rewrites a record's message masked (never drops the record).

    Args:
        prefixes: Logger names (and their children) to mask; others pass untouched.
    """

    def __init__(self, prefixes: Sequence[str] = MASKED_LOGGERS):
        super().__init__()
        self.prefixes = tuple(prefixes)

    def applies_to(self, name: str) -> bool:
        """Whether records of logger ``name`` are masked."""
        return any(name == p or name.startswith(p + ".") for p in self.prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "renkei_masked", False) or not self.applies_to(record.name):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a broken format string: mask the raw template
            message = str(record.msg)
        record.msg = mask_log_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # The traceback's last line carries the exception message (vendor text, URLs):
            # format it now, masked, so no handler formats it from the raw exception.
            record.exc_text = mask_log_text(_FORMATTER.formatException(record.exc_info))
            record.exc_info = None
        record.renkei_masked = True
        return True


_FORMATTER = logging.Formatter()
_installed: MaskingFilter | None = None


def install_log_masking(prefixes: Sequence[str] = MASKED_LOGGERS) -> MaskingFilter:
    """Mask every future record of the given loggers at creation (idempotent).

    Returns:
        The filter in use (also usable with ``handler.addFilter``).
    """
    global _installed
    if _installed is not None:
        return _installed
    flt = MaskingFilter(prefixes)
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        flt.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = flt
    return flt


__all__ = ["MASKED_LOGGERS", "MaskingFilter", "install_log_masking", "mask_log_text"]
