"""Plain ``{root.key}`` substitution: the only "language" a connector file has.

A template is a string with placeholders such as ``{config.domain}`` or ``{record.Mail}``.
Nothing is evaluated: a placeholder is a root name followed by dictionary keys, looked up
one by one in plain mappings. There is no attribute access, no indexing, no calls, no
filters and no file or environment access, so a connector file cannot run code or read
anything it was not handed. ``{{`` and ``}}`` stand for literal braces.

A string that is exactly one placeholder renders to the value itself (a list stays a list,
a number a number); anything else renders to text.

Example:
    >>> render("https://{config.domain}/services/rest", {"config": {"domain": "a.jp"}})
    'https://a.jp/services/rest'
    >>> render("{record.n}", {"record": {"n": 3}})
    3
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from connectors.sdk.secrets import Secret

__all__ = ["SPREAD", "Template", "TemplateError", "parse", "refs_in", "render", "render_tree"]

SPREAD = "$spread"
"""A dict key whose rendered value (a mapping) is merged into the enclosing dict."""

_SEGMENT = re.compile(r"[\w\-]+")
_MAX_DEPTH = 8


class TemplateError(ValueError):
    """A template is malformed, names an unknown root, or cannot be rendered."""


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and placeholder paths, in order."""

    text: str
    parts: tuple[str | tuple[str, ...], ...]

    @property
    def refs(self) -> list[tuple[str, ...]]:
        """Every placeholder path (``("config", "domain")``)."""
        return [p for p in self.parts if isinstance(p, tuple)]

    def render(self, scope: Mapping[str, Any], *, reveal: bool = False) -> Any:
        """The rendered value.

        Args:
            scope: Root name → mapping.
            reveal: Allow :class:`Secret` values (auth only); otherwise a secret is an error,
                so a secret can never end up in a URL, a log line or a record.

        Raises:
            TemplateError: a value along a path is not a mapping, or a secret is not allowed.
        """
        if len(self.parts) == 1 and isinstance(self.parts[0], tuple):
            return _lookup(self.parts[0], scope, reveal)
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = _lookup(part, scope, reveal)
            out.append("" if value is None else _text(value))
        return "".join(out)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _lookup(path: tuple[str, ...], scope: Mapping[str, Any], reveal: bool) -> Any:
    value: Any = scope
    for index, key in enumerate(path):
        if not isinstance(value, Mapping):
            where = ".".join(path[:index])
            raise TemplateError(f"{{{'.'.join(path)}}}: {where} is not an object")
        value = value.get(key)
    if isinstance(value, Secret):
        if not reveal:
            raise TemplateError(f"{{{'.'.join(path)}}} is a secret; secrets may only be used "
                                "in auth")
        return value.get()
    return value


@lru_cache(maxsize=4096)
def _parse(text: str, roots: frozenset[str]) -> Template:
    parts: list[str | tuple[str, ...]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "{}" and text.startswith(char * 2, i):
            literal.append(char)
            i += 2
            continue
        if char == "}":
            raise TemplateError(f"unmatched '}}' at position {i + 1} (write '}}}}' for a "
                                "literal brace)")
        if char != "{":
            literal.append(char)
            i += 1
            continue
        end = text.find("}", i)
        if end < 0:
            raise TemplateError(f"unclosed '{{' at position {i + 1}")
        body = text[i + 1:end]
        segments = tuple(body.split("."))
        if not body or not all(_SEGMENT.fullmatch(s) for s in segments):
            raise TemplateError(f"'{{{body}}}' is not a placeholder: use {{root.key}} with "
                                "plain names (no calls, indexes or expressions)")
        if segments[0] not in roots:
            allowed = ", ".join(sorted(roots)) or "none"
            raise TemplateError(f"'{{{body}}}' uses '{segments[0]}', which is not available "
                                f"here (available: {allowed})")
        if any(s.startswith("_") for s in segments):
            raise TemplateError(f"'{{{body}}}': names may not start with '_'")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(segments)
        i = end + 1
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts))


def parse(text: str, roots: frozenset[str] | set[str]) -> Template:
    """Parse ``text``, allowing only the given root names.

    Raises:
        TemplateError: malformed placeholder, or a root that is not allowed.
    """
    return _parse(text, frozenset(roots))


def render(text: str, scope: Mapping[str, Any], *, reveal: bool = False) -> Any:
    """Parse and render ``text`` with the roots of ``scope``."""
    return parse(text, frozenset(scope)).render(scope, reveal=reveal)


def render_tree(tree: Any, scope: Mapping[str, Any], *, depth: int = 0) -> Any:
    """Render every string in a JSON-like tree.

    Dict entries that render to ``None`` are left out (an absent id is not sent as null);
    a ``$spread`` entry merges its rendered mapping into the dict.

    Raises:
        TemplateError: as :func:`render`, or a ``$spread`` value that is not a mapping.
    """
    if depth > _MAX_DEPTH * 4:
        raise TemplateError("template nested too deeply")
    if isinstance(tree, str):
        return render(tree, scope)
    if isinstance(tree, list):
        return [render_tree(item, scope, depth=depth + 1) for item in tree]
    if isinstance(tree, Mapping):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            rendered = render_tree(value, scope, depth=depth + 1)
            if key == SPREAD:
                if rendered is None:
                    continue
                if not isinstance(rendered, Mapping):
                    raise TemplateError(f"{SPREAD} must render to an object")
                out.update(rendered)
            elif rendered is not None:
                out[key] = rendered
        return out
    return tree


def refs_in(tree: Any) -> list[str]:
    """Every string of a JSON-like tree (to check the templates of a file before use)."""
    if isinstance(tree, str):
        return [tree]
    if isinstance(tree, list):
        return [s for item in tree for s in refs_in(item)]
    if isinstance(tree, Mapping):
        return [s for value in tree.values() for s in refs_in(value)]
    return []
