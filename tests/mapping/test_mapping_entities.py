"""The entity catalogue the compiler and the engine type values by."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from renkei import entities
from renkei.mapping.schema_check import SCHEMA_PATH, mapping_schema


def test_entity_catalogue() -> None:
    assert entities.entity_names() == ("account", "activity", "alert", "deal", "lead")
    assert entities.field_type("lead", "score") == "integer"
    assert entities.field_type("deal", "amount") == "number"
    assert entities.field_type("deal", "contact_emails") == "array"
    assert entities.field_format("lead", "mql_at") == "date-time"
    assert entities.field_format("deal", "close_date") == "date"
    assert entities.field_format("lead", "company") is None
    assert entities.is_picklist("lead", "lead_source")
    assert not entities.is_picklist("lead", "company")
    assert "seminar" in entities.picklist_values("lead", "lead_source")
    assert None not in entities.picklist_values("lead", "lead_source")
    assert entities.picklist_values("lead", "company") == ()
    assert "email" in entities.entity_fields("lead")
    with pytest.raises(KeyError):
        entities.entity_schema("person")
    with pytest.raises(KeyError):
        entities.field_type("lead", "nope")


@pytest.mark.parametrize(("entity", "values", "partial", "expected"), [
    ("lead", {"email": "taro@example.co.jp"}, False, []),
    ("lead", {"first_name": "太郎"}, False,
     ["a lead needs an email, or a last_name and a company"]),
    ("lead", {"first_name": "太郎"}, True, []),
    ("lead", {"score": "high"}, True, ["score: expected integer, got string"]),
    ("lead", {"phone": "03-1234-5678"}, True,
     ["phone: does not match the pattern ^\\+[1-9][0-9]{6,14}$"]),
    ("lead", {"lifecycle_stage": "hot"}, True,
     [("lifecycle_stage: not one of the allowed values (subscriber, lead, mql, sql, "
       "opportunity, customer, recycled, disqualified)")]),
    ("lead", {"shoe_size": 27}, True, ["unknown field shoe_size for entity lead"]),
    ("lead", {"last_name": "山" * 81}, True, ["last_name: longer than 80 characters"]),
    ("deal", {"name": "x", "probability": 120}, False, ["probability: out of range (maximum 100)"]),
    ("activity", {}, False, ["missing required field source_id, type, occurred_at"]),
])
def test_validate_entity(entity: str, values: dict[str, Any], partial: bool,
                         expected: list[str]) -> None:
    assert entities.validate_entity(entity, values, partial=partial) == expected


def test_validate_entity_never_quotes_values() -> None:
    secret = "taro.yamada.secret"
    for message in entities.validate_entity("lead", {"phone": secret, "score": secret,
                                                     "prefecture": secret}, partial=True):
        assert secret not in message


def _described(schema: Any, path: str, missing: list[str]) -> None:
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            if "description" not in sub and "$ref" not in sub:
                missing.append(f"{path}.{name}")
        for key, value in schema.items():
            _described(value, f"{path}.{key}", missing)
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            _described(item, f"{path}[{index}]", missing)


def test_mapping_schema_is_valid_and_every_property_is_described() -> None:
    schema = json.loads(Path(SCHEMA_PATH).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    missing: list[str] = []
    _described(schema, "$", missing)
    assert missing == []
    assert mapping_schema()["$id"].endswith("mapping.schema.json")
