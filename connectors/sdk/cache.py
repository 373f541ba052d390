"""A small key-value cache for connectors, and describe results kept in it for a while.

A vendor's describe (Marketo's lead fields, a Salesforce sObject describe) changes rarely,
yet a connector built afresh for every run would spend one call per system per run on it.
:class:`SchemaCache` keeps such results across runs for ``ttl_s`` seconds; a connector that
meets a field error from the vendor (a field it was told about is gone) calls
:meth:`SchemaCache.invalidate` and describes again.

Backends implement :class:`KeyValueCache`: :class:`MemoryCache` (one process) and
:class:`FileCache` (one JSON file per key under a directory, e.g. the project's state
directory; writes are atomic, a damaged file counts as a miss). Values are JSON.

Example:
    >>> cache = SchemaCache(MemoryCache(), ttl_s=3600, namespace="marketo")
    >>> calls = []
    >>> def describe():
    ...     calls.append(1)
    ...     return [{"name": "email"}]
    >>> cache.get_or_fetch("leads", describe).value == cache.get_or_fetch("leads", describe).value
    True
    >>> len(calls)
    1
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from connectors.sdk.errors import ConfigurationError

__all__ = [
    "DEFAULT_SCHEMA_TTL_S",
    "Cached",
    "FileCache",
    "KeyValueCache",
    "MemoryCache",
    "SchemaCache",
    "schema_cache_at",
]

log = logging.getLogger("renkei.connectors.cache")

DEFAULT_SCHEMA_TTL_S = 3600.0
"""How long a describe result is trusted without asking the vendor again (0: never)."""


class KeyValueCache(Protocol):
    """Where cached values live: JSON values with the time they were stored."""

    def get(self, key: str) -> tuple[float, Any] | None:
        """``(stored_at epoch seconds, value)``, or None when absent."""

    def put(self, key: str, value: Any, stored_at: float) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``."""

    def delete(self, key: str) -> None:
        """Forget ``key`` (absent keys are fine)."""


