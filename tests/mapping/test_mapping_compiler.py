"""Compiled mappings: projection both ways, canonical values, value maps, filter, keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from renkei.mapping import (
    KEY_SEPARATOR,
    ConflictPolicy,
    FieldError,
    Mapping,
    load_mapping,
    validate_source,
)
from renkei.mapping.validate import check_source

GOOD = Path(__file__).parent / "good"

HEADER = """\
connection: marketo
stream: leads
entity: {entity}
match:
  - {{name: key, fields: [{key}], normalize: text}}
"""


def compile_text(body: str, entity: str = "lead", key: str = "email") -> Mapping:
    text = HEADER.format(entity=entity, key=key) + body
    mapping, _, problems = check_source(text, "inline.yaml")
    assert mapping is not None, [d.format() for d in problems]
    return mapping


@pytest.fixture(scope="module")
def leads() -> Mapping:
    return load_mapping(GOOD / "marketo-leads.yaml")


def test_public_attributes(leads: Mapping) -> None:
    assert (leads.name, leads.connection, leads.stream, leads.entity) == (
        "marketo-leads", "marketo", "leads", "lead")
    assert leads.source_path == GOOD / "marketo-leads.yaml"
    assert leads.system_modified == "updatedAt"
    assert "owner" in leads.inbound_fields and "owner" not in leads.outbound_fields
    assert leads.fields["owner"].system_field is None
    assert leads.fields["email"].system_field == "email"
    assert leads.fields["last_name"].direction == "both"
    assert [k.name for k in leads.match_keys] == ["email", "person_at_company"]
    assert leads.match_keys[1].normalizers == ("text", "text", "company")


def test_policies(leads: Mapping) -> None:
    assert leads.policy("lifecycle_stage") == ConflictPolicy("system_wins", "salesforce")
    assert leads.policy("score") == ConflictPolicy("manual")
    assert leads.policy("email") == ConflictPolicy("newest_wins")
    assert leads.policy("not_mapped") == ConflictPolicy("newest_wins")


def test_to_hub_projects_and_canonicalises(leads: Mapping) -> None:
    projection = leads.to_hub({
        "email": " Taro@Example.co.jp ", "company": "㈱ｻｸﾗ精機", "phone": "03-1234-5678",
        "leadSource": "展示会", "leadScore": 12.0, "numberOfEmployees": "１，２００",
        "createdAt": "2024/01/02 10:00", "owner": {"email": "sato@example.co.jp"},
        "optIn": "いいえ", "lastName": "   ", "firstName": "", "unmapped": "x",
    })
    assert projection.errors == []
    values = projection.values
    assert set(values) == set(leads.inbound_fields)
    assert values["email"] == "taro@example.co.jp"
    assert values["company"] == "株式会社サクラ精機"
    assert values["phone"] == "+81312345678"
    assert values["lead_source"] == "exhibition"
    assert values["score"] == 12 and type(values["score"]) is int
    assert values["employees"] == 1200
    assert values["created_at"] == "2024-01-02T01:00:00Z"
    assert values["owner"] == "sato@example.co.jp"
    assert values["email_opt_in"] is False
    assert values["last_name"] is None and values["first_name"] is None
    assert values["lifecycle_stage"] == "lead"  # default for a missing value
    assert values["prefecture"] is None


def test_equal_meaning_gives_equal_values() -> None:
    mapping = compile_text("""\
fields:
  email: email
  score: score
  annual_revenue: revenue
  mql_at: mql
  created_at: created
  email_opt_in: optIn
