"""The Salesforce connector: Lead and Contact (or any sObject) in, sObject Collections out.

Opportunity records carry ``contact_emails``, their contact roles' e-mails
(:mod:`connectors.salesforce.contact_roles`); list ``Opportunity`` in ``streams`` to read them.

Example:
    A connection in the project config::

        salesforce:
          type: salesforce
          login_url: https://login.salesforce.com
          client_id: 3MVG9...
          client_secret: ${SF_CLIENT_SECRET}
          external_id_field: Renkei_Id__c

    and in Python::

        with SalesforceConnector(config) as sf:
            for page in sf.read("Lead", state=None):
                ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from connectors.salesforce.client import ApiUsage, SalesforceClient
from connectors.salesforce.contact_roles import (
    CONTACT_EMAILS,
    add_contact_emails,
    contact_emails_property,
)
from connectors.salesforce.errors import record_error
from connectors.salesforce.streams import WRITE_BATCH, stream_from_describe
from connectors.sdk import (
    ConfigurationError,
    Connector,
    ConnectorContext,
    ErrorCategory,
    Page,
    ProtocolError,
    RatePolicy,
    RecordError,
    RetryPolicy,
    StreamSpec,
    WriteMode,
    WriteOp,
    WriteResult,
    limiter_for,
)
from connectors.sdk.cache import SchemaCache
from connectors.sdk.config import http_options

__all__ = ["SalesforceConnector"]

log = logging.getLogger("renkei.connectors.salesforce")

SPEC: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["client_id", "client_secret"],
    "anyOf": [{"required": ["login_url"]}, {"required": ["token_url"]}],
    "properties": {
        "login_url": {"type": "string", "pattern": "^https?://",
                      "description": "Where to log in: https://login.salesforce.com, "
                                     "https://test.salesforce.com, your My Domain, or the "
                                     "sandbox emulator's URL."},
        "token_url": {"type": "string", "pattern": "^https?://",
                      "description": "OAuth token endpoint; default "
                                     "{login_url}/services/oauth2/token."},
        "instance_url": {"type": "string", "pattern": "^https?://",
                         "description": "Override the instance_url the token response names."},
        "client_id": {"type": "string", "minLength": 1,
                      "description": "Consumer key of the connected app."},
        "client_secret": {"type": "string", "minLength": 1, "x-secret": True,
                          "description": "Consumer secret of the connected app."},
        "username": {"type": "string",
                     "description": "Integration user for the password flow; omit for the "
                                    "client-credentials flow."},
        "password": {"type": "string", "x-secret": True,
                     "description": "Password of the integration user."},
        "security_token": {"type": "string", "x-secret": True,
                           "description": "Security token, appended to the password."},
        "api_version": {"type": "string", "pattern": r"^\d{2}\.0$", "default": "59.0",
                        "description": "REST API version, without the 'v'."},
        "external_id_field": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*__c$",
                              "description": "External id field holding the hub reference "
                                             "(e.g. Renkei_Id__c): creates become idempotent "
                                             "upserts by it."},
        "streams": {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z_0-9]+$"},
                    "minItems": 1, "uniqueItems": True, "default": ["Lead", "Contact"],
                    "description": "sObjects offered as streams."},
        "daily_quota": {"type": "integer", "minimum": 0, "default": 0,
                        "description": "This process's own budget of calls per day (0: none)."},
        "max_org_usage": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.9,
                          "description": "Stop before a call once the org's daily API usage "
                                         "(Sforce-Limit-Info) reaches this fraction, leaving "
                                         "the rest to other integrations."},
        **http_options(backoff=True),
    },
}


def _field_gone(exc: BaseException) -> bool:
    return getattr(exc, "vendor_code", None) == "INVALID_FIELD"


def _parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text)  # 3.11 reads "+0000" and "Z" too


def _query_more(url: str) -> Callable[[Salesforce], Any]:
    return lambda sf: sf.query_more(url, identifier_is_url=True)


class SalesforceConnector(Connector):
    """Salesforce through simple-salesforce, typed and guarded.

    Reads are incremental by ``SystemModstamp`` (``queryAll``, so deletions come back as
    tombstones); writes go through sObject Collections, 200 records per call, creates as
    external-id upserts when ``external_id_field`` is set (a rerun then updates instead of
    duplicating).
    """

    name: ClassVar[str] = "salesforce"
    version: ClassVar[str] = "0.1.0"
    stream_names: ClassVar[tuple[str, ...]] = ("Lead", "Contact")
    spec: ClassVar[Mapping[str, Any]] = SPEC

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        super().__init__(config, context=context)
        defaults = {k: v["default"] for k, v in SPEC["properties"].items() if "default" in v}
        self.config = {**defaults, **self.config}
        account = f"salesforce:{self.config.get('login_url') or self.config.get('token_url')}" \
                  f":{self.config['client_id']}"
        limiter = limiter_for(account, RatePolicy(daily_quota=int(self.config["daily_quota"])))
        retry = RetryPolicy(attempts=int(self.config["retry_attempts"]),
                            base_delay_s=float(self.config["retry_base_delay_s"]))
        self._client = SalesforceClient(self.config, self.context, limiter, retry)
        self._streams: dict[str, StreamSpec] = {}

    # -- public surface ------------------------------------------------------------------
    @property
    def api_usage(self) -> ApiUsage | None:
        """The org's daily API usage from the last response's ``Sforce-Limit-Info``."""
        return self._client.api_usage

    @property
    def external_id_field(self) -> str | None:
        value = self.config.get("external_id_field")
        return str(value) if value else None

    def streams(self) -> Sequence[StreamSpec]:
        """One stream per configured sObject; describe is called once per object."""
        return [self._describe(str(name)) for name in self.config["streams"]]

    def stream(self, name: str) -> StreamSpec:
        """The stream ``name``, describing only that object: a sync of Lead must not spend a
        describe call on Contact (the base class would describe every configured stream)."""
        return self._stream(name)

    def check(self) -> None:
        """Log in, read the org's limits, and describe every configured object.

        Raises:
            AuthenticationError: the credentials are refused.
            ConfigurationError: an object or the external id field does not exist.
        """
        self._client.call(lambda sf: sf.limits(), method="GET", path="limits/", kind="read",
                          idempotent=True)
        for spec in self.streams():
            ext = self.external_id_field
            if ext and not spec.fields.get(ext, {}).get("x-external-id"):
                raise ConfigurationError(
                    f"{ext} is not an external id field of {spec.name} in this org")

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        """Records changed since ``state``, one page per query batch, oldest first.

        The query asks for ``SystemModstamp >= since`` (whole seconds: SOQL datetime
        literals carry none) and the pages already delivered are skipped by their stamp and
        by the ids recorded at the boundary stamp, so a resumed read neither loses records
        that share a stamp with the last one seen nor delivers any twice.
        """
        spec = self._stream(stream)
        fields = [f for f in spec.fields if f != CONTACT_EMAILS]
        since = _parse_stamp(str(state["since"])) if state and state.get("since") else None
        seen_at_since = set(state.get("ids_at_since", ())) if state else set()
        select = format_soql("SELECT {:literal} FROM {:literal}", ", ".join(fields), spec.name)
        if since is None:
            soql = select + " ORDER BY SystemModstamp, Id"
        else:
            soql = select + format_soql(" WHERE SystemModstamp >= {} ORDER BY SystemModstamp, Id",
                                        since.astimezone(UTC))
        include_deleted = since is not None
        # A field deleted in the org since the describe was cached: the next run describes
        # again instead of failing on the same query until the cache expires.
        with self._schemas().forgetting(spec.name, _field_gone):
            body = self._client.call(lambda sf: sf.query(soql, include_deleted=include_deleted),
                                     method="GET",
                                     path="queryAll/" if include_deleted else "query/",
                                     kind="read", idempotent=True)
        boundary, boundary_ids = since, seen_at_since
        while True:
            page, boundary, boundary_ids = self._page(body, boundary, boundary_ids)
            if spec.name == "Opportunity" and page.records:
                add_contact_emails(self._client, page.records)  # one query per 200 deals
            if page.records or page.deleted:
                yield page
            if body.get("done", True):
                return
            next_url = str(body["nextRecordsUrl"])
            body = self._client.call(
                _query_more(next_url),
                method="GET", path=next_url.split("?", 1)[0], kind="read", idempotent=True)

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Write ops through sObject Collections, at most 200 records per call.

        Creates become upserts by ``external_id_field`` (value: the op's ``ref``) when it is
        configured, else plain creates; updates go by ``Id``. One result per op, in order.
        """
        spec = self._stream(stream)
        results: list[WriteResult | None] = [None] * len(ops)
        groups: dict[str, list[int]] = {"create": [], "upsert": [], "update": []}
        for i, op in enumerate(ops):
            route, problem = self._route(op)
            if problem is not None:
                results[i] = WriteResult.failure(problem)
            else:
                groups[route].append(i)
        for route, indices in groups.items():
            for start in range(0, len(indices), WRITE_BATCH):
                chunk = indices[start:start + WRITE_BATCH]
                with self._schemas().forgetting(spec.name, _field_gone):
                    written = self._write_chunk(spec, route, [ops[i] for i in chunk])
                for i, result in zip(chunk, written):
                    results[i] = result
        return [r for r in results if r is not None]

    def close(self) -> None:
        self._client.close()

    def _schemas(self) -> SchemaCache:
        """The describe cache of this org, app, user and API version (field visibility is
        per user)."""
        return self.context.schemas(":".join(str(self.config.get(k) or "") for k in (
            "login_url", "token_url", "client_id", "username", "api_version")))

    # -- reading -------------------------------------------------------------------------
    def _page(self, body: Mapping[str, Any], since: datetime | None,
              seen: set[str]) -> tuple[Page, datetime | None, set[str]]:
        records, deleted = [], []
        boundary, boundary_ids = since, set(seen)
        for raw in body.get("records") or ():
            record = {k: v for k, v in raw.items() if k != "attributes"}
            stamp = _parse_stamp(str(record["SystemModstamp"]))
            if since is not None and (stamp < since or (stamp == since and record["Id"] in seen)):
                continue  # delivered by an earlier page or read
            if boundary is None or stamp > boundary:
                boundary, boundary_ids = stamp, set()
            boundary_ids.add(str(record["Id"]))
            if record.get("IsDeleted"):
                deleted.append(str(record["Id"]))
            else:
                records.append(record)
        state: dict[str, Any] = {}
        if boundary is not None:
            state = {"since": boundary.astimezone(UTC).isoformat(timespec="milliseconds"),
                     "ids_at_since": sorted(boundary_ids)}
        return Page(records=records, state=state, deleted=deleted), boundary, boundary_ids

    # -- writing -------------------------------------------------------------------------
    def _route(self, op: WriteOp) -> tuple[str, RecordError | None]:
        ext = self.external_id_field
        if op.mode == WriteMode.UPDATE:
            if not op.id:
                return "update", RecordError(ErrorCategory.CONFIGURATION,
                                             "an update needs the record's Id")
            return "update", None
        if op.mode == WriteMode.UPSERT:
            if not ext:
                return "upsert", RecordError(ErrorCategory.CONFIGURATION,
                                             "upsert needs external_id_field in the config")
            if not (op.values.get(ext) or op.ref):
                return "upsert", RecordError(ErrorCategory.CONFIGURATION,
                                             f"upsert needs a value for {ext} or a ref")
            return "upsert", None
        return ("upsert" if ext and op.ref else "create"), None

    def _write_chunk(self, spec: StreamSpec, route: str, ops: list[WriteOp]) -> list[WriteResult]:
        ext = self.external_id_field
        records: list[dict[str, Any]] = []
        for op in ops:
            record: dict[str, Any] = {"attributes": {"type": spec.name}, **op.values}
            if route == "update":
                record["Id"] = op.id
            elif route == "upsert":
                assert ext is not None
                record[ext] = op.values.get(ext) or op.ref
            records.append(record)
        body = {"allOrNone": False, "records": records}
        if route == "create":
            path, method, idempotent = "composite/sobjects", "POST", False
        elif route == "update":
            path, method, idempotent = "composite/sobjects", "PATCH", True
        else:
            # Upserting by a stable key is safe to resend after a timeout.
            path, method, idempotent = f"composite/sobjects/{spec.name}/{ext}", "PATCH", True

        def send(sf: Salesforce) -> Any:
            return sf.restful(path, method=method, json=body)

        answer = self._client.call(send, method=method, path=path, kind="write",
                                   idempotent=idempotent)
        if not isinstance(answer, list) or len(answer) != len(ops):
            raise ProtocolError(f"{method} {path} answered {type(answer).__name__} for "
                                f"{len(ops)} records")
        results = []
        for op, saved in zip(ops, answer):
            if saved.get("success"):
                created = route == "create" or bool(saved.get("created"))
                results.append(WriteResult.success(str(saved.get("id")), created=created))
            else:
                errors = saved.get("errors") or [{}]
                results.append(WriteResult.failure(
                    record_error(errors[0], updating=route == "update")))
        return results

    # -- describe ------------------------------------------------------------------------
    def _stream(self, name: str) -> StreamSpec:
        if name not in self.config["streams"]:
            known = ", ".join(self.config["streams"])
            raise ConfigurationError(f"salesforce has no stream {name!r} (streams: {known})")
        return self._describe(name)

    def _describe(self, name: str) -> StreamSpec:
        spec = self._streams.get(name)
        if spec is None:
            path = f"sobjects/{name}/describe/"

            def fetch() -> dict[str, Any]:
                answer = self._client.call(lambda sf: sf.restful(path), method="GET", path=path,
                                           kind="read", idempotent=True)
                if not isinstance(answer, dict) or "fields" not in answer:
                    raise ProtocolError(f"GET {path} answered no field list")
                return answer

            # Kept across runs (the context's schema cache, scoped to org, app, user and API
            # version: field visibility is per user); a damaged entry is described again.
            schemas = self._schemas()
            describe = schemas.get_or_fetch(name, fetch).value
            if not isinstance(describe, dict) or not isinstance(describe.get("fields"), list):
                schemas.invalidate(name)
                describe = schemas.get_or_fetch(name, fetch).value
            spec = stream_from_describe(describe, external_id_field=self.external_id_field)
            if spec.name == "Opportunity":
                spec = replace(spec, schema={**spec.schema, "properties": {
                    **spec.fields, CONTACT_EMAILS: contact_emails_property()}})
            self._streams[name] = spec
        return spec
