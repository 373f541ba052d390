"""The Brightcove connector against the emulator over real HTTP: totals per (video, viewer),
paging, token expiry, late (settling) analytics, anonymous viewers, 429s and error arrays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from connectors.brightcove import BrightcoveConnector
from connectors.sdk import AccessDeniedError, AuthenticationError, ConnectorContext, MemoryLedger
from sandbox.brightcove import BrightcoveConfig, BrightcoveEmulator, EmulatorClock
from sandbox.brightcove.analytics import visible_seconds
from sandbox.core import EmulatorServer, FaultRule

TODAY = date(2026, 11, 20)
START_S = datetime(2026, 11, 20, 3, tzinfo=UTC).timestamp()


@pytest.fixture
def served() -> Iterator[tuple[BrightcoveEmulator, EmulatorServer]]:
    config = BrightcoveConfig(size=200, today=TODAY, clock=EmulatorClock(START_S, frozen=True))
    emulator = BrightcoveEmulator(config)
    with EmulatorServer(emulator.asgi(), name="brightcove") as server:
        yield emulator, server


def _connector(served: tuple[BrightcoveEmulator, EmulatorServer],
               **overrides: Any) -> BrightcoveConnector:
    emulator, server = served
    config = {**emulator.credentials(), "oauth_url": server.url, "cms_url": server.url,
              "analytics_url": server.url, "page_size": 7, "lookback_days": 2, **overrides}
    return BrightcoveConnector(config, context=ConnectorContext("brightcove", MemoryLedger()),
                               clock=emulator.clock.now)


def _read(connector: BrightcoveConnector, state: dict[str, Any] | None = None
          ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    last: dict[str, Any] = {}
    for page in connector.read("video_views", state):
        for record in page.records:
            assert record["id"] not in records, "one record per (video, viewer)"
            records[record["id"]] = record
        last = page.state
    return records, last


def _expected(emulator: BrightcoveEmulator) -> dict[str, float]:
    """Seconds per source id, computed from the emulator's sessions, as of its clock."""
    now = emulator.clock.now()
    out: dict[str, float] = {}
    for v in emulator.views:
        if v.at_s <= now:
            key = f"brightcove:{v.video_id}:{v.viewer}"
            out[key] = out.get(key, 0.0) + visible_seconds(v, now, emulator.config.settle_days)
    return out


def test_first_read_pages_through_totals_per_video_and_viewer(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, _ = served
    with _connector(served) as connector:
        records, state = _read(connector)
    expected = _expected(emulator)
    assert set(records) == set(expected)
    for source_id, record in records.items():
        assert record["seconds_viewed"] == pytest.approx(expected[source_id], abs=0.2)
        assert 0 <= record["percent_viewed"] <= 100
        assert record["video_name"].startswith("オンデマンド: ")
    assert state == {"day": "2026-11-20"}
    offsets = [c.query.get("offset") for c in emulator.calls.list(path_prefix="/v1/data")]
    assert any(o not in (None, "0") for o in offsets), "reports larger than a page are paged"
    assert any(r["percent_viewed"] >= 80 for r in records.values())


def test_anonymous_viewers_are_kept_with_a_null_email(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    with _connector(served) as connector:
        records, _ = _read(connector)
    anonymous = [r for r in records.values() if "@" not in r["viewer"]]
    assert anonymous and all(r["email"] is None for r in anonymous)
    known = [r for r in records.values() if "@" in r["viewer"]]
    assert known and all(r["email"] == r["viewer"].lower() for r in known)


def test_expired_token_is_refreshed_once_and_the_read_goes_on(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, _ = served
    with _connector(served) as connector:
        first, state = _read(connector)
        emulator.clock.advance(301)
        again, _ = _read(connector, state)
        assert connector.api.auth.refreshes == 2
    token_calls = emulator.calls.list(path_prefix="/v4/access_token")
    assert len(token_calls) == 2
    refused = [c for c in emulator.calls.list(path_prefix="/v1/") if c.status == 401]
    assert len(refused) == 1
    assert set(again) <= set(first)


def test_settling_analytics_update_the_same_source_id(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, _ = served
    video = emulator.videos[1]
    emulator.add_view(video.id, "settle.check@example.co.jp", START_S - 600, 1200.0)
    source_id = f"brightcove:{video.id}:settle.check@example.co.jp"
    with _connector(served) as connector:
        first, state = _read(connector)
        emulator.clock.advance(86_400)
        second, state2 = _read(connector, state)
    assert first[source_id]["seconds_viewed"] < second[source_id]["seconds_viewed"]
    assert first[source_id]["report_day"] == second[source_id]["report_day"] == "2026-11-20"
    assert [k for k in second if "settle.check" in k] == [source_id]
    assert state2 == {"day": "2026-11-21"}


def test_rate_limits_are_retried_within_the_budget(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, _ = served
    emulator.faults.add(FaultRule("rate_limit", path="^/v1/data", retry_after=0.05, times=2,
                                  after=1))
    with _connector(served) as connector:
        records, _ = _read(connector)
    assert records
    statuses = [c.status for c in emulator.calls.list(path_prefix="/v1/data")]
    assert statuses.count(429) == 2 and statuses[-1] == 200


def test_error_arrays_become_clear_errors_without_the_secret(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    with _connector(served, account_id="999") as connector, \
            pytest.raises(AccessDeniedError) as denied:
        connector.check()
    assert denied.value.vendor_code == "NOT_AVAILABLE"
    assert "999 is not available" in str(denied.value)
    emulator, _ = served
    with _connector(served, client_secret="wrong-s3cret") as connector, \
            pytest.raises(AuthenticationError) as refused:
        list(connector.read("video_views", None))
    assert refused.value.vendor_code == "invalid_client"
    assert "wrong-s3cret" not in str(refused.value) + repr(refused.value)
    assert emulator.config.client_secret not in str(refused.value)
