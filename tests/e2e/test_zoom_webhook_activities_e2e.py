"""Zoom webhooks become the hub activities the Zoom poll produces (issue #5), over real HTTP.

The Zoom emulator delivers signed events to a running receiver (``create_receiver``, as
``renkei serve`` runs it); ``process_inbox`` applies them through the project's
``zoom-webinar-events`` mapping, and the poll (``zoom-attendance``) reads the emulator's report
through the real connector. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from renkei.engine.runner import SyncRunner
from renkei.engine.stats import RunSummary
from renkei.project import Project
from renkei.store import HubRecord, Store
from renkei.store import schema as t
from renkei.webhooks import InboxReport, create_receiver, make_source, process_inbox
from sandbox.core import EmulatorServer
from sandbox.zoom import ZoomConfig, ZoomEmulator
from sandbox.zoom.data import Participant, Webinar, fmt
from sandbox.zoom.webhooks import event_body

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
SECRET = "zoom-e2e-secret-token-3c1d"
JOINED, LEFT = "webinar.participant_joined", "webinar.participant_left"



class Clock:
    """Wall time, or a frozen second: a signed request resent in the same second is a replay."""

    def __init__(self) -> None:
        self.frozen: float | None = None

    def __call__(self) -> float:
        return time.time() if self.frozen is None else self.frozen


CLOCK = Clock()
Account = tuple[ZoomEmulator, EmulatorServer]


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    emulator = ZoomEmulator(ZoomConfig(qps=(), clock=CLOCK))
    with EmulatorServer(emulator.asgi(), name="zoom") as server:
        yield emulator, server


@dataclass
class World:
    emulator: ZoomEmulator
    zoom_url: str
    project: Project
    store: Store

    def deliver(self, event: str, webinar: Webinar, participant: Participant,
                now_ms: int = 1_791_000_000_000, *, status: int = 200) -> None:
        """Zoom posts one participant event (signed by the emulator's sender)."""
        body = event_body(event, self.emulator.config.account_id, webinar,
                          participant=participant, now_ms=now_ms)
        delivery = self.emulator.webhooks.send(body)
        assert delivery.status == status, delivery

    def send(self, event: str, webinar: Webinar, email: str | None = None) -> None:
        """Ask the emulator over its sandbox endpoint to send an event about a person."""
        r = httpx.post(f"{self.zoom_url}/_sandbox/zoom/webhook/send", json={
            "event": event, "webinar": str(webinar.id), "email": email})
        assert r.json()["status"] == 200, r.text

    def apply(self) -> InboxReport:
        return process_inbox(self.project, self.store)

    def sync(self, mapping: str) -> RunSummary:
        summary = SyncRunner(self.project, self.store).sync("activity", mappings=[mapping])
        assert summary.status == "completed", [s.error for s in summary.stats]
        return summary

    def records(self, entity: str) -> list[HubRecord]:
        with self.store.transaction() as tx:
            return tx.records.page(entity, limit=10_000)

    def activities(self) -> dict[str, HubRecord]:
        return {str(r.data["source_id"]): r for r in self.records("activity")}

    def inbox(self) -> list[tuple[str, str | None]]:
        with self.store.engine.connect() as conn:
            return [(r.status, r.error) for r in conn.execute(
                t.webhook_inbox.select().order_by(t.webhook_inbox.c.id))]


@pytest.fixture
def world(account: Account, tmp_path: Path, db_url: str) -> Iterator[World]:
    emulator, server = account
    emulator.reset()
    CLOCK.frozen = None
    maps = tmp_path / "mappings"
    maps.mkdir()
    for name in ("zoom-attendance.yaml", "zoom-webinar-events.yaml"):
        shutil.copy(REPO / "mappings" / name, maps)
    (tmp_path / "rules").mkdir()  # no rule files: capture only, as every rules phase does
    project = Project(
        root=tmp_path, database_url=db_url, mappings_dir=maps, rules_dir=tmp_path / "rules",
        connections={"zoom": {"type": "zoom", "config": {
            **emulator.credentials(), "base_url": f"{server.url}/v2",
            "oauth_url": f"{server.url}/oauth/token", "calls_per_second": 0,
            # re-read every webinar on each poll, so the late report rows are read
            "lookback_days": 365}}},
        webhooks={"zoom": {"verify": "zoom", "secret": SECRET,
                           "mapping": "zoom-webinar-events"}})
    store = Store.open(db_url)
    receiver = create_receiver(store, {"zoom": make_source("zoom",
                                                           project.webhook_settings("zoom"))})
    try:
        with EmulatorServer(receiver, name="receiver") as hooks:
            sandbox = f"{server.url}/_sandbox/zoom/webhook"
            assert httpx.post(sandbox, json={"url": f"{hooks.url}/webhooks/zoom",
                                             "secret_token": SECRET}).status_code == 201
            assert httpx.post(f"{sandbox}/validate").json()["valid"] is True
            yield World(emulator, server.url, project, store)
    finally:
        store.close()
        project.close()


def _minutes(rows: list[Participant]) -> float:
    return round(sum(p.duration for p in rows) / 60.0, 1)


def test_a_webhook_attendee_and_the_later_report_are_one_activity_with_the_reports_minutes(
        world: World) -> None:
    webinar = world.emulator.data.webinars[2]  # some of its report rows come in late
    late = next(p for p in webinar.late if p.email)
    sessions = [p for p in webinar.late if p.email == late.email]
    sid = f"zoom:{webinar.uuid}:{late.email}"

    world.deliver(JOINED, webinar, sessions[0])
    assert world.apply().processed == 1
    assert world.apply().processed == 0  # applied once
    world.sync("zoom-attendance")  # the report has no row for them yet
    early = world.activities()[sid]
    assert early.data["type"] == "webinar_attended"
    assert early.data["occurred_at"] == fmt(sessions[0].join_time)
    assert "minutes" not in early.data  # one session is not the attendance: the report sums

    waiting = len(webinar.late)
    released = httpx.post(f"{world.zoom_url}/_sandbox/zoom/release-late",
                          params={"webinar": str(webinar.id)})
    assert released.json()["released"] == waiting
    world.sync("zoom-attendance")
    polled = world.activities()[sid]
    assert polled.id == early.id
    assert [r.data["source_id"] for r in world.records("activity")
            if r.data.get("email") == late.email and r.data.get("campaign") == str(webinar.id)
            ] == [sid]
    assert polled.data["minutes"] == _minutes(sessions)
    assert polled.data["details"]["sessions"] == len(sessions)
    assert polled.data["occurred_at"] == fmt(min(p.join_time for p in sessions))

    # After the poll: the same join again (a new body: new event_ts), replayed as signed and
    # redelivered; its leave; any rejoin; all in one batch. None may touch the report's
    # minutes, first join or details.
    before = len(world.inbox())
    CLOCK.frozen = float(int(time.time()))
    world.deliver(JOINED, webinar, sessions[0], now_ms=1_791_000_000_500)
    world.deliver(JOINED, webinar, sessions[0], now_ms=1_791_000_000_500, status=401)  # replay
    CLOCK.frozen += 1
    world.deliver(JOINED, webinar, sessions[0], now_ms=1_791_000_000_500)  # redelivery: kept once
    CLOCK.frozen = None
    world.deliver(LEFT, webinar, sessions[0])
    for again in sessions[1:]:
        world.deliver(JOINED, webinar, again, now_ms=1_791_000_009_000)
    assert len(world.inbox()) == before + 2 + len(sessions[1:])
    report = world.apply()
    assert (report.processed, report.ignored, report.failed) == (1 + len(sessions[1:]), 1, 0)
    after = world.activities()[sid]
    assert (after.data, after.version) == (polled.data, polled.version)
    assert ("ignored", "a webinar.participant_left event holds no webinar_events record") in (
        world.inbox())


def test_a_registration_and_an_unknown_attendee_reach_the_hub_and_capture_a_webinar_lead(
        world: World) -> None:
    first, upcoming = world.emulator.data.webinars[0], world.emulator.data.webinars[4]
    # The last registrants of each webinar are seed people no other sandbox holds.
    unknown = {r.email for r in first.registrants[-4:]}
    attendee = next(p for p in first.participants if p.email in unknown)
    guest = next(p for p in first.participants if not p.email)
    registrant = upcoming.registrants[-1]

    world.send(JOINED, first, attendee.email)
    world.deliver(JOINED, first, guest)
    world.send("webinar.registration_created", upcoming, registrant.email)
    world.send("webinar.ended", first)
    report = world.apply()
    assert (report.processed, report.records, report.ignored, report.failed) == (3, 3, 1, 0)

    acts = world.activities()
    came = acts[f"zoom:{first.uuid}:{attendee.email}"].data
    assert (came["type"], came["channel"], came["occurred_at"]) == (
        "webinar_attended", "webinar", fmt(attendee.join_time))
    assert acts[f"zoom:{first.uuid}:participant:{guest.id}"].data.get("email") is None
    reg = acts[f"zoom:{upcoming.uuid}:registered:{registrant.email}"].data
    assert (reg["type"], reg["campaign"], reg["subject"]) == (
        "webinar_registered", str(upcoming.id), upcoming.topic)

    # Capture runs in the rules phase of the next sync run, as for polled activities: that
    # phase reads every hub change since its own cursor, the inbox's included.
    world.sync("zoom-webinar-events")  # webhook-fed: it reads nothing itself
    world.sync("zoom-webinar-events")
    leads = [r.data for r in world.records("lead")]
    assert sorted(lead["email"] for lead in leads) == sorted([attendee.email, registrant.email])
    by_email = {lead["email"]: lead for lead in leads}
    assert by_email[attendee.email]["lead_source"] == "webinar"
    assert by_email[attendee.email]["last_name"] == attendee.name.split()[0]
    assert by_email[registrant.email]["lead_source"] == "webinar"
    assert by_email[registrant.email]["last_name"] == registrant.last_name


def test_a_rejoin_never_moves_the_first_join_nor_replaces_the_reports_minutes(
        world: World) -> None:
    webinar = world.emulator.data.webinars[0]
    emails = sorted({p.email for p in webinar.participants if p.email})
    rejoiners = [[p for p in webinar.participants if p.email == e] for e in emails]
    early, late = [rows for rows in rejoiners if len(rows) > 1][:2]

    # During the webinar: the join, then the rejoin (each applied by its own inbox pass).
    for i, session in enumerate(early):
        world.deliver(JOINED, webinar, session, now_ms=1_791_000_000_000 + i)
        assert world.apply().processed == 1
    sid = f"zoom:{webinar.uuid}:{early[0].email}"
    assert world.activities()[sid].data["occurred_at"] == fmt(early[0].join_time)

    world.sync("zoom-attendance")
    polled = world.activities()
    assert polled[sid].data["minutes"] == _minutes(early)

    # A webhook delayed past the poll: the rejoin of someone the webhooks had not seen yet.
    late_sid = f"zoom:{webinar.uuid}:{late[0].email}"
    world.deliver(JOINED, webinar, late[1])
    assert world.apply().processed == 1
    after = world.activities()
    for key, rows in ((sid, early), (late_sid, late)):
        assert after[key].data == polled[key].data and after[key].version == polled[key].version
        assert after[key].data["occurred_at"] == fmt(rows[0].join_time)
        assert after[key].data["minutes"] == _minutes(rows)
