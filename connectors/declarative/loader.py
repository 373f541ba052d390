"""Connector files: YAML → checked :class:`Definition`, or every problem as ``file:line:col``.

Three passes, all reported together: YAML (the positioned loader of the mapping files),
the JSON Schema ``schemas/declarative-connector.schema.json``, and the checks a schema
cannot make (templates use only the roots available where they stand, auth secrets refer to
``x-secret`` config properties, jmespath compiles, stream names are unique, a per-record
path such as ``/sheet/{op.id}`` only on endpoints that write one record per call).

Schema messages never quote a value found under a secret-looking key: a literal password
pasted into the file must not end up in a terminal or a CI log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jmespath
from jmespath import exceptions as jexc
from jsonschema import Draft202012Validator

from connectors.declarative.templates import TemplateError, parse, refs_in
from connectors.sdk.errors import ConfigurationError
from renkei.mapping.diagnostics import Diagnostic, sort_diagnostics
from renkei.mapping.loader import Document, PathKey, parse_yaml

__all__ = ["SCHEMA_PATH", "Definition", "DefinitionError", "load_definition", "parse_definition"]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "declarative-connector.schema.json"
_SECRET_KEYS = frozenset({"value", "token", "password", "client_secret", "secret", "api_key",
                          "default", "examples"})

# Roots each kind of template may use.
_CONFIG = frozenset({"config"})
_READ = frozenset({"config", "incremental"})
_ITEM = frozenset({"config", "op", "record"})
_BODY = frozenset({"config", "items"})
_ONE = frozenset({"config", "op", "record"})


class DefinitionError(ConfigurationError):
    """A connector file is invalid; carries every :class:`Diagnostic` found.

    Example:
        >>> try:
        ...     parse_definition("version: 2", "bad.yaml")
        ... except DefinitionError as exc:
        ...     print(exc.diagnostics[0].format().split(": ")[0])
        bad.yaml:1:1
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        shown = "\n".join(d.format() for d in diagnostics[:20])
        super().__init__(f"{len(diagnostics)} error(s) in connector file:\n{shown}")


@dataclass(frozen=True)
class Definition:
    """A checked connector file.

    Attributes:
        path: The file, as named in diagnostics.
        data: The parsed document (plain dicts and lists).
    """

    path: str
    data: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.data["spec"]
        assert isinstance(spec, Mapping)
        return spec

    def streams(self) -> list[Mapping[str, Any]]:
        return list(self.data["streams"])


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _schema_problems(doc: Document) -> Iterator[Diagnostic]:
    for error in _validator().iter_errors(doc.data):
        # An if/then branch reports the inner error; the outer "allOf" adds nothing.
        path: PathKey = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
            for key in extra:
                yield doc.diagnostic((*path, key), f"unknown key '{key}'", at_key=True)
            continue
        if error.validator == "required":
            yield doc.diagnostic(path, error.message.replace("is a required property",
                                                             "is required"))
            continue
        if any(isinstance(p, str) and p in _SECRET_KEYS for p in path):
            yield doc.diagnostic(path, f"invalid value ({error.validator} check failed; value "
                                       "hidden, it may be a secret)")
            continue
        yield doc.diagnostic(path, error.message)


def _template(doc: Document, path: PathKey, text: Any, roots: frozenset[str]) -> Iterator[
        Diagnostic]:
    for string in refs_in(text):
        try:
            parse(string, roots)
        except TemplateError as exc:
            yield doc.diagnostic(path, str(exc))


def _jmespath(doc: Document, path: PathKey, text: Any) -> Iterator[Diagnostic]:
    if not isinstance(text, str):
        return
    try:
        jmespath.compile(text)
    except (jexc.JMESPathError, ValueError, TypeError) as exc:
        yield doc.diagnostic(path, f"invalid jmespath expression: {exc}")


def _secret_refs(doc: Document) -> Iterator[Diagnostic]:
    data = doc.data
    props = data.get("spec", {}).get("properties", {})
    auth = data.get("auth", {})
    if not isinstance(auth, Mapping) or not isinstance(props, Mapping):
        return
    for key in ("value", "token", "password", "client_secret"):
        ref = auth.get(key)
        if not isinstance(ref, str) or not ref.startswith("{config."):
            continue
        name = ref[len("{config."):-1]
        prop = props.get(name)
        if not isinstance(prop, Mapping):
            yield doc.diagnostic(("auth", key), f"config has no property '{name}' (add it to "
                                                "spec.properties with x-secret: true)")
        elif not prop.get("x-secret"):
            yield doc.diagnostic(("auth", key), f"config property '{name}' holds a secret: "
                                                "mark it x-secret: true in spec.properties")


