"""Loading mapping files: parse, schema check, semantic check, compile, cross-file checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from renkei.mapping.builder import StreamLookup, compile_document
from renkei.mapping.compiler import Mapping
from renkei.mapping.diagnostics import Diagnostic, MappingError, has_errors, sort_diagnostics
from renkei.mapping.examples import run_examples
from renkei.mapping.loader import Document, parse_yaml
from renkei.mapping.schema_check import schema_diagnostics, suggest

MAPPING_SUFFIXES = (".yaml", ".yml")


def _stem(path: str) -> str:
    name = Path(path).name
    for suffix in MAPPING_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def check_source(
    raw: bytes | str, path: str, *, streams: StreamLookup | None = None,
    source_path: Path | None = None, examples: bool = True,
) -> tuple[Mapping | None, Document | None, list[Diagnostic]]:
    """Check one mapping file's content and compile it.

    Never raises on bad input: every problem is a diagnostic.

    Returns:
        The mapping (``None`` if there are errors), the parsed document (``None`` if the
        YAML could not be read), and all diagnostics, sorted.
    """
    doc, problems = parse_yaml(path, raw)
    if doc is None:
        return None, None, sort_diagnostics(problems)
    problems += schema_diagnostics(doc)
    mapping, semantic = compile_document(doc, source_path=source_path, default_name=_stem(path),
                                         streams=streams)
    problems += semantic
    if has_errors(problems):
        return None, doc, sort_diagnostics(problems)
    if mapping is not None and examples:
        problems += run_examples(mapping, doc)
        if has_errors(problems):
            return None, doc, sort_diagnostics(problems)
    return mapping, doc, sort_diagnostics(problems)


def validate_source(raw: bytes | str, path: str = "<mapping>", *,
                    streams: StreamLookup | None = None) -> list[Diagnostic]:
    """All diagnostics of one mapping file's content (examples included); never raises."""
    return check_source(raw, path, streams=streams)[2]


def _read(path: Path) -> tuple[bytes | None, list[Diagnostic]]:
    try:
        return path.read_bytes(), []
    except OSError as exc:
        return None, [Diagnostic(str(path), 1, 1, f"cannot read the file: {exc.strerror or exc}")]


def load_mapping(path: Path, *, streams: StreamLookup | None = None) -> Mapping:
    """Load, check and compile one mapping file (its examples are not run).

    Raises:
        MappingError: with every diagnostic, when the file has any error.
    """
    raw, problems = _read(path)
    if raw is None:
        raise MappingError(problems)
    mapping, _, problems = check_source(raw, str(path), streams=streams,
                                        source_path=path, examples=False)
    if mapping is None:
        raise MappingError(problems)
    return mapping


def mapping_files(directory: Path) -> list[Path]:
    """The mapping files of a directory: ``*.yaml``/``*.yml``, not recursive (so ``rules/``
    is skipped), sorted by name."""
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and p.suffix in MAPPING_SUFFIXES)


def load_mappings(directory: Path, *, streams: StreamLookup | None = None) -> list[Mapping]:
    """Load every mapping file of ``directory`` and check them together.

    Cross-file checks: duplicate mapping names and two mappings of the same connection,
    stream and entity are errors; the same entity field with different conflict policies in
    two mappings is a warning (kept on :attr:`Mapping.warnings`), except for mappings matched
    by a source-specific key (see :func:`cross_file_diagnostics`).

    Raises:
        MappingError: with every diagnostic of every file, when any file has an error.
    """
    pairs: list[tuple[Mapping, Document]] = []
    problems: list[Diagnostic] = []
    for path in mapping_files(directory):
        raw, unreadable = _read(path)
        problems += unreadable
        if raw is None:
            continue
        mapping, doc, found = check_source(raw, str(path), streams=streams, source_path=path,
                                           examples=False)
        problems += found
        if mapping is not None and doc is not None:
            pairs.append((mapping, doc))
    problems += cross_file_diagnostics(pairs)
    if has_errors(problems):
        raise MappingError(sort_diagnostics(problems))
    return [mapping for mapping, _ in pairs]


