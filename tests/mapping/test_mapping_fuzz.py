"""Any input gives either a mapping or diagnostics: never an exception (hypothesis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renkei.mapping import Diagnostic, Mapping, validate_source
from renkei.mapping.validate import check_source

from .streams import streams

GOOD_TEXT = (Path(__file__).parent / "good" / "marketo-leads.yaml").read_text(encoding="utf-8")
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

KEYS = ["name", "connection", "stream", "entity", "match", "fields", "conflict", "filter",
        "examples", "system", "direction", "transform", "values", "values_default",
        "values_out", "default", "policy", "owner", "normalize", "outbound", "in", "out",
        "email", "company", "lead_source", "score", "phone", "created_at", "trim", "phone",
        "datetime", "tz", "region", "system_modified", "lead", "both", "manual"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.sampled_from(KEYS), st.text(max_size=12))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(KEYS), children, max_size=6)),
    max_leaves=40,
)


def _check(result: list[Diagnostic]) -> None:
    assert isinstance(result, list)
    for diagnostic in result:
        assert isinstance(diagnostic, Diagnostic)
        assert diagnostic.line >= 1 and diagnostic.col >= 1
        diagnostic.format()


@FUZZ
@given(st.text(max_size=400))
def test_any_text_gives_diagnostics_or_success(text: str) -> None:
    _check(validate_source(text, "fuzz.yaml", streams=streams))


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_give_diagnostics_or_success(raw: bytes) -> None:
    _check(validate_source(raw, "fuzz.yaml", streams=streams))


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), documents, max_size=8))
def test_any_mapping_shaped_document_gives_diagnostics_or_success(data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    _check(validate_source(text, "fuzz.yaml", streams=streams))


@FUZZ
@given(st.data())
def test_edits_of_a_good_file_give_diagnostics_or_success(data: st.DataObject) -> None:
    text = GOOD_TEXT
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 8))
        insert = data.draw(st.sampled_from(["", " ", "\t", ":", "- ", "{", "]", "\n", "'",
                                            "#", "&a ", "*a", "!!str ", "x: y\n", "株"]))
        text = text[:at] + insert + text[at + cut:]
    _check(validate_source(text, "fuzz.yaml", streams=streams))


def _good_mapping() -> Mapping:
    mapping, _, problems = check_source(GOOD_TEXT, "marketo-leads.yaml")
    assert mapping is not None, problems
    return mapping


MAPPING = _good_mapping()
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=5), children, max_size=3)),
    max_leaves=10,
)
system_fields = ["email", "company", "phone", "leadSource", "leadScore", "createdAt", "owner",
                 "numberOfEmployees", "optIn", "lastNameKana", "renkeiLifecycleStage",
                 "updatedAt"]


@FUZZ
@given(st.dictionaries(st.sampled_from(system_fields), json_values))
def test_projection_never_raises(record: dict[str, Any]) -> None:
    projection = MAPPING.to_hub(record)
    assert set(projection.values) | {e.field for e in projection.errors} == set(
        MAPPING.inbound_fields)
    MAPPING.to_system(projection.values)
    MAPPING.key_values(projection.values)
    MAPPING.passes_outbound_filter(record)
    MAPPING.system_modified_at(record)


@FUZZ
@given(st.dictionaries(st.sampled_from(list(MAPPING.fields)), json_values))
def test_outbound_projection_never_raises(values: dict[str, Any]) -> None:
    projection = MAPPING.to_system(values)
    MAPPING.key_values(values)
    assert isinstance(projection.values, dict)
