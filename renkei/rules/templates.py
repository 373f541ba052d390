"""Alert text templates: plain ``{field}`` substitution, nothing more.

A template is parsed once, when the rule file is loaded; every placeholder must name a field
the rule can see, so a typo is a ``renkei validate`` error, never an empty hole in a sales
rep's alert. There are no format specs, conversions, attribute or index access and no
expressions: a rule file cannot make the hub run code or read anything but hub fields.
``{{`` and ``}}`` write literal braces.

Example:
    >>> t, errors = parse_template("{last_name} さん", lambda name: FieldRef("lead", name))
    >>> t.render(Facts({"last_name": "山田"})), errors
    ('山田 さん', [])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from renkei.rules.conditions import Facts, FieldRef, is_blank, show

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_SPACES = re.compile(r"  +")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?$")

Resolver = Callable[[str], "FieldRef | str"]
"""Name → field reference, or an error message when the name is not a visible field."""


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and field references, in order."""

    parts: tuple[str | FieldRef, ...]

    def render(self, facts: Facts) -> str:
        """The text with each placeholder replaced by its value (a blank value by nothing,
        and the double space it would leave by one)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = facts.value(part)
                out.append("" if is_blank(value) else show(value))
        return _SPACES.sub(" ", "".join(out)).strip()


def parse_template(text: str, resolve: Resolver) -> tuple[Template, list[str]]:
    """Parse ``text``; every problem is returned as a message (nothing raises).

    Args:
        text: The template as written.
        resolve: Turns a placeholder name into a field reference or an error message.
    """
    parts: list[str | FieldRef] = []
    errors: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[pos:match.start()])
        pos = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
            continue
        if token in ("{", "}"):
            errors.append(f"unmatched '{token}' at character {match.start() + 1}: "
                          f"write '{token * 2}' for a literal brace")
            continue
        name = (match.group(1) or "").strip()
        if not _NAME.match(name):
            errors.append(f"placeholder '{{{match.group(1)}}}' is not a field name: only "
                          "{field} or {entity.field} is allowed (no expressions or formats)")
            continue
        ref = resolve(name)
        if isinstance(ref, str):
            errors.append(f"placeholder '{{{name}}}': {ref}")
            continue
        parts.append(ref)
    parts.append(text[pos:])
    return Template(tuple(p for p in parts if p != "")), errors


__all__ = ["Resolver", "Template", "parse_template"]
