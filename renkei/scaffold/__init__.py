"""``renkei connector new NAME``: a connector package a partner can fill in and publish.

The generated package holds a connector on the SDK (streams as small classes, HttpClient),
a stub emulator on the sandbox core, a mapping example, a README and a conformance test
that passes as generated.

Example:
    >>> import tempfile
    >>> root = new_connector("acme_crm", Path(tempfile.mkdtemp()))
    >>> sorted(p.name for p in root.iterdir())
    ['README.md', 'mappings', 'pyproject.toml', 'renkei_acme_crm', 'tests']
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template

__all__ = ["Names", "ScaffoldError", "new_connector", "validate_name"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ScaffoldError(ValueError):
    """The connector cannot be generated (bad name, taken name, target exists)."""


@dataclass(frozen=True)
class Names:
    """Every spelling of the connector name the templates use."""

    name: str

    @property
    def pkg(self) -> str:
        return f"renkei_{self.name}"

    @property
    def dist(self) -> str:
        return f"renkei-{self.name.replace('_', '-')}"

    @property
    def title(self) -> str:
        return " ".join(part.capitalize() for part in self.name.split("_") if part)

    @property
    def camel(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_") if part)

    @property
    def cls(self) -> str:
        return f"{self.camel}Connector"

    def substitutions(self) -> dict[str, str]:
        return {"name": self.name, "pkg": self.pkg, "dist": self.dist, "Title": self.title,
                "Class": self.cls, "Camel": self.camel, "NAME": self.name.upper()}


def _installed() -> set[str]:
    from connectors.sdk.registry import discover

    return set(discover())


def validate_name(name: str, *, taken: set[str] | None = None) -> Names:
    """Check a connector name: a lower-case Python identifier, no keyword, not installed.

    Raises:
        ScaffoldError: saying what is wrong with the name and what would be accepted.
    """
    if not _NAME.match(name):
        raise ScaffoldError(
            f"connector name {name!r} is not valid: use lower-case letters, digits and "
            "underscores, starting with a letter (a Python identifier, e.g. acme_crm)")
    if keyword.iskeyword(name) or name.endswith("_"):
        raise ScaffoldError(f"connector name {name!r} is not valid: it is a Python keyword or "
                            "ends in an underscore")
    existing = _installed() if taken is None else taken
    if name in existing:
        raise ScaffoldError(f"connector name {name!r} is taken: a connector of that name is "
                            f"already installed (installed: {', '.join(sorted(existing))})")
    return Names(name)


_LAYOUT = (
    ("pyproject.toml.tmpl", "pyproject.toml"),
    ("README.md.tmpl", "README.md"),
    ("__init__.py.tmpl", "{pkg}/__init__.py"),
    ("connector.py.tmpl", "{pkg}/connector.py"),
    ("sandbox.py.tmpl", "{pkg}/sandbox.py"),
    ("mapping.yaml.tmpl", "mappings/{name}-contacts.yaml"),
    ("test_conformance.py.tmpl", "tests/test_conformance.py"),
)


def new_connector(name: str, directory: Path, *, taken: set[str] | None = None) -> Path:
    """Generate the package ``renkei-NAME`` under ``directory``; return its root.

    Args:
        name: The connector type name (entry-point name), e.g. ``acme_crm``.
        directory: Where the package directory is created.
        taken: Names already in use (default: the installed connectors).

    Raises:
        ScaffoldError: the name is invalid or taken, or the target directory exists.
    """
    names = validate_name(name, taken=taken)
    root = directory / names.dist
    if root.exists():
        raise ScaffoldError(f"{root} already exists; choose another --dir or remove it")
    subs = names.substitutions()
    templates = files("renkei.scaffold") / "templates"
    for source, target in _LAYOUT:
        text = Template(templates.joinpath(source).read_text(encoding="utf-8")).substitute(subs)
        path = root / target.format(**subs)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
