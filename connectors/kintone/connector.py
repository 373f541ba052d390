"""The kintone connector: one stream per configured app, read by 更新日時, written in bulk.

An app's form (``GET /k/v1/app/form/fields.json``, its stream schema) is kept across runs in
the context's describe cache (:mod:`connectors.sdk.cache`), keyed by domain, app and the
credential that decides what the form shows (the login, or the apps of the API tokens;
never a secret). A form kept from an earlier run is read again when:

* kintone refuses a call for a field it does not have (:func:`.errors.field_gone`: a query
  naming a deleted field, an update key no longer unique); the call fails, the next run (or
  the next call of this connector) describes again;
* records read lack a field the form lists (deleted since: kintone would silently drop its
  values on a write [C: cybozu.dev "Add Records": unknown field codes are ignored]);
* a write would refuse an op for the form's sake (a field, option or update key it lacks:
  perhaps added since), or the configured cursor field is missing: once, before refusing.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from typing import Any, ClassVar, Self

from connectors.kintone.api import MAX_READ, MAX_WRITE, KintoneApi, KintoneAuth
from connectors.kintone.errors import KintoneClassifier, field_gone
from connectors.kintone.reading import ReadPlan, read_app
from connectors.kintone.schema import (
    ID,
    REVISION,
    SYSTEM_TYPES,
    UPDATED,
    decode_record,
    record_schema,
)
from connectors.kintone.writing import AppWriter, WritePlan
from connectors.sdk import (
    ConfigurationError,
    Connector,
    ConnectorContext,
    Page,
    RetryPolicy,
    StreamSpec,
    WriteMode,
    WriteOp,
    WriteResult,
)
from connectors.sdk.cache import SchemaCache
from connectors.sdk.config import http_options
from connectors.sdk.types import JSON

__all__ = ["SPEC", "KintoneConnector"]

log = logging.getLogger("renkei.connectors.kintone")

SPEC: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["base_url", "apps"],
    "properties": {
        "base_url": {"type": "string", "pattern": "^https?://",
                     "description": "The kintone domain, e.g. https://example.cybozu.com "
                                    "(or the sandbox emulator's URL)."},
        "api_token": {"type": "string", "minLength": 1, "x-secret": True,
                      "description": "API token(s): one per app, comma-joined "
                                     "(tok1,tok2,...); kintone uses the one of the app "
                                     "each request is about."},
        "login": {"type": "string", "minLength": 1,
                  "description": "Login name for password authentication (instead of "
                                 "API tokens)."},
        "password": {"type": "string", "minLength": 1, "x-secret": True,
                     "description": "Password of the login."},
        "apps": {"type": "object", "minProperties": 1,
                 "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
                 "additionalProperties": {"type": "integer", "minimum": 1},
                 "description": "Stream name → app id, e.g. {leads: 1, alerts: 2, deals: 3, "
                                "activities: 4}."},
        "update_keys": {"type": "object",
                        "additionalProperties": {"type": "string", "minLength": 1},
                        "description": "Stream name → the unique text field that holds the "
                                       "hub reference; creates upsert by it (default 連携ID)."},
        "cursor_fields": {"type": "object",
                          "additionalProperties": {"type": "string", "minLength": 1},
                          "description": "Stream name → code of its UPDATED_TIME field "
                                         "(default 更新日時)."},
        "daily_quota": {"type": "integer", "minimum": 0, "default": 10_000,
                        "description": "Requests per app per day this hub may spend "
                                       "(kintone standard course: 10,000; 0: no cap)."},
        "concurrency": {"type": "integer", "minimum": 0, "maximum": 100, "default": 10,
                        "description": "Requests in flight at once to the domain from this "
                                       "process (kintone allows 100 for the whole domain, "
                                       "shared with every other integration)."},
        **http_options(backoff=True),
        "concurrency_wait_s": {"type": "number", "minimum": 0, "default": 1.0,
                               "description": "Wait after a 429 GAIA_TO04 (kintone sends no "
                                              "Retry-After)."},
        "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_READ,
                      "default": MAX_READ, "description": "Records per read call."},
        "overlap_s": {"type": "number", "minimum": 0, "default": 60,
                      "description": "An incremental read starts this long before the newest "
                                     "更新日時 already read (late commits); what was already "
                                     "delivered is skipped by ($id, $revision)."},
        "cursor_for_full_read": {"type": "boolean", "default": True,
                                 "description": "Read everything through the cursor API when "
                                                "there is no read state yet."},
    },
}

_DEFAULTS = {k: v["default"] for k, v in SPEC["properties"].items() if "default" in v}


def _form_key(app: int) -> str:
    return f"app:{app}"


def _is_form(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("properties"), dict)


def _lacks_fields(spec: StreamSpec, records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Fields of the schema that the records do not carry (kintone sends every field of the
    form with each record, but for the system fields of disabled features)."""
    if not records:
        return []
    first = records[0]
    return [code for code, prop in spec.fields.items()
            if prop.get("x-kintone-type") not in SYSTEM_TYPES and code not in first]


