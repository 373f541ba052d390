"""The Zoom connector against the Zoom emulator over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.sdk import AuthenticationError, ConnectorContext, MemoryLedger, Page
from connectors.sdk.errors import ConfigurationError
from connectors.zoom import ZoomConnector
from sandbox.core import EmulatorServer, FaultRule
from sandbox.zoom import ZoomConfig, ZoomEmulator

Account = tuple[ZoomEmulator, EmulatorServer]


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    emulator = ZoomEmulator(ZoomConfig(qps=()))
    with EmulatorServer(emulator.asgi(), name="zoom") as server:
        yield emulator, server


@pytest.fixture
def emulator(account: Account) -> ZoomEmulator:
    account[0].reset()
    return account[0]


def _connector(account: Account, **options: Any) -> ZoomConnector:
    emulator, server = account
    config = {**emulator.credentials(), "base_url": f"{server.url}/v2",
              "oauth_url": f"{server.url}/oauth/token", "calls_per_second": 0,
              "retry_attempts": 3, **options}
    return ZoomConnector(config, context=ConnectorContext("zoom", ledger=MemoryLedger()))


def _records(pages: list[Page]) -> list[dict[str, Any]]:
    return [r for page in pages for r in page.records]


def test_registrants_page_through_every_webinar(account: Account, emulator: ZoomEmulator) -> None:
    with _connector(account, page_size=7) as zoom:
        pages = list(zoom.read("webinar_registrants", None))
    records = _records(pages)
    expected = {(w.uuid, r.email) for w in emulator.data.webinars for r in w.registrants}
    assert {(r["webinar_uuid"], r["email"]) for r in records} == expected
    assert len({r["source_id"] for r in records}) == len(records)
    # The call log strips token-like params, so count the calls: one per page of 7.
    paged = emulator.calls.list(path_prefix="/v2/webinars/")
    assert len(paged) == sum(-(-len(w.registrants) // 7) for w in emulator.data.webinars)
    # The upcoming webinar stays open: the cursor never passes now.
    upcoming = next(w for w in emulator.data.webinars if not w.ended)
    assert pages[-1].state["cursor"] < upcoming.start_time.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_attendance_sums_rejoins_and_keeps_guests(account: Account,
                                                  emulator: ZoomEmulator) -> None:
    with _connector(account, page_size=10) as zoom:
        records = _records(list(zoom.read("webinar_attendance", None)))
    by_id = {r["source_id"]: r for r in records}
    for webinar in (w for w in emulator.data.webinars if w.ended):
        for email in {p.email for p in webinar.participants if p.email}:
            rows = [p for p in webinar.participants if p.email == email]
            record = by_id[f"zoom:{webinar.uuid}:{email}"]
            assert record["minutes"] == round(sum(p.duration for p in rows) / 60, 1)
            assert record["sessions"] == len(rows)
    assert any(r["sessions"] > 1 for r in records)
    guests = [r for r in records if r["email"] is None]
    guest = next(p for p in emulator.data.webinars[0].participants if not p.email)
    assert [g["source_id"] for g in guests] == [
        f"zoom:{emulator.data.webinars[0].uuid}:participant:{guest.id}"]


def test_token_expiry_mid_read_is_refreshed_once(account: Account,
                                                 emulator: ZoomEmulator) -> None:
    with _connector(account) as zoom:
        reader = zoom.read("webinar_attendance", None)
        first = next(reader)
        emulator.expire_tokens()
        rest = list(reader)
        assert zoom.api.auth.refreshes == 2
    assert first.records and rest
    refused = [c for c in emulator.calls.list() if c.status == 401]
    assert len(refused) == 1


def test_rate_limit_is_retried_within_the_budget(account: Account,
                                                 emulator: ZoomEmulator) -> None:
    emulator.faults.add(FaultRule("rate_limit", path="/report/", times=2, retry_after=0.05))
    with _connector(account, retry_attempts=3) as zoom:
        records = _records(list(zoom.read("webinar_attendance", None)))
    assert records
    assert sum(1 for c in emulator.calls.list() if c.status == 429) == 2


def test_late_attendance_is_picked_up_by_the_lookback(account: Account,
                                                     emulator: ZoomEmulator) -> None:
    late = next(w for w in emulator.data.webinars if w.late)
    late_ids = {f"zoom:{late.uuid}:{p.email}" for p in late.late}
    newest_end = max(w.end_time for w in emulator.data.webinars if w.ended)
    gap_days = (newest_end - late.end_time).total_seconds() / 86400
    with _connector(account, lookback_days=gap_days + 1) as zoom:
        pages = list(zoom.read("webinar_attendance", None))
        assert not late_ids & {r["source_id"] for r in _records(pages)}
        emulator.data.release_late()
        again = _records(list(zoom.read("webinar_attendance", pages[-1].state)))
    assert late_ids <= {r["source_id"] for r in again}
    with _connector(account, lookback_days=max(gap_days - 1, 0)) as zoom:
        short = _records(list(zoom.read("webinar_attendance", pages[-1].state)))
    assert not late_ids & {r["source_id"] for r in short}


def test_re_reading_gives_the_same_source_ids(account: Account, emulator: ZoomEmulator) -> None:
    with _connector(account) as zoom:
        first = _records(list(zoom.read("webinar_attendance", None)))
        second = _records(list(zoom.read("webinar_attendance", None)))
    assert first == second


def test_wrong_secret_is_an_authentication_error(account: Account,
                                                 emulator: ZoomEmulator) -> None:
    with _connector(account, client_secret="wrong") as zoom, \
            pytest.raises(AuthenticationError) as caught:
        zoom.check()
    assert "wrong" not in str(caught.value)


def test_streams_are_read_only(account: Account) -> None:
    with _connector(account) as zoom:
        assert all(not s.write_modes for s in zoom.streams())
        with pytest.raises(ConfigurationError):
            zoom.write("webinar_attendance", [])
