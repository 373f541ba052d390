"""The connector a YAML file describes.

Example:
    A partner's whole connector is a file and, to register it, a two-line class::

        class AcmeConnector(DeclarativeConnector):
            definition_file = Path(__file__).with_name("acme.yaml")

    or, without a package: ``DeclarativeConnector.from_file("acme.yaml")``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import httpx
import jmespath

# Importing the component modules registers their types.
from connectors.declarative import auth as _auth  # noqa: F401
from connectors.declarative import codecs as _codecs
from connectors.declarative import incremental as _incremental
from connectors.declarative import pagination as _pagination
from connectors.declarative.loader import Definition, load_definition
from connectors.declarative.registry import BuildContext, build
from connectors.declarative.rules import ErrorRule, RuleClassifier
from connectors.declarative.templates import TemplateError, render, render_tree
from connectors.declarative.writes import WriteEndpoint
from connectors.sdk import (
    ConfigurationError,
    Connector,
    ConnectorContext,
    HttpClient,
    Page,
    ProtocolError,
    RatePolicy,
    RetryPolicy,
    StreamSpec,
    WriteMode,
    WriteOp,
    WriteResult,
    limiter_for,
)
from connectors.sdk.types import JSON

__all__ = ["DeclarativeConnector"]


def _schema(spec: Mapping[str, Any]) -> dict[str, Any]:
    if spec["type"] == "inline":
        return dict(spec["json_schema"])
    out: dict[str, Any] = {"type": "object", "properties": dict(spec.get("properties") or {}),
                           "additionalProperties": True}
    if spec.get("required"):
        out["required"] = list(spec["required"])
    return out


class _Stream:
    """A stream's built components."""

    def __init__(self, spec: Mapping[str, Any], context: BuildContext) -> None:
        self.spec = spec
        self.name = str(spec["name"])
        self.prefix = str(spec.get("field_prefix", ""))
        where = f"streams[{self.name}]"
        self.selector = jmespath.compile(str(spec["record_selector"]))
        context.where = f"{where}.paginator"
        self.paginator: _pagination.Paginator = build(
            "paginator", spec.get("paginator") or {"type": "none"}, context)
        self.incremental: _incremental.Incremental | None = None
        if spec.get("incremental"):
            context.where = f"{where}.incremental"
            context.extras["cursor_field"] = spec.get("cursor_field", "")
            self.incremental = build("incremental", spec["incremental"], context)
        self.writes = {WriteMode(mode): WriteEndpoint(WriteMode(mode), endpoint, self.prefix)
                       for mode, endpoint in (spec.get("write") or {}).items()}
        batch = spec.get("write_batch_size") or min(
            (w.batch_size for w in self.writes.values()), default=1)
        writable = spec.get("writable_fields")
        self.stream_spec = StreamSpec(
            name=self.name, schema=_schema(spec["schema"]),
            primary_key=tuple(spec.get("primary_key", ["id"])),
            cursor_field=spec.get("cursor_field"),
            page_size=self.paginator.page_size or 200, write_batch_size=int(batch),
            write_modes=frozenset(self.writes),
            writable_fields=frozenset(writable) if writable is not None else None,
            description=str(spec.get("description", "")))

    def records(self, body: Any) -> list[JSON]:
        found = self.selector.search(body)
        if found is None:
            return []
        if isinstance(found, dict):
            found = [found]
        if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
            raise ProtocolError(f"stream {self.name}: record_selector did not find a list of "
                                "objects")
        if not self.prefix:
            return found
        cut = len(self.prefix)
        return [{(k[cut:] if k.startswith(self.prefix) else k): v for k, v in r.items()}
                for r in found]