class MemoryCache:
    """A thread-safe in-process cache (tests, and runtimes without a state directory)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, str]] = {}

    def get(self, key: str) -> tuple[float, Any] | None:
        with self._lock:
            item = self._items.get(key)
        # Stored as text so a caller that mutates what it got cannot change the cache.
        return None if item is None else (item[0], json.loads(item[1]))

    def put(self, key: str, value: Any, stored_at: float) -> None:
        text = json.dumps(value, ensure_ascii=False)
        with self._lock:
            self._items[key] = (stored_at, text)

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class FileCache:
    """One JSON file per key under ``directory`` (created on first write, mode 0700).

    File names are hashes of the keys, so a key may hold any character and says nothing
    on disk; the key is stored inside and checked on read. Writes go to a temporary file
    renamed into place, so a reader never sees half a value, and concurrent writers of one
    key leave one whole value.

    Args:
        directory: Where the files go, e.g. ``<project>/.renkei/cache``.
    """

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"FileCache({str(self.directory)!r})"

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return self.directory / f"{digest}.json"

    def get(self, key: str) -> tuple[float, Any] | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent or damaged: a miss, and the next put replaces it
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        stored_at = data.get("stored_at")
        if not isinstance(stored_at, (int, float)) or "value" not in data:
            return None
        return float(stored_at), data["value"]

    def put(self, key: str, value: Any, stored_at: float) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps({"key": key, "stored_at": stored_at, "value": value},
                          ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self._path(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()


@dataclass(frozen=True)
class Cached:
    """A value from :meth:`SchemaCache.get_or_fetch`.

    Attributes:
        value: The describe result.
        hit: True when it came from the cache (so it may be stale), False when just fetched.
    """

    value: Any
    hit: bool


class SchemaCache:
    """Describe results of one connection, trusted for ``ttl_s`` seconds.

    Args:
        backend: Where values live; None caches nothing (every call fetches).
        ttl_s: Seconds a value is served without asking the vendor; 0 turns caching off.
        namespace: Prefix of every key: the connector type and the endpoint it talks to,
            so two connections (or a connection moved to another instance) never share
            a describe.
        clock: Epoch seconds (tests pass a fake).
    """

    def __init__(self, backend: KeyValueCache | None, *, ttl_s: float = DEFAULT_SCHEMA_TTL_S,
                 namespace: str = "", clock: Callable[[], float] = time.time):
        if ttl_s < 0:
            raise ValueError(f"ttl_s must be 0 (off) or more, got {ttl_s}")
        self.backend = backend
        self.ttl_s = ttl_s
        self.namespace = namespace
        self._clock = clock

    def __repr__(self) -> str:
        return f"SchemaCache({self.backend!r}, ttl_s={self.ttl_s}, namespace={self.namespace!r})"

    @property
    def enabled(self) -> bool:
        """Whether values are kept at all."""
        return self.backend is not None and self.ttl_s > 0

    def scoped(self, namespace: str) -> SchemaCache:
        """The same backend and TTL under ``namespace`` (a connector names its endpoint)."""
        return SchemaCache(self.backend, ttl_s=self.ttl_s, namespace=namespace,
                           clock=self._clock)

    def _key(self, key: str) -> str:
        return f"schema:{self.namespace}:{key}"

    def get_or_fetch(self, key: str, fetch: Callable[[], Any]) -> Cached:
        """The cached value of ``key`` if younger than the TTL, else ``fetch()`` (stored).

        A value stored "in the future" (the clock went back) counts as expired.
        """
        if self.enabled:
            assert self.backend is not None
            item = self.backend.get(self._key(key))
            if item is not None:
                age = self._clock() - item[0]
                if 0 <= age < self.ttl_s:
                    return Cached(item[1], hit=True)
        value = fetch()
        if self.enabled:
            assert self.backend is not None
            try:
                self.backend.put(self._key(key), value, self._clock())
            except (OSError, TypeError, ValueError) as exc:
                # A cache that cannot be written costs a describe per run, not the run.
                log.warning("describe cache %r: not stored: %s", self.backend, exc)
        return Cached(value, hit=False)

    def invalidate(self, key: str) -> None:
        """Forget ``key``: the next :meth:`get_or_fetch` asks the vendor."""
        if self.backend is not None:
            self.backend.delete(self._key(key))

    @contextlib.contextmanager
    def forgetting(self, key: str, when: Callable[[BaseException], bool]) -> Iterator[None]:
        """Invalidate ``key`` if the body raises an error ``when`` accepts, then re-raise.

        Example:
            A read whose query names a field the org no longer has::

                with schemas.forgetting("Lead", lambda e: getattr(e, "vendor_code", None)
                                        == "INVALID_FIELD"):
                    body = client.query(soql)
        """
        try:
            yield
        except BaseException as exc:
            if when(exc):
                self.invalidate(key)
            raise


def schema_cache_at(directory: Path | str, ttl_s: Any, *, where: str) -> SchemaCache:
    """A file-backed :class:`SchemaCache` for a runtime to hand its connectors.

    Args:
        directory: The cache directory (a project keeps it under its state directory).
        ttl_s: Seconds describe results are trusted, as configured (a number or a numeric
            string; 0 turns caching off).
        where: The setting's name, for the error message.

    Raises:
        ConfigurationError: ``ttl_s`` is not a number of seconds, or negative.
    """
    try:
        ttl = float(ttl_s)
    except (TypeError, ValueError):
        ttl = -1.0
    if not ttl >= 0:  # also refuses NaN
        raise ConfigurationError(f"{where}: must be a number of seconds, 0 or more "
                                 f"(0 turns the describe cache off), got {ttl_s!r}")
    return SchemaCache(FileCache(directory) if ttl > 0 else None, ttl_s=ttl)
