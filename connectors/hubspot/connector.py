"""The HubSpot connector: contacts, companies, deals and engagements over the CRM v3 API."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self

from connectors.hubspot.api import HubSpotApi
from connectors.hubspot.errors import HubSpotClassifier, input_error
from connectors.hubspot.incremental import ObjectRead, read_objects
from connectors.hubspot.schema import STREAMS, StreamDef, record_schema
from connectors.hubspot.writes import write_objects
from connectors.sdk import (
    Connector,
    ConnectorContext,
    Page,
    RatePolicy,
    RetryPolicy,
    StreamSpec,
    WriteMode,
    WriteOp,
    WriteResult,
    limiter_for,
    reveal,
)
from connectors.sdk.config import http_options
from connectors.sdk.types import JSON

__all__ = ["HubSpotConnector"]

_DEFAULTS: Mapping[str, Any] = {
    "base_url": "https://api.hubapi.com", "burst_calls": 100, "burst_window_s": 10.0,
    "daily_quota": 250_000, "timeout_s": 30.0, "page_size": 200, "retry_attempts": 4,
    "index_lag_s": 5.0,
}


class HubSpotConnector(Connector):
    """HubSpot CRM through a private app's access token.

    Streams ``contacts`` (cursor ``lastmodifieddate``; create, update, upsert by email),
    ``companies``, ``deals`` and ``engagements`` (cursor ``hs_lastmodifieddate``; create and
    update). Reads use the search API in keyset slices (:mod:`connectors.hubspot.incremental`);
    writes use the batch API, 100 inputs a call (:mod:`connectors.hubspot.writes`).

    Example:
        >>> c = HubSpotConnector({"access_token": "pat-na1-s3cret"})
        >>> "s3cret" in repr(c) + repr(c.config)
        False
    """

    name = "hubspot"
    stream_names: ClassVar[tuple[str, ...]] = tuple(s.name for s in STREAMS)
    version = "0.1.0"
    spec: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["access_token"],
        "properties": {
            "access_token": {"type": "string", "minLength": 1, "x-secret": True,
                             "description": "The private app's access token (pat-...)."},
            "base_url": {"type": "string", "pattern": "^https?://",
                         "default": "https://api.hubapi.com",
                         "description": "API root (the sandbox's URL in tests)."},
            "portal_id": {"type": ["string", "integer"], "description": "The account (hub) "
                          "id; names the shared rate limiter (default: a hash of the token)."},
            "burst_calls": {"type": "integer", "minimum": 0, "default": 100,
                            "description": "Calls per burst window (Free/Starter 100, "
                                           "Professional/Enterprise 190)."},
            "burst_window_s": {"type": "number", "exclusiveMinimum": 0, "default": 10,
                               "description": "The burst window in seconds (vendor: 10)."},
            "daily_quota": {"type": "integer", "minimum": 0, "default": 250_000,
                            "description": "API calls per day this hub may spend (0: no cap)."},
            "page_size": {"type": "integer", "minimum": 1, "maximum": 200, "default": 200,
                          "description": "Records per search query (vendor maximum 200)."},
            **http_options(),
            "index_lag_s": {"type": "number", "minimum": 0, "default": 5,
                            "description": "Records modified this recently are left to the "
                                           "next read: search indexes them with a delay."},
        },
    }

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        super().__init__(config, context=context)
        self._options = {**_DEFAULTS, **self.config}
        token = self.config["access_token"]
        account = str(self._options.get("portal_id") or hashlib.sha256(
            reveal(token).encode()).hexdigest()[:16])
        window = float(self._options["burst_window_s"])
        limiter = limiter_for(f"hubspot:{account}", RatePolicy(
            calls=int(self._options["burst_calls"]), window_s=window,
            daily_quota=int(self._options["daily_quota"])))
        self._api = HubSpotApi(
            base_url=str(self._options["base_url"]), token=token,
            connection=self.context.connection, limiter=limiter, ledger=self.context.ledger,
            classifier=HubSpotClassifier(window_s=window),
            timeout_s=float(self._options["timeout_s"]),
            retry=RetryPolicy(attempts=int(self._options["retry_attempts"]),
                              max_delay_s=max(30.0, window)),
            verify=self.context.ca_bundle or True)
        self._properties: dict[str, list[dict[str, Any]]] = {}
        self._streams: list[StreamSpec] | None = None

    @property
    def api(self) -> HubSpotApi:
        """The underlying calls (for diagnostics and tests)."""
        return self._api

    def _props(self, obj: str) -> list[dict[str, Any]]:
        if obj not in self._properties:
            self._properties[obj] = self._api.properties(obj)
        return self._properties[obj]

    def streams(self) -> Sequence[StreamSpec]:
        """The four streams; schemas from the property definitions (one call per type, cached)."""
        if self._streams is None:
            specs = []
            for d in STREAMS:
                merged: dict[str, dict[str, Any]] = {}
                for obj in d.objects:
                    merged.update({p["name"]: p for p in self._props(obj)})
                schema = record_schema(d, list(merged.values()))
                modes = {WriteMode.CREATE, WriteMode.UPDATE}
                if d.upsert_property:
                    modes.add(WriteMode.UPSERT)
                writable = frozenset(k for k, v in schema["properties"].items()
                                     if not v.get("readOnly"))
                specs.append(StreamSpec(
                    name=d.name, schema=schema, primary_key=("id",), cursor_field=d.cursor,
                    page_size=int(self._options["page_size"]), write_batch_size=100,
                    write_modes=frozenset(modes), writable_fields=writable,
                    description=d.description))
            self._streams = specs
        return self._streams

    def _def(self, stream: str) -> StreamDef:
        self.stream(stream)  # ConfigurationError for an unknown stream
        return next(d for d in STREAMS if d.name == stream)

    def check(self) -> None:
        """Read the contact property definitions: proves the token and its CRM scope."""
        self._properties.pop("contacts", None)
        self._props("contacts")

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        """Records modified since ``state``; see :mod:`connectors.hubspot.incremental`."""
        d = self._def(stream)
        reads = [ObjectRead(obj, d.cursor, tuple(p["name"] for p in self._props(obj)),
                            label=obj if len(d.objects) > 1 else None) for obj in d.objects]
        end_ms = int((time.time() - float(self._options["index_lag_s"])) * 1000)
        enrich = (lambda records: self._with_contacts(d, records)) if d.associate_to else None
        return read_objects(self._api, reads, state, end_ms=end_ms,
                            page_size=int(self._options["page_size"]), enrich=enrich)

    def _with_contacts(self, d: StreamDef, records: list[JSON]) -> list[JSON]:
        assert d.associate_to is not None
        for obj in d.objects:
            mine = [r for r in records if r.get("engagement_type", obj) == obj]
            linked = self._api.associated(obj, d.associate_to, [str(r["id"]) for r in mine])
            for record in mine:
                record["contact_ids"] = linked.get(str(record["id"]), [])
        return records

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Batch create, update and (contacts) upsert by email; one result per op, in order."""
        d = self._def(stream)
        spec = self.stream(stream)
        read_only = frozenset(k for k, v in spec.fields.items() if v.get("readOnly"))
        if len(d.objects) == 1:
            return write_objects(self._api, d.objects[0], ops, upsert_property=d.upsert_property,
                                 read_only=read_only)
        results: list[WriteResult | None] = [None] * len(ops)
        for obj in d.objects:
            indexes = [i for i, op in enumerate(ops) if op.values.get("engagement_type") == obj]
            if indexes:
                done = write_objects(self._api, obj, [ops[i] for i in indexes],
                                     upsert_property=None, read_only=read_only)
                for i, result in zip(indexes, done, strict=True):
                    results[i] = result
        return [r or WriteResult.failure(input_error({
            "category": "VALIDATION_ERROR",
            "message": f"engagement_type must be one of {', '.join(d.objects)}"}))
            for r in results]

    def fetch(self, stream: str, ids: Sequence[str]) -> list[JSON]:
        """Current records by id through batch read (100 ids a call)."""
        d = self._def(stream)
        if len(d.objects) > 1:
            raise NotImplementedError("engagements are fetched by type; read them instead")
        obj = d.objects[0]
        names = [p["name"] for p in self._props(obj)]
        out: list[JSON] = []
        for start in range(0, len(ids), 100):
            body = self._api.batch(obj, "read", {
                "inputs": [{"id": str(i)} for i in ids[start:start + 100]],
                "properties": names, "propertiesWithHistory": []}, idempotent=True)
            out += [{"id": str(r["id"]), **(r.get("properties") or {})}
                    for r in body["results"] if isinstance(r, dict) and "id" in r]
        return self._with_contacts(d, out) if d.associate_to else out

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Self:
        return self