def _stream_problems(doc: Document, index: int, stream: Mapping[str, Any]) -> Iterator[
        Diagnostic]:
    at: PathKey = ("streams", index)
    for key in ("path", "params", "body"):
        yield from _template(doc, (*at, key), stream.get(key), _READ)
    yield from _jmespath(doc, (*at, "record_selector"), stream.get("record_selector"))
    paginator = stream.get("paginator") or {}
    yield from _template(doc, (*at, "paginator", "page_size"), paginator.get("page_size"),
                         _CONFIG)
    for key in ("total_path", "total_pages_path", "token_path"):
        yield from _jmespath(doc, (*at, "paginator", key), paginator.get(key))
    if paginator.get("type") == "cursor" and not (paginator.get("token_path")
                                                  or paginator.get("token_header")):
        yield doc.diagnostic((*at, "paginator"), "a cursor paginator needs token_path or "
                                                 "token_header")
    incremental = stream.get("incremental")
    if incremental and incremental.get("type") == "datetime" and not stream.get("cursor_field"):
        yield doc.diagnostic((*at, "incremental"), "incremental reads need the stream's "
                                                   "cursor_field")
    for mode, endpoint in (stream.get("write") or {}).items():
        where: PathKey = (*at, "write", mode)
        single = int(endpoint.get("batch_size", 1)) == 1
        yield from _template(doc, (*where, "path"), endpoint.get("path"), _ONE if single
                             else _CONFIG)
        yield from _template(doc, (*where, "params"), endpoint.get("params"), _ONE if single
                             else _CONFIG)
        yield from _template(doc, (*where, "item"), endpoint.get("item"), _ITEM)
        yield from _template(doc, (*where, "body"), endpoint.get("body"), _BODY | (
            _ONE if single else frozenset()))
        for key, expr in (endpoint.get("results") or {}).items():
            yield from _jmespath(doc, (*where, "results", key), expr)


def _semantic_problems(doc: Document) -> Iterator[Diagnostic]:
    data = doc.data
    yield from _template(doc, ("base_url",), data.get("base_url"), _CONFIG)
    yield from _template(doc, ("headers",), data.get("headers"), _CONFIG)
    auth = data.get("auth") or {}
    for key in ("name", "username", "token_url", "client_id", "scope"):
        yield from _template(doc, ("auth", key), auth.get(key), _CONFIG)
    yield from _template(doc, ("rate_limit", "account"), (data.get("rate_limit") or {}).get(
        "account"), _CONFIG)
    yield from _secret_refs(doc)
    for index, rule in enumerate(data.get("errors") or []):
        yield from _jmespath(doc, ("errors", index, "body_path"), rule.get("body_path"))
    seen: dict[str, int] = {}
    for index, stream in enumerate(data.get("streams") or []):
        name = stream.get("name")
        if name in seen:
            yield doc.diagnostic(("streams", index, "name"), f"stream '{name}' is defined "
                                 f"twice (first as streams[{seen[name]}])")
        seen.setdefault(str(name), index)
        yield from _stream_problems(doc, index, stream)
    check = (data.get("check") or {}).get("stream")
    if check is not None and check not in seen:
        yield doc.diagnostic(("check", "stream"), f"no stream named '{check}'")


def parse_definition(raw: bytes | str, path: str = "<connector>") -> Definition:
    """Check a connector file's text.

    Raises:
        DefinitionError: every problem found, sorted by line.
    """
    doc, problems = parse_yaml(path, raw)
    if doc is None or problems:
        raise DefinitionError(sort_diagnostics(problems))
    problems = list(_schema_problems(doc))
    if not problems:  # semantic checks assume the shapes the schema guarantees
        problems = list(_semantic_problems(doc))
    if problems:
        raise DefinitionError(sort_diagnostics(problems))
    return Definition(path, doc.data)


def load_definition(path: Path | str) -> Definition:
    """Read and check a connector file.

    Raises:
        DefinitionError: unreadable, or invalid (every problem, as ``file:line:col``).
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DefinitionError([Diagnostic(str(path), 1, 1, f"cannot read the file: "
                                                           f"{exc.strerror}")]) from None
    return parse_definition(raw, str(path))

