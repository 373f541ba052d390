"""Zoom webhook events as records of ``webinar_events`` (issue #5): the source ids the poll
gives, no minutes, ignored and failed events in the inbox, the SDK hook's fallback, and the
validator's cross-mapping policy check for source-keyed mappings.

The events are the Zoom emulator's own bodies (:func:`sandbox.zoom.webhooks.event_body`, what
its sender posts); the poll reads the emulator over real HTTP.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.memory import MemoryDataset
from connectors.sdk import ConnectorContext, MemoryLedger
from connectors.zoom import ZoomConnector
from connectors.zoom.webhooks import MalformedEventError
from renkei.mapping.validate import validate_paths
from renkei.project import Project
from renkei.store import Store
from renkei.store import schema as t
from renkei.store.inbox import InboxEvent
from renkei.webhooks import process_inbox
from sandbox.core import EmulatorServer
from sandbox.zoom import ZoomConfig, ZoomEmulator
from sandbox.zoom.data import fmt
from sandbox.zoom.webhooks import event_body
from tests.engine.harness import CRM_SCHEMA, crm_mapping

REPO = Path(__file__).resolve().parents[2]
JOINED, LEFT = "webinar.participant_joined", "webinar.participant_left"
REGISTERED = "webinar.registration_created"
EVENT_MS = 1_790_000_000_000
SHARED = ("type", "webinar_id", "webinar_uuid", "topic", "webinar_start", "webinar_end", "email",
          "name", "participant_id", "registrant_id")

Account = tuple[ZoomEmulator, EmulatorServer]


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    emulator = ZoomEmulator(ZoomConfig(qps=()))
    with EmulatorServer(emulator.asgi(), name="zoom") as server:
        yield emulator, server


@pytest.fixture
def zoom(account: Account) -> Iterator[ZoomConnector]:
    emulator, server = account
    emulator.reset()
    config = {**emulator.credentials(), "base_url": f"{server.url}/v2",
              "oauth_url": f"{server.url}/oauth/token", "calls_per_second": 0}
    with ZoomConnector(config, context=ConnectorContext("zoom", ledger=MemoryLedger())) as c:
        yield c


def _poll(zoom: ZoomConnector, stream: str) -> dict[str, dict[str, Any]]:
    return {r["source_id"]: r for page in zoom.read(stream, None) for r in page.records}


def test_every_report_row_sent_as_a_join_gets_the_polls_source_id_and_values(
        account: Account, zoom: ZoomConnector) -> None:
    emulator = account[0]
    polled = _poll(zoom, "webinar_attendance")
    seen = set()
    for webinar in (w for w in emulator.data.webinars if w.ended):
        for row in webinar.participants:  # guests and every session of a rejoin included
            body = event_body(JOINED, emulator.config.account_id, webinar, participant=row,
                              now_ms=EVENT_MS)
            [record] = zoom.webhook_records("webinar_events", body)
            poll = polled[record["source_id"]]
            assert {k: record[k] for k in SHARED} == {k: poll[k] for k in SHARED}
            assert record["occurred_at"] == record["join_time"] == fmt(row.join_time)
            assert "minutes" not in record and "sessions" not in record
            seen.add(record["source_id"])
    assert seen == set(polled)
    assert any(r["email"] is None for r in polled.values())  # the guest was among them


def test_a_registration_gets_the_registrant_streams_source_id_at_the_events_time(
        account: Account, zoom: ZoomConnector) -> None:
    emulator = account[0]
    polled = _poll(zoom, "webinar_registrants")
    upcoming = next(w for w in emulator.data.webinars if not w.ended)
    for registrant in upcoming.registrants[:5]:
        body = event_body(REGISTERED, emulator.config.account_id, upcoming,
                          registrant=registrant, now_ms=EVENT_MS)
        assert "create_time" not in json.dumps(body)  # Zoom's event carries none
        [record] = zoom.webhook_records("webinar_events", body)
        poll = polled[record["source_id"]]
        assert record["type"] == "webinar_registered"
        assert {k: record[k] for k in ("email", "name", "org", "webinar_id", "topic")} == {
            k: poll[k] for k in ("email", "name", "org", "webinar_id", "topic")}
        assert record["occurred_at"] == fmt(datetime.fromtimestamp(EVENT_MS / 1000, UTC))


def test_a_leave_without_join_time_and_other_event_types_give_no_record(
        account: Account, zoom: ZoomConnector) -> None:
    emulator = account[0]
    webinar = emulator.data.webinars[0]
    row = next(p for p in webinar.participants if p.email)
    left = event_body(LEFT, emulator.config.account_id, webinar, participant=row)
    assert "join_time" not in left["payload"]["object"]["participant"]
    ended = event_body("webinar.ended", emulator.config.account_id, webinar)
    for event in (left, ended, {"event": "endpoint.url_validation", "payload": {}}, [1], "x"):
        assert zoom.webhook_records("webinar_events", event) == []
    left["payload"]["object"]["participant"]["join_time"] = fmt(row.join_time)
    assert [r["occurred_at"] for r in zoom.webhook_records("webinar_events", left)] == [
        fmt(row.join_time)]


def test_a_malformed_event_fails_with_a_reason_that_names_no_person(
        account: Account, zoom: ZoomConnector) -> None:
    emulator = account[0]
    webinar = emulator.data.webinars[0]
    row = next(p for p in webinar.participants if p.email)
    body = event_body(JOINED, emulator.config.account_id, webinar, participant=row)
    del body["payload"]["object"]["participant"]["join_time"]
    with pytest.raises(MalformedEventError, match="join_time") as caught:
        zoom.webhook_records("webinar_events", body)
    assert row.email not in str(caught.value) and row.name not in str(caught.value)
    with pytest.raises(MalformedEventError, match="registrant"):
        zoom.webhook_records("webinar_events", {"event": REGISTERED, "event_ts": EVENT_MS,
                                                "payload": {"object": {"uuid": "u", "id": 1}}})


def test_only_webinar_events_takes_webhooks_and_reading_it_calls_nothing(
        account: Account, zoom: ZoomConnector) -> None:
    with pytest.raises(NotImplementedError):
        zoom.webhook_records("webinar_attendance", {"event": JOINED})
    before = len(account[0].calls.list())
    assert list(zoom.read("webinar_events", None)) == []
    assert len(account[0].calls.list()) == before


# -- the inbox: failed and ignored events, and connectors without the hook -----------------

def _inbox(store: Store) -> list[tuple[str, str | None]]:
    with store.engine.connect() as conn:
        return [(r.status, r.error) for r in conn.execute(
            t.webhook_inbox.select().order_by(t.webhook_inbox.c.id))]


def _add(store: Store, source: str, *bodies: dict[str, Any]) -> None:
    with store.transaction() as tx:
        tx.inbox.add_many([InboxEvent(source, f"e{i}", str(b.get("event") or b.get("type")),
                                      None, json.dumps(b, ensure_ascii=False))
                           for i, b in enumerate(bodies)])


def test_the_inbox_fails_a_malformed_zoom_event_and_ignores_one_without_a_record(
        tmp_path: Path) -> None:
    maps = tmp_path / "mappings"
    maps.mkdir()
    (maps / "zoom-webinar-events.yaml").write_bytes(
        (REPO / "mappings" / "zoom-webinar-events.yaml").read_bytes())
    project = Project(root=tmp_path, database_url=f"sqlite:///{tmp_path / 'hub.db'}",
                      mappings_dir=maps, connections={"zoom": {"type": "zoom", "config": {
                          "account_id": "a", "client_id": "c", "client_secret": "s",
                          "base_url": "http://127.0.0.1:9/v2"}}},
                      webhooks={"zoom": {"verify": "zoom", "secret": "x",
                                         "mapping": "zoom-webinar-events"}})
    store = Store.open(str(project.database_url))
    try:
        webinar = {"uuid": "w==", "id": "81234568001", "topic": "t",
                   "start_time": "2026-09-10T05:00:00Z", "duration": 60}
        person = {"id": "p1", "user_name": "山田 太郎", "email": "taro@example.co.jp"}
        _add(store, "zoom",
             {"event": JOINED, "event_ts": EVENT_MS,
              "payload": {"object": {**webinar, "participant": person}}},
             {"event": "webinar.started", "event_ts": EVENT_MS, "payload": {"object": webinar}},
             {"event": JOINED, "event_ts": EVENT_MS, "payload": {"object": {
                 **webinar, "participant": {**person, "join_time": "2026-09-10T05:01:00Z"}}}})
        report = process_inbox(project, store)
        assert (report.processed, report.ignored, report.failed, report.records) == (1, 1, 1, 1)
        assert _inbox(store) == [
            ("failed", f"{JOINED}: participant.join_time is missing or not a time"),
            ("ignored", "a webinar.started event holds no webinar_events record"),
            ("processed", None)]
        with store.transaction() as tx:
            [activity] = tx.records.page("activity")
        assert activity.data["source_id"] == "zoom:w==:taro@example.co.jp"
    finally:
        store.close()
        project.close()


def test_a_connector_without_the_hook_takes_the_whole_event_as_the_record(
        tmp_path: Path) -> None:
    dataset = f"hook-{uuid.uuid4().hex[:8]}"
    MemoryDataset.create(dataset).add_stream("leads", CRM_SCHEMA)
    maps = tmp_path / "mappings"
    maps.mkdir()
    (maps / "crm-leads.yaml").write_text(crm_mapping(), encoding="utf-8")
    project = Project(root=tmp_path, database_url=f"sqlite:///{tmp_path / 'hub.db'}",
                      mappings_dir=maps,
                      connections={"crm": {"type": "memory", "config": {"dataset": dataset}}},
                      webhooks={"crm": {"verify": "hmac", "secret": "x", "mapping": "crm-leads"}})
    store = Store.open(str(project.database_url))
    try:
        _add(store, "crm", {"id": "lea-000001", "type": "UPDATE_RECORD",
                            "Email": "hanako@example.co.jp", "LastName": "佐藤",
                            "Company": "サクラ精機", "updated_at": "2026-11-20T10:00:00Z"})
        assert process_inbox(project, store).processed == 1
        with store.transaction() as tx:
            [lead] = tx.records.page("lead")
        assert lead.data["email"] == "hanako@example.co.jp"
    finally:
        store.close()
        project.close()


def test_source_keyed_mappings_are_left_out_of_the_policy_comparison() -> None:
    found = [d for d in validate_paths([REPO / "mappings"]) if "conflict policy" in d.message]
    keyed = ("zoom-attendance", "zoom-webinar-events", "brightcove-views")
    assert [d for d in found if any(k in d.path or k in d.message for k in keyed)] == []
    # Mappings matched by person keys are still compared.
    assert any("kintone-leads" in d.path and "hubspot-contacts" in d.message for d in found)
