"""Reading rule files: parse (positioned YAML), schema check, semantic checks, cross-file.

A rules directory holds at most one file of each ``kind:`` (qualification, routing, alerts,
owners). Files are checked together because they refer to each other: routing names teams
and owners declared in the owners file, conditions name regions of the routing file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from renkei.mapping.diagnostics import Diagnostic, MappingError, has_errors, sort_diagnostics
from renkei.mapping.loader import Document, parse_yaml
from renkei.mapping.schema_check import convert_error  # one wording for mapping and rule files
from renkei.rules.build import build_alerts, build_owners, build_qualification, build_routing
from renkei.rules.model import RuleSet
from renkei.rules.outcome_build import build_deal_alerts, build_outcomes
from renkei.rules.scope import Builder

SCHEMA_PATH = Path(__file__).resolve().parent.parent.parent / "schemas" / "rules.schema.json"
RULE_KINDS = ("qualification", "routing", "alerts", "owners", "outcomes", "deal_alerts")
SUFFIXES = (".yaml", ".yml")
_KIND_LINE = re.compile(r"^kind[ \t]*:", re.MULTILINE)
_KINDS_HINT = ("starting with `kind:` (qualification, routing, alerts, owners, outcomes or "
               "deal_alerts)")
# The YAML loader words these for mapping files.
_RULE_WORDING = {
    "the file is empty: expec": f"the file is empty: expected a rule file {_KINDS_HINT}",
    "the file must be a mappi": f"a rule file is a mapping of keys {_KINDS_HINT}, not a list "
                                "or a single value",
}


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _declares_kind(path: Path) -> bool:
    try:
        head = path.read_bytes()[:65536].decode("utf-8", errors="replace")
    except OSError:
        return False
    return bool(_KIND_LINE.search(head))


def rule_files(directory: Path) -> list[Path]:
    """The ``*.yaml``/``*.yml`` files of a rules directory, sorted by name."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in SUFFIXES)


def is_rules_path(path: Path) -> bool:
    """Whether ``path`` is a rule file or a rules directory (by ``kind:`` or by the name
    ``rules``), so ``renkei validate`` checks it as one and not as a mapping."""
    if path.is_dir():
        return path.name == "rules" or any(_declares_kind(p) for p in rule_files(path))
    return path.is_file() and (path.parent.name == "rules" or _declares_kind(path))


def _parse(path: Path) -> tuple[str | None, Document | None, list[Diagnostic]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, None, [Diagnostic(str(path), 1, 1,
                                       f"cannot read the file: {exc.strerror or exc}")]
    doc, problems = parse_yaml(str(path), raw)
    problems = [Diagnostic(d.path, d.line, d.col, _RULE_WORDING.get(d.message[:24], d.message),
                           d.key, d.severity) for d in problems]
    if doc is None:
        return None, None, problems
    for error in _validator().iter_errors(doc.data):
        problems += convert_error(doc, error)
    kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
    return (kind if kind in RULE_KINDS else None), doc, problems


def check_rule_files(files: Sequence[Path]) -> tuple[RuleSet | None, list[Diagnostic]]:
    """Check rule files together and compile them; never raises on bad input.

    Returns:
        The rule set (``None`` when there are errors) and every diagnostic, sorted.
    """
    problems: list[Diagnostic] = []
    docs: dict[str, Document] = {}
    for path in files:
        kind, doc, found = _parse(path)
        problems += found
        if kind is None or doc is None:
            continue
        if kind in docs:
            problems.append(doc.diagnostic(("kind",), f"a second {kind} file (the first is "
                                                      f"{docs[kind].path}): one per kind"))
            continue
        docs[kind] = doc
    rules = RuleSet()
    regions: tuple[str, ...] | None = None
    owners_doc = docs.get("owners")
    if owners_doc is not None:
        b = Builder(owners_doc)
        rules.owners = build_owners(b, _data(owners_doc))
        problems += b.problems
    if "routing" in docs:
        b = Builder(docs["routing"])
        if owners_doc is None:
            b.error(("kind",), "routing assigns teams and owners: add a rule file with "
                               "`kind: owners` to the directory")
        rules.routing = build_routing(b, _data(docs["routing"]),
                                      rules.owners if owners_doc is not None else None)
        regions = b.regions
        problems += b.problems
    if "qualification" in docs:
        b = Builder(docs["qualification"], regions=regions)
        rules.qualification = build_qualification(b, _data(docs["qualification"]))
        problems += b.problems
    if "alerts" in docs:
        b = Builder(docs["alerts"], regions=regions)
        rules.alerts = build_alerts(b, _data(docs["alerts"]))
        problems += b.problems
    if "outcomes" in docs:
        b = Builder(docs["outcomes"])
        rules.outcomes = build_outcomes(b, _data(docs["outcomes"]))
        problems += b.problems
    if "deal_alerts" in docs:
        b = Builder(docs["deal_alerts"])
        rules.deal_alerts = build_deal_alerts(b, _data(docs["deal_alerts"]),
                                              rules.owners if owners_doc is not None else None)
        problems += b.problems
    problems = sort_diagnostics(problems)
    return (None if has_errors(problems) else rules), problems


def _data(doc: Document) -> dict[str, Any]:
    return doc.data if isinstance(doc.data, dict) else {}


def load_rules(directory: Path) -> RuleSet:
    """Load every rule file of ``directory``.

    Raises:
        MappingError: with every diagnostic, when any file has an error.
    """
    rules, problems = check_rule_files(rule_files(directory))
    if rules is None:
        raise MappingError(problems)
    rules.source = directory
    return rules


def validate_rule_paths(paths: Sequence[Path]) -> list[Diagnostic]:
    """Diagnostics of rule files and rules directories; never raises.

    A file named on its own is checked together with the other rule files of its directory
    (routing needs the owners file), but only its own diagnostics are reported.
    """
    out: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            out += check_rule_files(rule_files(path))[1]
            continue
        siblings = [p for p in rule_files(path.parent) if p.resolve() != path.resolve()] \
            if path.parent.is_dir() else []
        named = str(path)
        found = check_rule_files([path, *siblings])[1]
        out += [d for d in found if d.path == named]
    return sort_diagnostics(out)


__all__ = ["RULE_KINDS", "check_rule_files", "is_rules_path", "load_rules", "rule_files",
           "validate_rule_paths"]
