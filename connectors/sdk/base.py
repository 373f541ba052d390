"""The connector interface a partner implements.

Example:
    A connector is a class with a ``name``, a config ``spec`` and four methods::

        class AcmeConnector(Connector):
            name = "acme"
            spec = {"type": "object", "required": ["token"],
                    "properties": {"token": {"type": "string", "x-secret": True}}}

            def streams(self): return [StreamSpec(name="contacts", schema={...})]
            def check(self): self.http.request("GET", "/me")
            def read(self, stream, state): yield Page(records=[...], state={...})
            def write(self, stream, ops): return [WriteResult.success("1") for _ in ops]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from connectors.sdk.cache import SchemaCache
from connectors.sdk.config import load_config
from connectors.sdk.errors import ConfigurationError
from connectors.sdk.ledger import Ledger, MemoryLedger
from connectors.sdk.types import JSON, Page, StreamSpec, WriteOp, WriteResult


@dataclass
class ConnectorContext:
    """What the runtime hands a connector: where to record calls, which CA to trust.

    Attributes:
        connection: The connection's name in the project config.
        ledger: Records every API call.
        ca_bundle: A CA file to trust in addition to (never instead of) verification.
        schema_cache: Keeps describe results across runs (see :mod:`connectors.sdk.cache`);
            None: every new connector describes again.
    """

    connection: str
    ledger: Ledger = field(default_factory=MemoryLedger)
    ca_bundle: str | None = None
    schema_cache: SchemaCache | None = None

    def schemas(self, endpoint: str) -> SchemaCache:
        """This connection's describe cache for ``endpoint`` (instance URL, user...).

        Keys are scoped by connection name and endpoint, so a connection pointed at another
        instance or user never gets the describe of the one before.
        """
        return (self.schema_cache or SchemaCache(None)).scoped(f"{self.connection}|{endpoint}")


class Connector(ABC):
    """Base class of every connector.

    Args:
        config: Raw connection config; validated against :attr:`spec`, secrets wrapped.
        context: Runtime context; a default one (in-memory ledger) when omitted.

    Raises:
        ConfigurationError: the config does not satisfy :attr:`spec`.
    """

    name: ClassVar[str]
    """The connector type name (``marketo``); the entry-point name."""

    version: ClassVar[str] = "0.1.0"

    stream_names: ClassVar[tuple[str, ...]] = ()
    """Streams the connector always offers, for listings that must not call the vendor
    (``renkei connectors``); empty when they depend on the connection (kintone apps)."""

    spec: ClassVar[Mapping[str, Any]] = {"type": "object", "properties": {}}
    """JSON Schema of the connection config; secret properties carry ``"x-secret": true``."""

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        self.context = context or ConnectorContext(connection=self.name)
        self.config: dict[str, Any] = load_config(
            self.spec, config, where=f"connection {self.context.connection!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(connection={self.context.connection!r})"

    @abstractmethod
    def streams(self) -> Sequence[StreamSpec]:
        """Every stream this connection offers (may call the vendor's describe once)."""

    def stream(self, name: str) -> StreamSpec:
        """The stream called ``name``.

        Raises:
            ConfigurationError: no such stream.
        """
        for spec in self.streams():
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.streams())
        raise ConfigurationError(f"{self.name} has no stream {name!r} (streams: {known})")

    @abstractmethod
    def check(self) -> None:
        """Prove the credentials work; raise a :class:`ConnectorError` if not."""

    @abstractmethod
    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        """Records changed since ``state``, page by page, oldest first.

        Args:
            stream: Stream name.
            state: The ``state`` of the last committed page, or None for a full read.
        """

    @abstractmethod
    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Write records; one result per op, in the order given.

        The engine never passes more than the stream's ``write_batch_size`` ops, grouped so
        that one vendor call can take them. Record-level rejections come back as failed
        results; an exception means the whole batch failed.
        """

    def fetch(self, stream: str, ids: Sequence[str]) -> list[JSON]:
        """The current state of the records with these system ids, in one or a few calls.

        The engine calls it after a write was refused as a version conflict, to merge the
        system's newer values by the mapping's policies before writing again. Ids that no
        longer exist are left out.

        Raises:
            NotImplementedError: the connector cannot read records by id (the engine then
                leaves the conflicted records to the next incremental read).
        """
        raise NotImplementedError(f"{self.name} cannot fetch {stream} records by id")

    def webhook_records(self, stream: str, event: Any) -> list[JSON]:
        """The records of ``stream`` that one of the vendor's webhook events carries (optional).

        The inbox processor calls it for a webhook source whose settings name no ``records:``
        jmespath, so the vendor's event shapes are known next to the stream the poll reads,
        and a webhook and the poll can give the same record the same id.

        Args:
            stream: The stream of the source's mapping.
            event: One stored event, as the vendor sent it (parsed JSON).

        Returns:
            The records; empty when the event carries none of this stream (another event
            type): the inbox marks it ignored.

        Raises:
            NotImplementedError: the connector does not read its vendor's webhooks (the inbox
                then takes the whole event as one record).
            ValueError: an event of a type the stream takes is malformed; the message (never
                personal data) is kept as the reason the event failed.
        """
        raise NotImplementedError(f"{self.name} does not read webhook events")

    def find_created(self, stream: str, ops: Sequence[WriteOp], *, since: str) -> dict[str, str]:
        """Which of these creates already landed in the system: ``{op.ref: system id}``.

        The recovery read of a stream whose creates are not idempotent
        (:attr:`StreamSpec.create_idempotent` false). The engine calls it, once per batch of
        ops and never per record, for creates a crashed run may have sent before it could
        store their links; ops found are linked, the others are written again. Match on
        something the op itself carries (a source id in the values), never on ``ref`` alone
        unless the connector stored it in the system.

        Args:
            stream: Stream name.
            ops: The creates as they would be written now (values, ``ref``).
            since: ISO-8601 UTC time of the oldest marker: nothing older can be one of them.

        Raises:
            NotImplementedError: the connector has no recovery read (the engine writes again).
        """
        raise NotImplementedError(f"{self.name} cannot look up {stream} records it created")

    def close(self) -> None:
        """Release connections. Idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def system_id(stream: StreamSpec, record: JSON) -> str:
    """Shorthand for :meth:`StreamSpec.record_id`."""
    return stream.record_id(record)
