"""Diagnostics: what ``renkei validate`` reports, with file, line, column and key.

Exception tree::

    MappingError            a mapping file (or a set of them) is invalid; carries every
                            Diagnostic found, not only the first
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a mapping file.

    Attributes:
        path: The file, as the caller named it.
        line: 1-based line of the offending node.
        col: 1-based column of the offending node.
        message: What is wrong, in words a person can act on.
        key: Dotted path of the offending key (``fields.lead_source.values``), if any.
        severity: ``error`` fails validation; ``warning`` is only reported.

    Example:
        >>> Diagnostic("m.yaml", 3, 5, "unknown key 'sytem'", "fields.email.sytem").format()
        "m.yaml:3:5: fields.email.sytem: unknown key 'sytem'"
    """

    path: str
    line: int
    col: int
    message: str
    key: str | None = None
    severity: Severity = "error"

    def format(self) -> str:
        """The diagnostic as one ``file:line:col: [warning: ]key: message`` line."""
        level = "warning: " if self.severity == "warning" else ""
        key = f"{self.key}: " if self.key else ""
        return f"{self.path}:{self.line}:{self.col}: {level}{key}{self.message}"

    @property
    def is_error(self) -> bool:
        """True for error-severity diagnostics."""
        return self.severity == "error"


class MappingError(Exception):
    """One or more mapping files are invalid.

    Attributes:
        diagnostics: Every problem found, errors and warnings, in file and line order.
    """

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        shown = "\n".join(d.format() for d in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} error(s) in mapping files:\n{shown}{more}")


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort by file, line and column, dropping exact duplicates."""
    unique = dict.fromkeys(diagnostics)
    return sorted(unique, key=lambda d: (d.path, d.line, d.col, d.key or "", d.message))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    """True when any diagnostic is an error (not a warning)."""
    return any(d.is_error for d in diagnostics)