class DeclarativeConnector(Connector):
    """A connector driven by a connector file (``schemas/declarative-connector.schema.json``).

    Subclasses set :attr:`definition_file`; the file is checked when the class is created,
    so a broken file makes the plug-in fail to load (``renkei connectors`` lists why).

    Args:
        config: Connection config, validated against the file's ``spec``.
        context: Runtime context (ledger, CA bundle).
    """

    definition_file: ClassVar[Path | str | None] = None
    definition: ClassVar[Definition]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.definition_file is not None:
            cls.definition = load_definition(cls.definition_file)
            cls.name = cls.definition.name
            cls.spec = cls.definition.spec

    @classmethod
    def from_file(cls, path: Path | str) -> type[DeclarativeConnector]:
        """A connector class for the file at ``path``.

        Raises:
            DefinitionError: the file is invalid (every problem as ``file:line:col``).
        """
        return type(f"Declarative_{Path(path).stem}", (cls,), {"definition_file": path})

    def __init__(self, config: Mapping[str, Any], *, context: ConnectorContext | None = None):
        if not hasattr(type(self), "definition"):
            raise ConfigurationError("DeclarativeConnector needs a definition_file; use a "
                                     "subclass or DeclarativeConnector.from_file(path)")
        super().__init__(config, context=context)
        data = self.definition.data
        self._config = self._with_defaults(self.config)
        try:
            base_url = str(render(str(data["base_url"]), {"config": self._config})).rstrip("/")
            headers = {k: str(render(str(v), {"config": self._config}))
                       for k, v in (data.get("headers") or {}).items()}
        except TemplateError as exc:
            raise ConfigurationError(f"{self.name}: {exc}") from None
        context_ = BuildContext(self._config, base_url, self.context.connection, "decoder")
        self._decoder: _codecs.Decoder = build("decoder", data.get("decoder") or
                                               {"type": "json"}, context_)
        context_.where = "auth"
        auth: httpx.Auth = build("auth", data["auth"], context_)
        self._streams = {s["name"]: _Stream(s, context_) for s in data["streams"]}
        rules = [ErrorRule.from_spec(r) for r in data.get("errors") or []]
        retry = data.get("retry") or {}
        self.http = HttpClient(
            base_url=base_url, connection=self.context.connection,
            classify=RuleClassifier(rules, self._decoder, self.name), auth=auth,
            limiter=self._limiter(base_url), ledger=self.context.ledger,
            verify=self.context.ca_bundle or True, timeout_s=float(data.get("timeout_s", 30)),
            retry=RetryPolicy(attempts=int(retry.get("attempts", 4)),
                              max_delay_s=float(retry.get("max_delay_s", 30))),
            headers={"Accept": self._decoder.media_type, **headers})

    def _with_defaults(self, config: Mapping[str, Any]) -> dict[str, Any]:
        props = self.spec.get("properties", {})
        out = {k: v["default"] for k, v in props.items() if isinstance(v, Mapping)
               and "default" in v}
        out.update(config)
        return out

    def _limiter(self, base_url: str) -> Any:
        limit = self.definition.data.get("rate_limit")
        if not limit:
            return None
        template = limit.get("account")
        account = (str(render(str(template), {"config": self._config})) if template
                   else urlsplit(base_url).netloc)
        return limiter_for(f"{self.name}:{account}", RatePolicy(
            calls=int(limit.get("calls", 0)), window_s=float(limit.get("window_s", 1)),
            concurrency=int(limit.get("concurrency", 0)),
            daily_quota=int(limit.get("daily_quota", 0))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, connection={self.context.connection!r})"

    # -- Connector --------------------------------------------------------------------------

    def streams(self) -> Sequence[StreamSpec]:
        return [s.stream_spec for s in self._streams.values()]

    def _stream(self, name: str) -> _Stream:
        self.stream(name)  # raises ConfigurationError naming the known streams
        return self._streams[name]

    def check(self) -> None:
        """Read the first page of the ``check.stream`` (default: the first stream)."""
        data = self.definition.data
        name = (data.get("check") or {}).get("stream") or data["streams"][0]["name"]
        next(iter(self.read(name, None)), None)

    def read(self, stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        """Pages of records, following the stream's paginator; incremental when declared."""
        s = self._stream(stream)
        return self._read(s, state)

    def _first_request(self, s: _Stream, state: Mapping[str, Any] | None) -> \
            _pagination.PageRequest:
        scope: dict[str, Any] = {"config": self._config,
                                 "incremental": {"since": s.incremental.since(state)
                                                 if s.incremental else None}}
        try:
            path = str(render(str(s.spec["path"]), scope))
            params = {k: render(str(v), scope) for k, v in (s.spec.get("params") or {}).items()}
            body = render_tree(s.spec["body"], scope) if "body" in s.spec else None
        except TemplateError as exc:
            raise ConfigurationError(f"{self.name} stream {s.name}: {exc}") from None
        return s.paginator.first(_pagination.PageRequest(
            url=path, params={k: v for k, v in params.items() if v is not None}, body=body))

    def _read(self, s: _Stream, state: Mapping[str, Any] | None) -> Iterator[Page]:
        request: _pagination.PageRequest | None = self._first_request(s, state)
        current: JSON = dict(state or {})
        method = str(s.spec.get("method", "GET"))
        body_format = str(s.spec.get("body_format", "json"))
        while request is not None:
            kwargs = _codecs.encode_body(request.body, body_format) if method != "GET" else {}
            headers = {**kwargs.pop("headers", {}), **request.headers}
            # params=None, not {}: httpx replaces a URL's own query (a Link URL) with {}.
            response = self.http.request(method, request.url, kind="read", idempotent=True,
                                         params=request.params or None, headers=headers,
                                         **kwargs)
            body = self._decoder.decode(response.content)
            records = s.records(body)
            count = len(records)
            if s.incremental is not None:
                records, current = s.incremental.advance(
                    records, current, s.stream_spec.record_id)
            yield Page(records=records, state=dict(current))
            following = s.paginator.next(request, response, body, count)
            if following == request:
                raise ProtocolError(f"{self.name} stream {s.name}: the paginator asked for the "
                                    "same page again (a vendor repeating its next link?)")
            request = following

    def write(self, stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        """Ops grouped by mode, sent in batches of each endpoint's ``batch_size``."""
        s = self._stream(stream)
        results: list[WriteResult | None] = [None] * len(ops)
        by_mode: dict[WriteMode, list[int]] = {}
        for index, op in enumerate(ops):
            by_mode.setdefault(op.mode, []).append(index)
        for mode, indexes in by_mode.items():
            endpoint = s.writes.get(mode)
            if endpoint is None:
                raise ConfigurationError(f"{self.name} stream {s.name} has no {mode.value} "
                                         f"endpoint (modes: {', '.join(m.value for m in s.writes)})")
            for start in range(0, len(indexes), endpoint.batch_size):
                chunk = indexes[start:start + endpoint.batch_size]
                batch = [ops[i] for i in chunk]
                for i, result in zip(chunk, self._write_batch(endpoint, batch), strict=True):
                    results[i] = result
        return [r for r in results if r is not None]

    def _write_batch(self, endpoint: WriteEndpoint, ops: Sequence[WriteOp]) -> list[WriteResult]:
        path, params, kwargs = endpoint.request(ops, self._config)
        method = str(endpoint.spec["method"])
        # An upsert by a key or an update by id may be resent safely; a create may not.
        idempotent = endpoint.mode != WriteMode.CREATE
        response = self.http.request(method, path, kind="write", idempotent=idempotent,
                                     params=params, **kwargs)
        return endpoint.results(ops, self._decoder.decode(response.content))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self