""")
    spellings = [
        {"score": "12", "revenue": "1000", "mql": "2024-01-02T10:00:00+09:00",
         "created": "2024-01-02 01:00:00Z", "optIn": "true"},
        {"score": 12.0, "revenue": 1000.0, "mql": "2024-01-02T01:00:00.250Z",
         "created": 1704157200, "optIn": 1},
        {"score": 12, "revenue": "1,000", "mql": "2024-01-02T01:00:00Z",
         "created": "2024-01-02T01:00:00+00:00", "optIn": True},
    ]
    projected = [mapping.to_hub(s).values for s in spellings]
    assert projected[0] == projected[1] == projected[2]
    assert [type(v) for v in projected[0].values()] == [
        type(None), int, int, str, str, bool]


def test_bad_values_are_field_errors_that_do_not_reveal_the_value(leads: Mapping) -> None:
    projection = leads.to_hub({"email": "a@b.jp", "leadScore": "とても高い",
                               "phone": "090-XXXX", "createdAt": "先週の金曜日"})
    assert sorted(e.field for e in projection.errors) == ["created_at", "phone", "score"]
    for error in projection.errors:
        assert "とても高い" not in error.message and "XXXX" not in error.message
        assert "金曜日" not in error.message
        assert error.field not in projection.values
    assert projection.values["email"] == "a@b.jp"
    assert FieldError("score", "not an integer (text of 5 characters)") in projection.errors


def test_value_map_both_ways(leads: Mapping) -> None:
    assert leads.to_hub({"leadSource": "資料請求"}).values["lead_source"] == "document_request"
    assert leads.to_hub({"leadSource": "紹介"}).values["lead_source"] == "other"
    assert leads.to_system({"lead_source": "seminar"}).values == {"leadSource": "セミナー"}
    projection = leads.to_system({"lead_source": "exhibition"})  # values_out has only seminar
    assert projection.values == {}
    assert projection.errors[0].field == "lead_source"


def test_value_map_without_default_rejects_unmapped_and_inverts_first_wins() -> None:
    mapping = compile_text("""\
fields:
  email: email
  lead_source:
    system: src
    values: {Seminar: seminar, セミナー: seminar, 1: web, true: referral}
""")
    assert mapping.to_hub({"src": "Webinar"}).errors[0].message == \
        "value not in the value map (text of 7 characters)"
    assert mapping.to_hub({"src": 1}).values["lead_source"] == "web"
    assert mapping.to_hub({"src": "1"}).values["lead_source"] == "web"
    assert mapping.to_hub({"src": True}).values["lead_source"] == "referral"
    assert mapping.to_system({"lead_source": "seminar"}).values == {"src": "Seminar"}
    assert mapping.to_system({"lead_source": "web"}).values == {"src": 1}
    assert mapping.to_system({"lead_source": "referral"}).values == {"src": True}


def test_to_system_only_outbound_fields_present(leads: Mapping) -> None:
    out = leads.to_system({"email": "taro@example.co.jp", "owner": "sato", "score": 3,
                           "created_at": "2024-01-02T01:00:00Z"})
    assert out.values == {"email": "taro@example.co.jp"}


def test_round_trip_is_stable(leads: Mapping) -> None:
    record = {"email": "taro@example.co.jp", "lastName": "山田", "firstName": "太郎",
              "lastNameKana": "ヤマダ", "company": "株式会社サクラ精機", "phone": "+81312345678",
              "state": "東京都", "numberOfEmployees": 1200, "leadSource": "セミナー",
              "renkeiLifecycleStage": "mql", "optIn": "はい"}
    hub_values = leads.to_hub(record).values
    back = leads.to_system(hub_values).values
    assert back == record
    assert leads.to_hub(back).values == hub_values


def test_defaults_per_direction() -> None:
    mapping = compile_text("""\
fields:
  email: email
  lifecycle_stage: {system: stage, default: {in: subscriber, out: 未設定}}
  team: {system: team, default: 営業1課}
""")
    assert mapping.to_hub({}).values["lifecycle_stage"] == "subscriber"
    assert mapping.to_hub({"team": " "}).values["team"] == "営業1課"
    assert mapping.to_system({"lifecycle_stage": None, "team": ""}).values == {
        "stage": "未設定", "team": "営業1課"}


def test_jmespath_fields() -> None:
    mapping = compile_text("""\
