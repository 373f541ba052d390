"""An in-memory reference connector: the smallest complete connector, used to test the engine.

Like the Singer SDK's sample taps it shows a partner the whole contract in one file, and it
lets the engine's tests drive every edge (edits on the system side, rejected records, a write
that blows up mid-run) without a network.

Example:
    >>> ds = MemoryDataset.create("doc-example")
    >>> s = ds.add_stream("contacts", {"type": "object", "properties": {
    ...     "id": {"type": "string"}, "email": {"type": "string"},
    ...     "updated_at": {"type": "string"}}})
    >>> rid = s.create({"email": "a@example.com"})
    >>> conn = MemoryConnector({"dataset": "doc-example"})
    >>> [len(p.records) for p in conn.read("contacts", None)]
    [1]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connectors.sdk.base import Connector
from connectors.sdk.errors import ConfigurationError, ConnectorError
from connectors.sdk.ledger import ApiCall
from connectors.sdk.types import (
    JSON,
    ErrorCategory,
    Page,
    RecordError,
    StreamSpec,
    WriteMode,
    WriteOp,
    WriteResult,
)

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class MemoryStream:
    """One stream's records. ``updated_at`` ticks one second per change, deterministically."""

    dataset: MemoryDataset
    spec: StreamSpec
    records: dict[str, JSON] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    reject: Callable[[Mapping[str, Any]], RecordError | None] | None = None
    fail_write_calls: list[Exception] = field(default_factory=list)
    fail_read_after_pages: int | None = None
    before_write: list[Callable[[], None]] = field(default_factory=list)
    """Run one per write call before it is applied: a user's edit racing the engine."""
    _next_id: int = 1

    def _stamp(self) -> str:
        return self.dataset.tick()

    def create(self, values: Mapping[str, Any]) -> str:
        """Create a record as a user of the system would; returns its id."""
        rid = f"{self.spec.name[:3]}-{self._next_id:06d}"
        self._next_id += 1
        self.records[rid] = {**values, "id": rid, "updated_at": self._stamp()}
        if self.spec.version_field:
            self.records[rid][self.spec.version_field] = "1"
        return rid

    def edit(self, rid: str, changes: Mapping[str, Any]) -> None:
        """Edit a record as a user of the system would (moves its modification time)."""
        rec = self.records[rid]
        rec.update(changes)
        rec["updated_at"] = self._stamp()
        if self.spec.version_field:
            rec[self.spec.version_field] = str(int(rec[self.spec.version_field]) + 1)

    def find(self, **where: Any) -> list[JSON]:
        return [r for r in self.records.values() if all(r.get(k) == v for k, v in where.items())]