class KintoneConnector(Connector):
    """kintone apps as streams, over the REST API with httpx.

    Each stream is one app: its schema comes from the app's form fields (one call per app,
    kept across runs by the context's describe cache); primary key ``$id``; cursor
    ``更新日時``; version ``$revision``, so an update the engine makes against an old
    revision is refused by kintone instead of overwriting a salesperson's edit. Reads and
    writes: :mod:`.reading`, :mod:`.writing`.

    Example:
        >>> c = KintoneConnector({"base_url": "https://example.cybozu.com",
        ...                       "api_token": "s3cret", "apps": {"leads": 1}})
        >>> "s3cret" in repr(c) + repr(c.config)
        False
        >>> c.close()
    """

    name: ClassVar[str] = "kintone"
    version: ClassVar[str] = "0.1.0"
    spec: ClassVar[Mapping[str, Any]] = SPEC

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        super().__init__(config, context=context)
        self.config = {**_DEFAULTS, **self.config}
        self.apps: dict[str, int] = {str(k): int(v) for k, v in self.config["apps"].items()}
        self._update_keys = {s: str(self.config.get("update_keys", {}).get(s, "連携ID"))
                             for s in self.apps}
        has_token = bool(self.config.get("api_token"))
        has_login = bool(self.config.get("login")) and bool(self.config.get("password"))
        if has_token == has_login:
            # Checked here, not by a root-level oneOf in the spec: jsonschema's message for
            # that would print the whole config, secrets included.
            raise ConfigurationError(f"connection {self.context.connection!r}: give api_token, "
                                     "or login and password (exactly one of the two)")
        self._cursor_fields = {s: str(self.config.get("cursor_fields", {}).get(s, UPDATED))
                               for s in self.apps}
        auth = KintoneAuth(api_token=self.config.get("api_token"),
                           login=self.config.get("login"), password=self.config.get("password"))
        classifier = KintoneClassifier(
            concurrency_wait_s=float(self.config["concurrency_wait_s"]),
            app_names={str(app): stream for stream, app in self.apps.items()})
        self._api = KintoneApi(
            base_url=str(self.config["base_url"]), auth=auth,
            connection=self.context.connection, ledger=self.context.ledger,
            classifier=classifier, concurrency=int(self.config["concurrency"]),
            daily_quota=int(self.config["daily_quota"]),
            timeout_s=float(self.config["timeout_s"]),
            retry=RetryPolicy(attempts=int(self.config["retry_attempts"]),
                              base_delay_s=float(self.config["retry_base_delay_s"])),
            verify=self.context.ca_bundle or True)
        self._streams: dict[str, StreamSpec] = {}
        self._from_cache: set[str] = set()  # streams whose form came from the cache
        # What a form shows depends on the domain and on who asks: the user of password
        # auth, or the apps whose API tokens are sent. The token itself never goes in a key.
        who = (f"user:{self.config['login']}" if has_login else
               "tokens:apps=" + ",".join(str(a) for a in sorted(set(self.apps.values()))))
        self._schemas: SchemaCache = self.context.schemas(
            f"kintone:{self._api.base_url}:{who}")

    @property
    def api(self) -> KintoneApi:
        """The underlying calls (for diagnostics and tests)."""
        return self._api

    # -- streams -----------------------------------------------------------------------------
    def streams(self) -> Sequence[StreamSpec]:
        """One stream per configured app (its form fields are read once)."""
        return [self.stream(name) for name in self.apps]

    def stream(self, name: str) -> StreamSpec:
        """The stream ``name``; only its own app's form is read.

        Raises:
            ConfigurationError: no such stream, or the app lacks the cursor field.
        """
        spec = self._streams.get(name)
        if spec is not None:
            return spec
        app = self._app(name)
        form, cached = self._form(app)
        try:
            spec = self._spec(name, app, form)
        except ConfigurationError:
            if not cached:
                raise
            form, cached = self._form(app, fresh=True)  # the field may be new since
            spec = self._spec(name, app, form)
        self._streams[name] = spec
        if cached:
            self._from_cache.add(name)
        else:
            self._from_cache.discard(name)
        return spec

    def _form(self, app: int, *, fresh: bool = False) -> tuple[dict[str, Any], bool]:
        """The app's form fields and whether they came from the cache (a damaged entry is
        read again)."""
        key = _form_key(app)
        if fresh:
            self._schemas.invalidate(key)
        got = self._schemas.get_or_fetch(key, lambda: self._api.form_fields(app))
        if not _is_form(got.value):
            self._schemas.invalidate(key)
            got = self._schemas.get_or_fetch(key, lambda: self._api.form_fields(app))
        form: dict[str, Any] = got.value
        return form, got.hit

    def _forget(self, name: str) -> None:
        """Drop the stream's form, kept and cached: the next use describes the app again."""
        self._streams.pop(name, None)
        self._from_cache.discard(name)
        self._schemas.invalidate(_form_key(self._app(name)))

    @contextmanager
    def _forgetting(self, name: str) -> Iterator[None]:
        """Forget the stream's form if the body fails for a field kintone does not have."""
        def gone(exc: BaseException) -> bool:
            if not field_gone(exc):
                return False
            log.info("connection %r: kintone no longer has a field of stream %r as cached; "
                     "its form is read again next time", self.context.connection, name)
            self._streams.pop(name, None)
            self._from_cache.discard(name)
            return True

        with self._schemas.forgetting(_form_key(self._app(name)), gone):
            yield

    def _spec(self, name: str, app: int, form: Mapping[str, Any]) -> StreamSpec:
        schema = record_schema(form, title=f"kintone app {app}")
        props = schema["properties"]
        cursor = self._cursor_fields[name]
        if props.get(cursor, {}).get("x-kintone-type") != "UPDATED_TIME":
            raise ConfigurationError(f"kintone app {app} (stream {name!r}) has no UPDATED_TIME "
                                     f"field {cursor!r}; set cursor_fields.{name}")
        writable = frozenset(k for k, v in props.items() if not v.get("readOnly"))
        return StreamSpec(
            name=name, schema=schema, primary_key=(ID,), cursor_field=cursor,
            page_size=int(self.config["page_size"]), write_batch_size=MAX_WRITE,
            write_modes=frozenset({WriteMode.CREATE, WriteMode.UPDATE, WriteMode.UPSERT}),
            writable_fields=writable, version_field=REVISION,
            description=f"kintone app {app}: records by {cursor}; creates upsert by "
                        f"{self._update_keys[name]}; updates checked by $revision.")

    def _app(self, name: str) -> int:
        app = self.apps.get(name)
        if app is None:
            known = ", ".join(self.apps)
            raise ConfigurationError(f"kintone has no stream {name!r} (streams: {known})")
        return app

    # -- the four operations -----------------------------------------------------------------
    def check(self) -> None:
        """One cheap authenticated call (``app.json`` of the first app).

        Raises:
            AuthenticationError: the token or the login is refused.
            ConfigurationError: the app does not exist or the token cannot see it.
        """
        self._api.app(next(iter(self.apps.values())))

    def read(self, stream: str, state: Mapping[str, Any] | None
             ) -> Generator[Page, None, None]:
        """Records changed since ``state``, oldest 更新日時 first; see :mod:`.reading`."""
        spec = self.stream(stream)
        plan = ReadPlan(app=self._app(stream), cursor_field=spec.cursor_field or UPDATED,
                        page_size=spec.page_size, overlap_s=float(self.config["overlap_s"]),
                        cursor_for_full_read=bool(self.config["cursor_for_full_read"]))
        return self._read(stream, spec, plan, state)

    def _read(self, name: str, spec: StreamSpec, plan: ReadPlan,
              state: Mapping[str, Any] | None) -> Generator[Page, None, None]:
        pages = read_app(self._api, plan, state)
        with closing(pages), self._forgetting(name):
            for page in pages:
                if name in self._from_cache and (gone := _lacks_fields(spec, page.records)):
                    log.info("connection %r: kintone app %s no longer has %s; its form is "
                             "read again", self.context.connection, plan.app, ", ".join(gone))
                    self._forget(name)
                yield page

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Creates (upserts by the update key), upserts and revision-checked updates, 100 per
        call; one result per op, in order; see :mod:`.writing`."""
        writer, plan = self._plan(stream, self.stream(stream), ops)
        if plan is None:
            # Refused for the sake of a form kept from an earlier run: read it again, once.
            self._forget(stream)
            writer, plan = self._plan(stream, self.stream(stream), ops)
            assert plan is not None  # a form just read is never doubted
        with self._forgetting(stream):
            results = writer.send(plan)
        if writer.form_refused:
            self._forget(stream)
        return results

    def _plan(self, name: str, spec: StreamSpec, ops: Sequence[WriteOp]
              ) -> tuple[AppWriter, WritePlan | None]:
        """A writer and its plan; None for the plan when the form came from the cache and
        refused an op (or the update key) for its own sake."""
        writer = AppWriter(self._api, self._app(name), spec.fields, self._update_keys[name])
        cached = name in self._from_cache
        try:
            plan = writer.prepare(ops)
        except ConfigurationError:
            if not cached:
                raise
            return writer, None
        return writer, None if cached and plan.doubts_form else plan

    def fetch(self, stream: str, ids: Sequence[str]) -> list[JSON]:
        """The current records with these ``$id`` values: one GET per 100 ids."""
        self.stream(stream)
        app = self._app(stream)
        wanted = list(dict.fromkeys(str(i) for i in ids if str(i).isdigit()))
        out: list[JSON] = []
        for start in range(0, len(wanted), MAX_WRITE):
            chunk = wanted[start:start + MAX_WRITE]
            query = f"{ID} in ({', '.join(chunk)}) order by {ID} asc limit {len(chunk)}"
            out.extend(decode_record(r) for r in self._api.records(app, query))
        return out

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Self:  # the base class types it as Connector
        return self
