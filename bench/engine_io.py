"""In-process connectors for engine benchmarks: a seeded source and an acknowledging sink.

The memory connector (``connectors/memory``) keeps every record in RAM, so a million leads
would measure the test double, not renkei. These two hold nothing per record:

* :class:`SeededSource` is a Marketo-shaped ``leads`` stream whose records are generated on
  the fly from the sandbox seed (:class:`sandbox.marketo.seeding.SeedLeads`), 300 a page; a
  ``round`` > 0 gives every lead a new title and a later ``updatedAt`` (N changed leads).
* :class:`AckSink` is a Salesforce-shaped ``Lead`` stream that answers every write with
  success (200 a batch) and has nothing new to read.

Both count their calls into the context's ledger like real connectors, and the source keeps
the CPU seconds it spent generating records so benchmarks can leave them out of the engine's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from connectors.sdk.base import Connector, ConnectorContext
from connectors.sdk.ledger import ApiCall
from connectors.sdk.types import JSON, Page, StreamSpec, WriteMode, WriteOp, WriteResult
from sandbox.marketo.seeding import SeedLeads

_MODES = frozenset({WriteMode.CREATE, WriteMode.UPDATE, WriteMode.UPSERT})


class SeededSource(Connector):
    """Marketo-shaped leads generated from the sandbox seed (config: ``size``, ``round``)."""

    name = "bench-source"
    spec: ClassVar[Mapping[str, Any]] = {"type": "object"}

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        super().__init__(config, context=context)
        self.size = int(self.config["size"])
        self.round = int(self.config.get("round", 0))
        self.generate_s = 0.0
        self._spec = StreamSpec(name="leads", schema={"type": "object"}, primary_key=("id",),
                                cursor_field="updatedAt", page_size=300, write_batch_size=300,
                                write_modes=_MODES)

    def streams(self) -> Sequence[StreamSpec]:
        return [self._spec]

    def check(self) -> None:
        return None

    def _call(self, kind: str) -> None:
        self.context.ledger.record(ApiCall(self.context.connection, "GET", "/leads", 200, 0.0,
                                           kind))

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        done_round = int((state or {}).get("round", -1))
        if done_round >= self.round:
            self._call("read")
            return
        seed = SeedLeads(self.size, seed=42, cache_size=0)
        page: list[JSON] = []
        started = time.process_time()
        for lead in seed.iter_leads():
            if self.round:
                lead["title"] = f"ベンチ{self.round}"
                lead["updatedAt"] = f"2030-01-{self.round % 28 + 1:02d}T00:00:00Z"
            page.append(lead)
            if len(page) == 300:
                self.generate_s += time.process_time() - started
                self._call("read")
                yield Page(records=page, state={"round": self.round - 1, "id": lead["id"]})
                page = []
                started = time.process_time()
        self.generate_s += time.process_time() - started
        self._call("read")
        yield Page(records=page, state={"round": self.round})

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        self._call("write")
        return [WriteResult.success(str(op.id or 0), created=op.mode is not WriteMode.UPDATE)
                for op in ops]


class AckSink(Connector):
    """Salesforce-shaped ``Lead`` stream that accepts every write and reads nothing new."""

    name = "bench-sink"
    spec: ClassVar[Mapping[str, Any]] = {"type": "object"}

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        super().__init__(config, context=context)
        self.next_id = 1
        self.written = 0
        self._spec = StreamSpec(name="Lead", schema={"type": "object"}, primary_key=("Id",),
                                cursor_field="SystemModstamp", page_size=2000,
                                write_batch_size=200, write_modes=_MODES)

    def streams(self) -> Sequence[StreamSpec]:
        return [self._spec]

    def check(self) -> None:
        return None

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        self.context.ledger.record(ApiCall(self.context.connection, "GET", "/query", 200, 0.0,
                                           "read"))
        return iter(())

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        self.context.ledger.record(ApiCall(self.context.connection, "PATCH", "/composite", 200,
                                           0.0, "write"))
        self.written += len(ops)
        results = []
        for op in ops:
            if op.mode is WriteMode.UPDATE and op.id:
                results.append(WriteResult.success(op.id, created=False))
            else:
                results.append(WriteResult.success(f"00Q{self.next_id:015d}", created=True))
                self.next_id += 1
        return results