class MemoryDataset:
    """A named set of streams shared by every connector instance configured with its name."""

    _all: ClassVar[dict[str, MemoryDataset]] = {}

    def __init__(self, name: str):
        self.name = name
        self.streams: dict[str, MemoryStream] = {}
        self.calls: list[tuple[str, str, int]] = []  # (kind, stream, records)
        self._clock = 0
        self._lock = threading.Lock()

    @classmethod
    def create(cls, name: str) -> MemoryDataset:
        """A fresh dataset (replacing any of the same name)."""
        cls._all[name] = ds = cls(name)
        return ds

    @classmethod
    def get(cls, name: str) -> MemoryDataset:
        try:
            return cls._all[name]
        except KeyError:
            raise ConfigurationError(f"no memory dataset {name!r}") from None

    def tick(self) -> str:
        with self._lock:
            self._clock += 1
            return (_EPOCH + timedelta(seconds=self._clock)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def add_stream(self, name: str, schema: Mapping[str, Any], *, page_size: int = 100,
                   write_batch_size: int = 50, versioned: bool = False) -> MemoryStream:
        """Add a stream; ``versioned`` gives records a ``rev`` token checked on update."""
        spec = StreamSpec(name=name, schema=schema, primary_key=("id",), cursor_field="updated_at",
                          page_size=page_size, write_batch_size=write_batch_size,
                          write_modes=frozenset({WriteMode.CREATE, WriteMode.UPDATE}),
                          version_field="rev" if versioned else None)
        self.streams[name] = s = MemoryStream(self, spec)
        return s

    def writes(self, stream: str | None = None) -> int:
        """Write calls received (one per batch)."""
        return sum(1 for k, s, _ in self.calls if k == "write" and (stream is None or s == stream))


class MemoryConnector(Connector):
    """Connector over a :class:`MemoryDataset`."""

    name = "memory"
    spec: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "required": ["dataset"],
        "additionalProperties": False,
        "properties": {
            "dataset": {"type": "string", "description": "Name of the in-process dataset."},
            "token": {"type": "string", "x-secret": True,
                      "description": "Pretend credential, to test secret handling."},
        },
    }

    def __init__(self, config: Mapping[str, Any], **kw: Any):
        super().__init__(config, **kw)
        self.dataset = MemoryDataset.get(str(self.config["dataset"]))

    def streams(self) -> Sequence[StreamSpec]:
        return [s.spec for s in self.dataset.streams.values()]

    def _stream(self, name: str) -> MemoryStream:
        self.stream(name)  # raises a ConfigurationError naming the known streams
        return self.dataset.streams[name]

    def _call(self, kind: str, stream: str, n: int) -> None:
        self.dataset.calls.append((kind, stream, n))
        self.context.ledger.record(ApiCall(self.context.connection, "POST" if kind == "write" else "GET",
                                           f"/{stream}", 200, 0.0, kind))

    def check(self) -> None:
        return None

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        s = self._stream(stream)
        since = (state or {}).get("since", "")
        after = (state or {}).get("after_id", "")
        rows = sorted((r for r in s.records.values() if (r["updated_at"], r["id"]) > (since, after)),
                      key=lambda r: (r["updated_at"], r["id"]))
        size = s.spec.page_size
        for n, i in enumerate(range(0, max(len(rows), 1), size)):
            if s.fail_read_after_pages is not None and n >= s.fail_read_after_pages:
                raise ConnectorError("simulated read failure")
            chunk = [dict(r) for r in rows[i:i + size]]
            self._call("read", stream, len(chunk))
            if not chunk:
                return
            last = chunk[-1]
            yield Page(records=chunk, state={"since": last["updated_at"], "after_id": last["id"]})

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        s = self._stream(stream)
        if len(ops) > s.spec.write_batch_size:
            raise ConnectorError(f"batch of {len(ops)} exceeds {s.spec.write_batch_size}")
        self._call("write", stream, len(ops))
        if s.before_write:
            s.before_write.pop(0)()
        if s.fail_write_calls:
            raise s.fail_write_calls.pop(0)
        results: list[WriteResult] = []
        vf = s.spec.version_field
        for op in ops:
            err = s.reject(op.values) if s.reject else None
            if err is not None:
                results.append(WriteResult.failure(err))
                continue
            if op.mode is WriteMode.UPDATE:
                if op.id not in s.records:
                    results.append(WriteResult.failure(RecordError(
                        ErrorCategory.NOT_FOUND, f"no record {op.id}", "NOT_FOUND")))
                    continue
                if vf and op.version is not None and op.version != s.records[op.id][vf]:
                    results.append(WriteResult.failure(RecordError(
                        ErrorCategory.CONFLICT, f"record {op.id} is at version "
                        f"{s.records[op.id][vf]}, not {op.version}", "STALE", retriable=True)))
                    continue
                s.edit(op.id, op.values)
                results.append(WriteResult.success(op.id, version=self._version(s, op.id)))
            elif op.ref and op.ref in s.refs:  # idempotent create: upsert by the hub ref
                rid = s.refs[op.ref]
                s.edit(rid, op.values)
                results.append(WriteResult.success(rid, created=False,
                                                   version=self._version(s, rid)))
            else:
                rid = s.create(op.values)
                if op.ref:
                    s.refs[op.ref] = rid
                results.append(WriteResult.success(rid, created=True,
                                                   version=self._version(s, rid)))
        return results

    @staticmethod
    def _version(s: MemoryStream, rid: str) -> str | None:
        vf = s.spec.version_field
        return str(s.records[rid][vf]) if vf else None

    def fetch(self, stream: str, ids: Sequence[str]) -> list[JSON]:
        s = self._stream(stream)
        self._call("read", stream, len(ids))
        return [dict(s.records[i]) for i in ids if i in s.records]
