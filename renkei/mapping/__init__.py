"""Declarative mapping files: one stream of one connection bound to one hub entity.

Public API::

    load_mapping(path, streams=None) -> Mapping        one file; MappingError on any error
    load_mappings(directory, streams=None) -> [Mapping] a directory + cross-file checks
    validate_paths(paths, streams=None) -> [Diagnostic] files/dirs, examples run; never raises
    validate_source(text, path) -> [Diagnostic]         one file's content
    run_examples(mapping) -> [Diagnostic]
    Mapping                                             to_hub, to_system, key_values, ...
    Diagnostic, MappingError, ConflictPolicy, FieldMapping, MatchKey, FieldError, Projection
    StreamLookup = (connection, stream) -> StreamSpec | None
    register_transform, Transform, TransformArgsError, register_normalizer, normalize_key
    FieldValueError                                     raised by transforms for bad values

Example:
    >>> from pathlib import Path
    >>> mapping = load_mapping(Path("mappings/marketo-leads.yaml"))  # doctest: +SKIP
    >>> mapping.to_hub({"email": " Taro@Example.co.jp "}).values["email"]  # doctest: +SKIP
    'taro@example.co.jp'
"""

from renkei.mapping.builder import StreamLookup
from renkei.mapping.canonical import FieldValueError
from renkei.mapping.compiler import Mapping
from renkei.mapping.diagnostics import Diagnostic, MappingError
from renkei.mapping.examples import run_examples
from renkei.mapping.model import (
    DIRECTIONS,
    KEY_SEPARATOR,
    POLICIES,
    ConflictPolicy,
    FieldError,
    FieldMapping,
    MatchKey,
    Projection,
)
from renkei.mapping.normalize import normalize_key, register_normalizer
from renkei.mapping.transforms import Transform, TransformArgsError, register_transform
from renkei.mapping.validate import (
    cross_file_diagnostics,
    load_mapping,
    load_mappings,
    validate_paths,
    validate_source,
)

__all__ = [
    "DIRECTIONS",
    "KEY_SEPARATOR",
    "POLICIES",
    "ConflictPolicy",
    "Diagnostic",
    "FieldError",
    "FieldMapping",
    "FieldValueError",
    "Mapping",
    "MappingError",
    "MatchKey",
    "Projection",
    "StreamLookup",
    "Transform",
    "TransformArgsError",
    "cross_file_diagnostics",
    "load_mapping",
    "load_mappings",
    "normalize_key",
    "register_normalizer",
    "register_transform",
    "run_examples",
    "validate_paths",
    "validate_source",
]
