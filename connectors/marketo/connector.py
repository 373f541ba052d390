"""The Marketo Engage connector: the ``leads`` stream, read incrementally and written in bulk."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

from connectors.marketo.activities import ActivityWriter, activities_stream
from connectors.marketo.api import MarketoApi
from connectors.marketo.errors import MarketoClassifier
from connectors.marketo.incremental import read_leads
from connectors.marketo.lists import (
    MembershipResult,
    add_to_list,
    is_member,
    remove_from_list,
)
from connectors.marketo.schema import SYSTEM_FIELDS, lead_schema
from connectors.marketo.writes import write_leads
from connectors.sdk import (
    ConfigurationError,
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
)
from connectors.sdk.config import http_options

__all__ = ["MarketoConnector"]

log = logging.getLogger("renkei.connectors.marketo")

FIELD_NOT_FOUND = "1006"
"""Marketo's "Field not found" (``error-codes.md``): the describe we hold may be stale."""

_DEFAULTS: Mapping[str, Any] = {
    "daily_quota": 50_000, "rate_limit_calls": 100, "rate_limit_window_s": 20.0,
    "concurrency": 10, "timeout_s": 30.0, "page_size": 300, "retry_attempts": 4,
    "start_datetime": "1970-01-01T00:00:00Z", "include_deleted": True,
}