def cross_file_diagnostics(pairs: Sequence[tuple[Mapping, Document]], *,
                           complete: bool = True) -> list[Diagnostic]:
    """Problems between files: duplicate names, duplicate bindings, policy disagreements,
    field lookups (``complete``: the files are the whole set, so an unknown mapping named by
    a lookup is an error rather than a warning).

    Mappings matched only by ``source_id`` (the source system's own id of an activity) take no
    part in the policy comparison: records of two sources never meet, and two feeds of one
    source (a poll and its webhooks) share records by design, each with its own policies.
    """
    out: list[Diagnostic] = resolve_lookups(pairs, complete=complete)
    by_name: dict[str, Mapping] = {}
    by_binding: dict[tuple[str, str, str], Mapping] = {}
    policies: dict[tuple[str, str], tuple[str, Mapping]] = {}
    for mapping, doc in pairs:
        first = by_name.setdefault(mapping.name, mapping)
        if first is not mapping:
            out.append(doc.diagnostic(("name",), f"duplicate mapping name '{mapping.name}' "
                                                 f"(also used by {_where(first)})"))
            continue
        binding = (mapping.connection, mapping.stream, mapping.entity)
        other = by_binding.setdefault(binding, mapping)
        if other is not mapping:
            out.append(doc.diagnostic(("stream",), f"{mapping.connection}.{mapping.stream} is "
                                                   f"already mapped to {mapping.entity} by "
                                                   f"{_where(other)}"))
        if _source_keyed(mapping):
            continue
        for field, spec in mapping.fields.items():
            if not spec.inbound:
                continue
            seen = policies.setdefault((mapping.entity, field), (str(spec.policy), mapping))
            if seen[0] != str(spec.policy):
                out.append(doc.diagnostic(
                    ("fields", field), f"conflict policy {spec.policy} differs from "
                    f"{seen[0]} for {mapping.entity}.{field} in {_where(seen[1])}",
                    at_key=True, warning=True))
    return out


def resolve_lookups(pairs: Sequence[tuple[Mapping, Document]], *,
                    complete: bool) -> list[Diagnostic]:
    """Bind each field lookup to the match key of the mapping it names (in place)."""
    out: list[Diagnostic] = []
    by_name: dict[str, Mapping] = {}
    for mapping, _ in pairs:
        by_name.setdefault(mapping.name, mapping)
    for mapping, doc in pairs:
        for field, spec in list(mapping.fields.items()):
            lookup = spec.lookup
            if lookup is None:
                continue
            path = ("fields", field, "lookup", "mapping")
            target = by_name.get(lookup.mapping)
            if target is None:
                out.append(doc.diagnostic(path, f"unknown mapping '{lookup.mapping}'"
                                                f"{suggest(lookup.mapping, by_name)}",
                                          warning=not complete))
                continue
            if target.entity != lookup.entity:
                out.append(doc.diagnostic(path, f"mapping '{lookup.mapping}' maps entity "
                                                f"{target.entity}, not {lookup.entity}"))
                continue
            if target.connection != mapping.connection:
                out.append(doc.diagnostic(path, f"mapping '{lookup.mapping}' writes to "
                                                f"{target.connection}, not {mapping.connection}: "
                                                f"its ids mean nothing here"))
                continue
            key = next((k for k in target.match_keys if k.fields == (lookup.by,)), None)
            if key is None:
                out.append(doc.diagnostic(("fields", field, "lookup", "by"),
                                          f"mapping '{lookup.mapping}' has no match key on "
                                          f"exactly {lookup.entity}.{lookup.by}"))
                continue
            mapping.fields[field] = replace(spec, lookup=replace(
                lookup, key_name=key.name, normalizer=key.normalizers[0]))
    return out


def _source_keyed(mapping: Mapping) -> bool:
    return bool(mapping.match_keys) and all(k.fields == ("source_id",)
                                            for k in mapping.match_keys)


def _where(mapping: Mapping) -> str:
    return str(mapping.source_path) if mapping.source_path else f"mapping '{mapping.name}'"


def validate_paths(paths: Sequence[Path], *, streams: StreamLookup | None = None
                   ) -> list[Diagnostic]:
    """Check mapping files and directories of them (examples run, cross-file checks).

    Never raises on bad input. Directories are read like :func:`load_mappings`. Rule files
    (a ``kind:`` key, or a ``rules`` directory, which a mappings directory's ``rules/`` is
    too) are checked as rules (:mod:`renkei.rules`), not as mappings.

    Returns:
        Every diagnostic, errors and warnings, sorted by file and position.
    """
    from renkei.rules import is_rules_path, validate_rule_paths  # rules build on mapping

    problems: list[Diagnostic] = []
    pairs: list[tuple[Mapping, Document]] = []
    files: list[Path] = []
    rule_paths: list[Path] = []
    for path in paths:
        if is_rules_path(path):
            rule_paths.append(path)
        elif path.is_dir():
            files += mapping_files(path)
            if (path / "rules").is_dir():
                rule_paths.append(path / "rules")
        else:
            files.append(path)
    problems += validate_rule_paths(list(dict.fromkeys(rule_paths)))
    for path in dict.fromkeys(files):
        raw, unreadable = _read(path)
        problems += unreadable
        if raw is None:
            continue
        mapping, doc, found = check_source(raw, str(path), streams=streams, source_path=path)
        problems += found
        if mapping is not None and doc is not None:
            pairs.append((mapping, doc))
    problems += cross_file_diagnostics(pairs, complete=any(p.is_dir() for p in paths))
    return sort_diagnostics(problems)
