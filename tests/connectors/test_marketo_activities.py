"""The Marketo connector's write-only ``activities`` stream against the emulator over real
HTTP (issue #5): mapping to Add Custom Activities, batches of 300, per-record results, type
names resolved once, and the recovery read that matches creates by source id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.marketo import MarketoConnector
from connectors.sdk import ConfigurationError, ErrorCategory, WriteMode, WriteOp
from sandbox.core import EmulatorServer
from sandbox.marketo import MarketoConfig, MarketoEmulator
from sandbox.marketo.custom_activities import (
    DEFAULT_CUSTOM_TYPES,
    AttributeDef,
    CustomActivityType,
)
from tests.connectors.marketo_fixtures import make_connector, running

ADD = "/rest/v1/activities/external.json"
DRAFT = CustomActivityType(100003, "renkeiDraft", "Draft (renkei)",
                           AttributeDef("sourceId", "Source ID"), status="draft")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[MarketoEmulator, EmulatorServer]]:
    with running(MarketoConfig(size=80, custom_activity_types=(*DEFAULT_CUSTOM_TYPES, DRAFT))) \
            as pair:
        yield pair


@pytest.fixture
def connector(served: tuple[MarketoEmulator, EmulatorServer]) -> Iterator[MarketoConnector]:
    emulator, server = served
    emulator.reset()
    with make_connector(emulator, server) as c:
        yield c


def _op(lead: Any, source: str, **extra: Any) -> WriteOp:
    values = {"leadId": lead, "activityDate": "2026-09-10T05:03:00Z",
              "activityType": "renkeiWebinarAttended", "primaryAttributeValue": source,
              "title": "製造業DXセミナー", "minutes": 42.0, "percentViewed": None, **extra}
    return WriteOp(WriteMode.CREATE, values, ref=f"activity:{source}")


def _calls(emulator: MarketoEmulator, path: str, since: int) -> int:
    return sum(1 for c in emulator.calls.list(since=since) if c.path == path)


def test_the_stream_is_write_only_and_declares_non_idempotent_creates(
        connector: MarketoConnector) -> None:
    spec = connector.stream("activities")
    assert (spec.create_idempotent, spec.write_batch_size) == (False, 300)
    assert spec.write_modes == frozenset({WriteMode.CREATE})
    assert connector.stream("leads").create_idempotent is True
    with pytest.raises(ConfigurationError, match="write-only"):
        connector.read("activities", None)


def test_301_activities_go_in_two_calls_with_one_result_each_in_order(
        served: tuple[MarketoEmulator, EmulatorServer], connector: MarketoConnector) -> None:
    emulator, _ = served
    since = emulator.calls.last_seq
    ops = [_op(1 + i % 80, f"zoom:w:{i}") for i in range(301)]
    results = connector.write("activities", ops)
    assert _calls(emulator, ADD, since) == 2
    assert all(r.ok and r.created for r in results)
    written = emulator.custom.written()
    assert [w.guid for w in written] == [r.id for r in results]
    assert [w.primary for w in written] == [f"zoom:w:{i}" for i in range(301)]
    assert dict(written[0].attributes) == {"Webinar Name": "製造業DXセミナー",
                                           "Minutes Attended": 42.0}
    # The type was resolved by API name with one types call for the connector's life.
    connector.write("activities", [_op(2, "zoom:again", activityType="Webinar attended (renkei)")])
    assert _calls(emulator, "/rest/v1/activities/external/types.json", since) == 1


def test_record_errors_are_classified_and_local_refusals_cost_no_call(
        served: tuple[MarketoEmulator, EmulatorServer], connector: MarketoConnector) -> None:
    emulator, _ = served
    connector.write("activities", [_op(1, "warm-up")])  # the types are known from here on
    since = emulator.calls.last_seq
    results = connector.write("activities", [
        _op(9999, "no-lead"),
        _op(1, "bad-value", minutes="seventy"),
        _op(1, "bad-name", colour="red"),
        _op(1, "ok"),
    ])
    assert [r.ok for r in results] == [False, False, False, True]
    errors = [r.error for r in results[:3]]
    assert [(e.category, e.code) for e in errors if e] == [
        (ErrorCategory.NOT_FOUND, "1004"), (ErrorCategory.VALIDATION, "1001"),
        (ErrorCategory.VALIDATION, "1006")]
    assert _calls(emulator, ADD, since) == 1

    since = emulator.calls.last_seq
    local = connector.write("activities", [
        _op(1, "unknown-type", activityType="nope"),
        _op(1, "draft-type", activityType="renkeiDraft"),
        _op(None, "no-lead-id"),
        _op(1, "bad-date", activityDate="yesterday"),
        WriteOp(WriteMode.UPDATE, {"minutes": 50.0}, id="7", ref="activity:x"),
    ])
    categories = [r.error.category if r.error else None for r in local]
    assert categories == [ErrorCategory.CONFIGURATION, ErrorCategory.CONFIGURATION,
                          ErrorCategory.VALIDATION, ErrorCategory.VALIDATION,
                          ErrorCategory.VALIDATION]
    assert "write-once" in (local[4].error.message if local[4].error else "")
    assert _calls(emulator, ADD, since) == 0


def test_find_created_matches_lead_type_and_source_id_in_few_reads(
        served: tuple[MarketoEmulator, EmulatorServer], connector: MarketoConnector) -> None:
    emulator, _ = served
    landed = [_op(1 + i % 70, f"zoom:w:{i}") for i in range(140)]
    connector.write("activities", landed)
    # Same source id on another lead, and another type, must not match.
    connector.write("activities", [_op(75, "zoom:w:other-lead"),
                                   _op(3, "zoom:w:0", activityType="renkeiVideoViewed",
                                       minutes=None)])
    never = [_op(1 + i % 70, f"zoom:w:never-{i}") for i in range(10)]
    impostor = _op(76, "zoom:w:other-lead")  # that source id, but on lead 76
    since = emulator.calls.last_seq
    found = connector.find_created("activities", [*landed, *never, impostor],
                                   since="2020-01-01T00:00:00.000000Z")
    assert set(found) == {op.ref for op in landed}
    guids = {w.primary: w.guid for w in emulator.custom.written() if w.type_id == 100001}
    assert found["activity:zoom:w:5"] == guids["zoom:w:5"]
    # 71 leads: three chunks of at most 30 ids, one paging token for all of them.
    reads = _calls(emulator, "/rest/v1/activities.json", since)
    assert 3 <= reads <= 6
    assert _calls(emulator, "/rest/v1/activities/pagingtoken.json", since) == 1
    assert connector.find_created("activities", never, since="2020-01-01T00:00:00Z") == {}


def test_leads_keep_upsert_semantics_and_no_recovery_read(connector: MarketoConnector) -> None:
    with pytest.raises(NotImplementedError):
        connector.find_created("leads", [], since="2026-01-01T00:00:00Z")