class MarketoConnector(Connector):
    """Marketo Engage over its REST API.

    Stream ``leads``: every REST field of Describe Leads; primary key ``id``; cursor
    ``updatedAt``; reads follow lead-change activities; writes upsert by email (creates)
    or update by id (updates), 300 records per call.

    Stream ``activities``: write-only custom activities, 300 per call, creates not
    idempotent (:meth:`find_created` is the recovery read); see
    :mod:`connectors.marketo.activities`.

    Example:
        >>> c = MarketoConnector({"base_url": "https://123-ABC-456.mktorest.com",
        ...                       "client_id": "id", "client_secret": "s3cret"})
        >>> "s3cret" in repr(c) + repr(c.config)
        False
    """

    name = "marketo"
    stream_names: ClassVar[tuple[str, ...]] = ("leads", "activities")
    version = "0.1.0"
    spec: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["base_url", "client_id", "client_secret"],
        "properties": {
            "base_url": {"type": "string", "pattern": "^https?://",
                         "description": "REST endpoint without /rest, e.g. "
                                        "https://123-ABC-456.mktorest.com"},
            "munchkin_id": {"type": "string", "description": "Account id; names the shared "
                            "rate limiter (defaults to the base URL's host)."},
            "client_id": {"type": "string", "minLength": 1,
                          "description": "Client ID of the LaunchPoint custom service."},
            "client_secret": {"type": "string", "minLength": 1, "x-secret": True,
                              "description": "Client Secret of the custom service."},
            "daily_quota": {"type": "integer", "minimum": 0, "default": 50_000,
                            "description": "API calls per day this hub may spend (0: no cap)."},
            "rate_limit_calls": {"type": "integer", "minimum": 0, "default": 100,
                                 "description": "Calls per rate window (vendor: 100)."},
            "rate_limit_window_s": {"type": "number", "exclusiveMinimum": 0, "default": 20,
                                    "description": "Rate window in seconds (vendor: 20)."},
            "concurrency": {"type": "integer", "minimum": 0, "default": 10,
                            "description": "Calls in flight at once (vendor: 10)."},
            "page_size": {"type": "integer", "minimum": 1, "maximum": 300, "default": 300,
                          "description": "Activities per lead-changes page."},
            **http_options(),
            "fields": {"type": "array", "items": {"type": "string"}, "uniqueItems": True,
                       "description": "Lead fields to read (default: every REST field)."},
            "watch_fields": {"type": "array", "items": {"type": "string"}, "uniqueItems": True,
                             "description": "Fields whose changes trigger a read (default: "
                                            "the read fields)."},
            "start_datetime": {"type": "string", "default": "1970-01-01T00:00:00Z",
                               "description": "Where a first read starts (ISO-8601)."},
            "include_deleted": {"type": "boolean", "default": True,
                                "description": "Report deleted leads as tombstones."},
            "hub_id_field": {"type": "string", "description": "Lead field that stores the "
                             "hub's reference on creates (e.g. a custom renkeiHubId)."},
        },
    }

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        super().__init__(config, context=context)
        self._options = {**_DEFAULTS, **self.config}
        base_url = str(self._options["base_url"]).rstrip("/")
        if base_url.endswith(("/rest", "/identity")):
            raise ConfigurationError(f"connection {self.context.connection!r}: base_url must "
                                     "not end in /rest or /identity")
        account = self._options.get("munchkin_id") or urlsplit(base_url).netloc
        window = float(self._options["rate_limit_window_s"])
        limiter = limiter_for(f"marketo:{account}", RatePolicy(
            calls=int(self._options["rate_limit_calls"]), window_s=window,
            concurrency=int(self._options["concurrency"]),
            daily_quota=int(self._options["daily_quota"])))
        self._api = MarketoApi(
            base_url=base_url, client_id=str(self._options["client_id"]),
            client_secret=self.config["client_secret"], connection=self.context.connection,
            limiter=limiter, ledger=self.context.ledger,
            classifier=MarketoClassifier(rate_window_s=window),
            timeout_s=float(self._options["timeout_s"]),
            retry=RetryPolicy(attempts=int(self._options["retry_attempts"])),
            verify=self.context.ca_bundle or True)
        self._streams: list[StreamSpec] | None = None
        self._activities = ActivityWriter(self._api)
        self._schemas = self.context.schemas(
            f"marketo:{base_url}:{self._options['client_id']}")
        self._describe_cached = False

    @property
    def api(self) -> MarketoApi:
        """The underlying calls (for diagnostics and tests)."""
        return self._api

    def _describe_leads(self) -> list[dict[str, Any]]:
        cached = self._schemas.get_or_fetch("leads", self._api.describe_leads)
        if not isinstance(cached.value, list):  # a damaged cache entry
            self._schemas.invalidate("leads")
            cached = self._schemas.get_or_fetch("leads", self._api.describe_leads)
        self._describe_cached = cached.hit
        return [item for item in cached.value if isinstance(item, dict)]

    def _forget_describe(self) -> bool:
        """Drop the describe (kept and cached) after a field error; True if it may have been
        stale (it came from the cache), so a retry with a fresh one can succeed."""
        stale = self._streams is not None and self._describe_cached
        self._schemas.invalidate("leads")
        self._streams = None
        return stale

    def streams(self) -> Sequence[StreamSpec]:
        """The ``leads`` stream; its schema comes from Describe Leads (one call, kept for the
        connector's life and, with a schema cache in the context, across runs)."""
        if self._streams is None:
            schema = lead_schema(self._describe_leads())
            props = schema["properties"]
            missing = [f for f in self._options.get("fields", []) if f not in props]
            if missing and self._describe_cached:  # a field added since it was cached
                self._schemas.invalidate("leads")
                schema = lead_schema(self._describe_leads())
                props = schema["properties"]
                missing = [f for f in self._options.get("fields", []) if f not in props]
            if missing:
                raise ConfigurationError(f"connection {self.context.connection!r}: Marketo has "
                                         f"no lead field(s) {', '.join(missing)}")
            writable = frozenset(k for k, v in props.items() if not v.get("readOnly"))
            self._streams = [StreamSpec(
                name="leads", schema=schema, primary_key=("id",), cursor_field="updatedAt",
                page_size=int(self._options["page_size"]), write_batch_size=300,
                write_modes=frozenset({WriteMode.CREATE, WriteMode.UPDATE, WriteMode.UPSERT}),
                writable_fields=writable,
                description="Marketo leads (people); changes found through lead-change "
                            "activities, so edits made in the Marketo UI are seen too."),
                activities_stream()]
        return self._streams

    def check(self) -> None:
        """Fetch a token and describe leads: proves the credentials and the API role (so
        never from the cache; the fresh describe is cached)."""
        self._streams = None
        self._schemas.invalidate("leads")
        self.streams()

    def _fields(self) -> tuple[list[str], list[str]]:
        props = self.stream("leads").fields
        fields = list(self._options.get("fields") or props)
        watch = list(self._options.get("watch_fields") or fields)
        return fields, [f for f in watch if f not in SYSTEM_FIELDS]

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        """Leads changed since ``state``; see :mod:`connectors.marketo.incremental`.

        A cached describe may name a field deleted in Marketo since (Get Leads answers 1006):
        the describe is then fetched afresh and the read goes on from the last page given
        out, once; a second field error is raised.
        """
        self.stream(stream)
        if stream == "activities":
            raise ConfigurationError("Marketo stream 'activities' is write-only: map it with "
                                     "direction out")
        return self._read_leads(state)

    def _read_leads(self, state: Mapping[str, Any] | None) -> Iterator[Page]:
        retried = False
        while True:
            fields, watch = self._fields()
            props = self.stream("leads").fields
            try:
                for page in read_leads(
                        self._api, state=state, fields=fields, watch=watch,
                        page_size=int(self._options["page_size"]),
                        start=str(self._options["start_datetime"]),
                        include_deleted=bool(self._options["include_deleted"]),
                        watch_ids=[props[f]["x-marketo-id"] for f in watch
                                   if "x-marketo-id" in props.get(f, {})],
                        watch_titles=[props[f]["title"] for f in watch if f in props]):
                    yield page
                    state = page.state  # committed by the engine once it asks for more
                return
            except ConfigurationError as exc:
                if retried or exc.vendor_code != FIELD_NOT_FOUND or not self._forget_describe():
                    raise
                retried = True
                log.warning("connection %r: %s; describing leads again",
                            self.context.connection, exc)

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Creates/upserts by email, updates by id; see :mod:`connectors.marketo.writes`."""
        spec = self.stream(stream)
        if stream == "activities":  # custom activities; see connectors.marketo.activities
            return self._activities.write(ops)
        read_only = frozenset(k for k, v in spec.fields.items() if v.get("readOnly"))
        hub_id_field = self._options.get("hub_id_field")
        try:
            results = write_leads(self._api, ops, hub_id_field=hub_id_field, read_only=read_only)
        except ConfigurationError as exc:
            if exc.vendor_code == FIELD_NOT_FOUND:
                self._forget_describe()
            raise
        if any(r.error is not None and r.error.code == FIELD_NOT_FOUND for r in results):
            # The records are reported (dead letters, retried later); the next run sees
            # Marketo's fields as they are now.
            self._forget_describe()
        return results

    def find_created(self, stream: str, ops: Sequence[WriteOp], *, since: str) -> dict[str, str]:
        """Custom activities already in Marketo for these creates (the recovery read)."""
        if self.stream(stream).create_idempotent:
            raise NotImplementedError(f"marketo {stream}: creates are upserts by a key")
        return self._activities.find_created(ops, since=since)

    def add_to_list(self, list_id: int, lead_ids: Sequence[int]) -> list[MembershipResult]:
        """Add leads to a static list; see :mod:`connectors.marketo.lists`."""
        return add_to_list(self._api, list_id, lead_ids)

    def remove_from_list(self, list_id: int, lead_ids: Sequence[int]) -> list[MembershipResult]:
        """Remove leads from a static list (a non-member comes back skipped 1015)."""
        return remove_from_list(self._api, list_id, lead_ids)

    def is_member(self, list_id: int, lead_ids: Sequence[int]) -> list[MembershipResult]:
        """Membership of leads in a static list."""
        return is_member(self._api, list_id, lead_ids)

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Self:  # the base class types it as Connector
        return self
