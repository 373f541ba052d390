"""The reference memory connector passes the whole conformance suite (issue #7)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from connectors.memory import MemoryConnector, MemoryDataset
from connectors.sdk.conformance import ConformanceSuite

SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["id", "updated_at"],
    "properties": {
        "id": {"type": "string"}, "updated_at": {"type": "string", "format": "date-time"},
        "email": {"type": "string"}, "name": {"type": "string"},
    },
}


class TestMemoryConformance(ConformanceSuite):
    connector_class = MemoryConnector
    checks_credentials = False  # the memory connector has nothing to refuse

    @pytest.fixture
    def connector_config(self) -> dict[str, Any]:
        ds = MemoryDataset.create("conformance-memory")
        stream = ds.add_stream("contacts", SCHEMA, page_size=4)
        for n in range(11):
            stream.create({"email": f"person{n}@example.com", "name": f"Person {n}"})
        return {"dataset": ds.name, "token": "memory-token-7f3a9c"}

    @pytest.fixture
    def write_samples(self) -> dict[str, list[dict[str, Any]]]:
        return {"contacts": [{"email": "w1@example.com", "name": "First"},
                             {"email": "w2@example.com", "name": "Second"},
                             {"email": "w3@example.com", "name": "Third"}]}
