"""The log of API calls an emulator received, for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass

__all__ = ["SECRET_PARAMS", "Call", "CallLog", "strip_secrets"]

#: Query parameter names (lower-cased) that carry credentials and are never logged.
SECRET_PARAMS: frozenset[str] = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "client_secret",
        "client_assertion",
        "password",
        "passwd",
        "secret",
        "api_key",
        "apikey",
        "key",
        "code",
        "code_verifier",
        "signature",
        "sig",
        "session_id",
        "sessionid",
        "jwt",
        "assertion",
    }
)
# Suffixes that mark a secret whatever the prefix (``x_api_secret``, ``userPassword``).
_SECRET_SUFFIXES = ("secret", "password", "_token", "apikey", "api_key")


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    # Pagination cursors (Marketo ``nextPageToken``) are not secrets: keep them visible.
    if lowered.endswith("pagetoken"):
        return False
    return lowered in SECRET_PARAMS or lowered.endswith(_SECRET_SUFFIXES)


def strip_secrets(query: Mapping[str, str]) -> dict[str, str]:
    """Return ``query`` without the credential-bearing parameters.

    Example:
        >>> strip_secrets({"access_token": "abc", "batchSize": "300", "nextPageToken": "X"})
        {'batchSize': '300', 'nextPageToken': 'X'}
    """
    return {k: v for k, v in query.items() if not _is_secret(k)}


@dataclass
class Call:
    """One API call as the emulator saw it.

    Attributes:
        seq: 1-based sequence number, increasing per emulator.
        method: HTTP method, upper case.
        path: Request path without the query string.
        query: Query parameters, secrets removed (last value wins for repeats).
        status: HTTP status answered (504 for an injected timeout, 0 for a reset).
        vendor_code: The vendor's error code when the emulator reported one
            (Marketo ``"606"``, Salesforce ``"REQUEST_LIMIT_EXCEEDED"``), else ``None``.
        at: Wall-clock start time (Unix seconds).
        duration_ms: Time from request to the end of the response.
        fault: The injected fault kind, if one fired for this call.
    """

    seq: int
    method: str
    path: str
    query: dict[str, str]
    status: int
    vendor_code: str | None
    at: float
    duration_ms: float
    fault: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The call as JSON-ready data."""
        return asdict(self)


class CallLog:
    """A thread-safe, bounded, in-order log of :class:`Call` records.

    Args:
        maxlen: Keep at most this many calls (oldest dropped); counts by :meth:`count`
            then cover only the kept calls. ``None`` keeps everything.

    Example:
        >>> log = CallLog()
        >>> call = log.record("GET", "/rest/v1/leads.json", {"access_token": "t"}, 200)
        >>> (call.seq, call.query, log.count(method="GET"))
        (1, {}, 1)
    """

    def __init__(self, maxlen: int | None = 500_000) -> None:
        self._lock = threading.Lock()
        self._calls: deque[Call] = deque(maxlen=maxlen)
        self._seq = 0

    def record(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None,
        status: int,
        vendor_code: str | None = None,
        *,
        at: float = 0.0,
        duration_ms: float = 0.0,
        fault: str | None = None,
    ) -> Call:
        """Append a call and return it with its sequence number.

        Secrets are stripped from ``query`` here, so no caller can forget to.
        """
        clean = strip_secrets(query or {})
        with self._lock:
            self._seq += 1
            call = Call(
                seq=self._seq,
                method=method.upper(),
                path=path,
                query=clean,
                status=status,
                vendor_code=vendor_code,
                at=at,
                duration_ms=duration_ms,
                fault=fault,
            )
            self._calls.append(call)
        return call

    def list(self, *, since: int = 0, path_prefix: str | None = None) -> list[Call]:
        """Calls with ``seq > since`` whose path starts with ``path_prefix``, oldest first."""
        with self._lock:
            calls = list(self._calls)
        return [
            c
            for c in calls
            if c.seq > since and (path_prefix is None or c.path.startswith(path_prefix))
        ]

    def count(self, *, path_prefix: str | None = None, method: str | None = None) -> int:
        """How many logged calls match the path prefix and method (both optional)."""
        wanted = method.upper() if method else None
        with self._lock:
            return sum(
                1
                for c in self._calls
                if (path_prefix is None or c.path.startswith(path_prefix))
                and (wanted is None or c.method == wanted)
            )

    @property
    def last_seq(self) -> int:
        """The sequence number of the latest call (0 if none); pass it as ``since`` later."""
        with self._lock:
            return self._seq

    def clear(self) -> None:
        """Forget all calls. Sequence numbers keep increasing, so ``since`` stays valid."""
        with self._lock:
            self._calls.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)