fields:
  email: email
  owner: owner.email
  campaign: "campaigns[0].name"
  title: '"job.title"'
  industry: "'製造業'"
""")
    values = mapping.to_hub({"owner": {"email": "s@x.jp"}, "campaigns": [{"name": "DX"}],
                             "job.title": "部長"}).values
    assert values["owner"] == "s@x.jp"
    assert values["campaign"] == "DX"
    assert values["title"] == "部長"
    assert values["industry"] == "製造業"
    assert mapping.fields["title"].system_field == "job.title"
    assert mapping.fields["owner"].direction == "in"
    assert "title" in mapping.outbound_fields
    assert mapping.to_hub({"owner": "not an object"}).values["owner"] is None


def test_outbound_filter(leads: Mapping) -> None:
    assert leads.passes_outbound_filter({"lifecycle_stage": "mql", "email": "a@b.jp"})
    assert not leads.passes_outbound_filter({"lifecycle_stage": "disqualified",
                                             "email": "a@b.jp"})
    assert not leads.passes_outbound_filter({"lifecycle_stage": "mql", "email": None})
    assert compile_text("fields: {email: email}\n").passes_outbound_filter({})
    numeric = compile_text("fields: {email: email}\nfilter: {outbound: 'score'}\n")
    assert numeric.passes_outbound_filter({"score": 0})  # jmespath: numbers are truthy
    assert not numeric.passes_outbound_filter({"score": None})


def test_key_values(leads: Mapping) -> None:
    entity = {"email": "Taro@Example.co.jp", "last_name": "山田", "first_name": "太郎",
              "company": "(株)ｻｸﾗ精機"}
    assert leads.key_values(entity) == [
        ("email", "taro@example.co.jp"),
        ("person_at_company", KEY_SEPARATOR.join(["山田", "太郎", "サクラ精機"])),
    ]
    assert leads.key_values({"email": " ", "last_name": "山田", "first_name": "太郎",
                             "company": "サクラ精機株式会社"}) == [
        ("person_at_company", KEY_SEPARATOR.join(["山田", "太郎", "サクラ精機"]))]
    assert leads.key_values({"last_name": "山田"}) == []


def test_system_modified_at(leads: Mapping) -> None:
    assert leads.system_modified_at({"updatedAt": "2024-01-02T10:00:00+09:00"}) == \
        "2024-01-02T01:00:00Z"
    assert leads.system_modified_at({"updatedAt": None}) is None
    assert leads.system_modified_at({"updatedAt": "garbage"}) is None
    assert compile_text("fields: {email: email}\n").system_modified_at({"x": 1}) is None


def test_system_modified_uses_the_tz_of_a_field_of_the_same_system_field() -> None:
    mapping = compile_text("""\
system_modified: modified
fields:
  email: email
  sql_at: {system: modified, direction: in, transform: [{datetime: {tz: Asia/Tokyo}}]}
""")
    assert mapping.system_modified_at({"modified": "2024/01/02 10:00"}) == "2024-01-02T01:00:00Z"


def test_mapping_is_reusable_and_projection_does_not_mutate_input(leads: Mapping) -> None:
    record: dict[str, Any] = {"email": " A@B.JP "}
    first = leads.to_hub(record)
    assert record == {"email": " A@B.JP "}
    assert leads.to_hub(record).values == first.values


def test_warnings_are_kept_on_the_mapping() -> None:
    text = HEADER.format(entity="lead", key="email") + \
        "fields:\n  email: email\n  title: {system: t, conflict: {policy: manual, owner: sf}}\n"
    mapping, _, problems = check_source(text, "w.yaml")
    assert mapping is not None
    assert [d.severity for d in problems] == ["warning"]
    assert mapping.warnings == tuple(problems)
    assert validate_source(text, "w.yaml") == problems
