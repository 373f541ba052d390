"""``set:``: system fields written from an expression over the hub record (out only)."""

from __future__ import annotations

from renkei.mapping.validate import check_source

from .test_mapping_compiler import HEADER, compile_text

TASK = """\
fields:
  email: {system: Email, direction: out}
  subject: {system: Title, direction: out}
set:
  Status: "'Completed'"
  Subject: "join(' · ', [subject, campaign])"
"""


def test_set_values_are_computed_from_the_hub_record_and_written_as_system_fields() -> None:
    m = compile_text(TASK, entity="activity", key="source_id")
    view = m.outbound_view({"email": "a@b.jp", "subject": "DX入門", "campaign": "W-7"})
    assert (view["set:Status"], view["set:Subject"]) == ("Completed", "DX入門 · W-7")
    assert m.outbound_diff_fields == (*m.outbound_fields, "set:Status", "set:Subject")
    projection = m.to_system(view)
    assert projection.errors == []
    assert projection.values == {"Email": "a@b.jp", "Title": "DX入門", "Status": "Completed",
                                 "Subject": "DX入門 · W-7"}


def test_a_set_expression_failing_on_a_record_is_that_records_field_error() -> None:
    m = compile_text(TASK, entity="activity", key="source_id")
    view = m.outbound_view({"email": "a@b.jp", "subject": "DX入門", "campaign": None})
    projection = m.to_system(view)  # join() refuses the null campaign
    [error] = projection.errors
    assert error.field == "set:Subject" and "set: expression" in error.message
    assert projection.values["Status"] == "Completed" and "Subject" not in projection.values


def test_a_mapping_without_set_compares_the_record_itself() -> None:
    m = compile_text("fields: {email: email}\n")
    record = {"email": "a@b.jp"}
    assert m.outbound_view(record) is record and m.outbound_diff_fields == ("email",)


def test_bad_set_entries_are_reported_where_they_are() -> None:
    text = HEADER.format(entity="activity", key="source_id") + """\
fields:
  email: {system: Email, direction: out}
set:
  Email: "'x@y.jp'"
  Status: "'Completed"
  Note: "no_such_field"
"""
    mapping, _, problems = check_source(text, "inline.yaml")
    assert mapping is None
    lines = [d.format() for d in problems]
    assert any(":9:" in x and "set.Email" in x and "also written by fields.email" in x
               for x in lines), lines
    assert any(":10:" in x and "set.Status" in x for x in lines), lines
    assert any(":11:" in x and "set.Note" in x and "no_such_field" in x for x in lines), lines
