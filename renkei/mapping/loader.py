"""YAML text to plain data, keeping the line and column of every key and value.

The loader reads a deliberately small YAML dialect, close to YAML 1.2's core schema, so that
what an editor shows is what the hub sees:

* booleans are only ``true``/``false`` (``yes``, ``no``, ``on``, ``off`` stay strings);
* integers are decimal without leading zeros (``0123`` stays the string ``"0123"``: postal
  codes and phone numbers keep their zeros); no octal, hex or sexagesimal (``10:30``);
* dates and times stay strings (``2024-01-02`` is not turned into a ``date``);
* a key defined twice is an error (PyYAML would silently keep the last one).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from renkei.mapping.diagnostics import Diagnostic

PathKey = tuple[str | int, ...]
"""A location in the document: keys and list indexes from the root."""

MAX_NODES = 100_000
MAX_DEPTH = 64


class _Loader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2-like implicit types described in the module doc."""


# Start from no implicit types at all (not SafeLoader's YAML 1.1 set), then add ours.
_Loader.yaml_implicit_resolvers = {}


def _add(tag: str, pattern: str, first: str) -> None:
    _Loader.add_implicit_resolver(tag, re.compile(pattern, re.VERBOSE), list(first))


_add("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_add("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789")
_add(
    "tag:yaml.org,2002:float",
    r"""^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9]+[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""",
    "-+0123456789.",
)
_add("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN")
_Loader.yaml_implicit_resolvers.setdefault("", []).append(
    ("tag:yaml.org,2002:null", re.compile(r"^$"))
)


def value_key(value: Any) -> str:
    """The string a scalar is compared by in value maps (``1`` → ``"1"``, True → ``"true"``).

    Example:
        >>> value_key(12.0), value_key(True), value_key("セミナー")
        ('12', 'true', 'セミナー')
    """
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Document:
    """A parsed YAML document and where each part of it is.

    Attributes:
        path: The file name used in diagnostics.
        data: Plain Python data (dicts with string keys, lists, scalars).
        value_pos: Path → (line, col) of each value node, 1-based.
        key_pos: Path → (line, col) of the key naming each mapping entry, 1-based.
        typed_keys: Path of a mapping → {string key: original scalar} for keys that were
            not strings in YAML (``1: seminar``), so value maps can write them back typed.
    """

    path: str
    data: Any
    value_pos: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_pos: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    typed_keys: dict[PathKey, dict[str, Any]] = field(default_factory=dict)

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Where ``path`` is; the key's position if ``key``; else the nearest ancestor's."""
        probe = tuple(path)
        while True:
            if key and probe in self.key_pos:
                return self.key_pos[probe]
            if probe in self.value_pos:
                return self.value_pos[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]

    def diagnostic(
        self, path: PathKey, message: str, *, at_key: bool = False, warning: bool = False
    ) -> Diagnostic:
        """A :class:`Diagnostic` about ``path`` in this document."""
        line, col = self.position(path, key=at_key)
        return Diagnostic(
            self.path, line, col, message, dotted(path) or None,
            "warning" if warning else "error",
        )


def dotted(path: Sequence[str | int]) -> str:
    """``("fields", "email", "transform", 0)`` → ``fields.email.transform[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Walker:
    """Builds plain data from a composed node tree, recording positions and problems."""

    def __init__(self, loader: _Loader, doc: Document) -> None:
        self.loader = loader
        self.doc = doc
        self.problems: list[Diagnostic] = []
        self.count = 0

    def fail(self, node: Node, path: PathKey, message: str) -> None:
        line, col = _mark(node)
        self.problems.append(Diagnostic(self.doc.path, line, col, message, dotted(path) or None))

    def walk(self, node: Node, path: PathKey, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(f"the document is too large (more than {MAX_NODES} nodes)")
        if depth > MAX_DEPTH:
            raise _TooBig(f"the document is nested too deeply (more than {MAX_DEPTH} levels)")
        self.doc.value_pos.setdefault(path, _mark(node))
        if isinstance(node, MappingNode):
            return self.walk_mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return [self.walk(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def walk_mapping(self, node: MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, path, "a key must be a plain scalar, not a list or mapping")
                continue
            raw = self.scalar(key_node, path)
            key = value_key(raw)
            if key in first_seen:
                self.fail(
                    key_node, (*path, key),
                    f"duplicate key '{key}' (first defined on line {first_seen[key]})",
                )
                continue
            first_seen[key] = key_node.start_mark.line + 1
            if not isinstance(raw, str):
                self.doc.typed_keys.setdefault(path, {})[key] = raw
            self.doc.key_pos[(*path, key)] = _mark(key_node)
            out[key] = self.walk(value_node, (*path, key), depth + 1)
        return out

    def scalar(self, node: Node, path: PathKey) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self.fail(node, path, f"unsupported YAML value: {problem}")
            return None
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        # !!timestamp, !!binary and friends: keep the text as written.
        return str(getattr(node, "value", ""))


class _TooBig(Exception):
    pass


def _tab_problems(path: str, text: str) -> list[Diagnostic]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            problems.append(
                Diagnostic(
                    path, number, indent.index("\t") + 1,
                    "tab character in indentation: YAML indents with spaces only",
                )
            )
    return problems


def _decode(path: str, raw: bytes | str) -> tuple[str | None, list[Diagnostic]]:
    if isinstance(raw, str):
        return raw, []
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, [Diagnostic(path, line, col, "the file is not valid UTF-8 text")]


def _reader_problem(path: str, text: str, exc: yaml.YAMLError) -> Diagnostic:
    position = getattr(exc, "position", None)
    line, col = (1, 1)
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
    reason = getattr(exc, "reason", None) or "cannot read the file"
    character = getattr(exc, "character", None)
    if isinstance(character, int):
        reason = f"character #x{character:04x} is not allowed in YAML text"
    return Diagnostic(path, line, col, f"invalid YAML: {reason}")


def _parse_problem(path: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if exc.problem and "another document" in exc.problem:
        return Diagnostic(path, line, col, "more than one YAML document ('---') in the file: "
                                           "one mapping per file")
    what = exc.problem or exc.context or "cannot parse"
    context = ""
    if exc.context and exc.problem:
        started = exc.context_mark
        where = f" started on line {started.line + 1}" if started and started.line + 1 != line \
            else ""
        context = f" ({exc.context}{where})"
    return Diagnostic(path, line, col, f"invalid YAML: {what}{context}")


def parse_yaml(path: str, raw: bytes | str) -> tuple[Document | None, list[Diagnostic]]:
    """Parse one YAML document into a :class:`Document`.

    Args:
        path: File name to put in diagnostics.
        raw: The file's bytes (UTF-8, optional BOM) or text.

    Returns:
        The document (``None`` when it could not be read at all) and the problems found:
        malformed YAML, an empty file, a root that is not a mapping, duplicate keys, tabs.
    """
    text, problems = _decode(path, raw)
    if text is None:
        return None, problems
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:
        return None, [_reader_problem(path, text, exc)]
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        tabs = _tab_problems(path, text)
        if tabs:
            return None, tabs
        return None, [_parse_problem(path, exc)]
    except RecursionError:
        return None, [Diagnostic(path, 1, 1, "invalid YAML: nested too deeply")]
    except yaml.YAMLError as exc:
        return None, [_reader_problem(path, text, exc)]
    finally:
        loader.dispose()
    if node is None:
        return None, [Diagnostic(path, 1, 1, "the file is empty: expected a mapping with "
                                 "connection, stream, entity, match and fields")]
    if not isinstance(node, MappingNode):
        kind = "a list" if isinstance(node, SequenceNode) else "a single value"
        line, col = _mark(node)
        return None, [Diagnostic(path, line, col, f"the file must be a mapping of keys "
                                 f"(connection, stream, entity, ...), not {kind}")]
    doc = Document(path, None)
    walker = _Walker(loader, doc)
    try:
        doc.data = walker.walk(node, (), 0)
    except _TooBig as exc:
        line, col = _mark(node)
        return None, [Diagnostic(path, line, col, str(exc))]
    return doc, walker.problems
