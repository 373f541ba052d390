"""The Marketo Engage connector: the ``leads`` stream, read incrementally and written in bulk."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

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

    Example:
        >>> c = MarketoConnector({"base_url": "https://123-ABC-456.mktorest.com",
        ...                       "client_id": "id", "client_secret": "s3cret"})
        >>> "s3cret" in repr(c) + repr(c.config)
        False
    """

    name = "marketo"
    stream_names: ClassVar[tuple[str, ...]] = ("leads",)
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

    @property
    def api(self) -> MarketoApi:
        """The underlying calls (for diagnostics and tests)."""
        return self._api

    def streams(self) -> Sequence[StreamSpec]:
        """The ``leads`` stream; its schema comes from Describe Leads (one call, cached)."""
        if self._streams is None:
            schema = lead_schema(self._api.describe_leads())
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
                            "activities, so edits made in the Marketo UI are seen too.")]
        return self._streams

    def check(self) -> None:
        """Fetch a token and describe leads: proves the credentials and the API role."""
        self._streams = None
        self.streams()

    def _fields(self) -> tuple[list[str], list[str]]:
        props = self.stream("leads").fields
        fields = list(self._options.get("fields") or props)
        watch = list(self._options.get("watch_fields") or fields)
        return fields, [f for f in watch if f not in SYSTEM_FIELDS]

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        """Leads changed since ``state``; see :mod:`connectors.marketo.incremental`."""
        self.stream(stream)
        fields, watch = self._fields()
        return read_leads(self._api, state=state, fields=fields, watch=watch,
                          page_size=int(self._options["page_size"]),
                          start=str(self._options["start_datetime"]),
                          include_deleted=bool(self._options["include_deleted"]))

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Creates/upserts by email, updates by id; see :mod:`connectors.marketo.writes`."""
        spec = self.stream(stream)
        read_only = frozenset(k for k, v in spec.fields.items() if v.get("readOnly"))
        hub_id_field = self._options.get("hub_id_field")
        return write_leads(self._api, ops, hub_id_field=hub_id_field, read_only=read_only)

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
