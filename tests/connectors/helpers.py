"""Small helpers the connector tests share."""

from __future__ import annotations

from typing import Any

from connectors.sdk import Connector
from connectors.sdk.cache import MemoryCache


class KeyedCache(MemoryCache):
    """A memory cache that tells which keys were written."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    def put(self, key: str, value: Any, stored_at: float) -> None:
        self.keys.append(key)
        super().put(key, value, stored_at)


def read_all(connector: Connector, stream: str, state: dict[str, Any] | None = None
             ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every record of one read of ``stream``, and the state after its last page."""
    records: list[dict[str, Any]] = []
    for page in connector.read(stream, state):
        records += page.records
        state = dict(page.state) if page.state is not None else state
    return records, state
