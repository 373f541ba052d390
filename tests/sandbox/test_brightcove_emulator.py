"""The Brightcove emulator over real HTTP: OAuth, token lifetime, CMS paging, the Analytics
envelope and filters, settling numbers, error arrays and faults."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest

from sandbox.brightcove import BrightcoveConfig, BrightcoveEmulator, EmulatorClock
from sandbox.core import EmulatorServer, FaultRule
from sandbox.launcher import EMULATORS, load_emulators
from sandbox.seed import people

TODAY = date(2026, 11, 20)
START_S = datetime(2026, 11, 20, 3, tzinfo=UTC).timestamp()
ACCOUNT = "6415818926001"


@pytest.fixture
def served() -> Iterator[tuple[BrightcoveEmulator, EmulatorServer]]:
    config = BrightcoveConfig(size=300, today=TODAY, clock=EmulatorClock(START_S, frozen=True))
    emulator = BrightcoveEmulator(config)
    with EmulatorServer(emulator.asgi(), name="brightcove") as server:
        yield emulator, server


def _basic(emulator: BrightcoveEmulator, secret: str | None = None) -> str:
    cfg = emulator.config
    raw = f"{cfg.client_id}:{secret or cfg.client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _token(emulator: BrightcoveEmulator, url: str) -> str:
    response = httpx.post(f"{url}/v4/access_token", data={"grant_type": "client_credentials"},
                          headers={"Authorization": _basic(emulator)})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    return str(body["access_token"])


def _data(url: str, token: str, **params: str) -> httpx.Response:
    query = {"accounts": ACCOUNT, "dimensions": "video,viewer", **params}
    return httpx.get(f"{url}/v1/data", params=query,
                     headers={"Authorization": f"Bearer {token}"})


def test_token_lives_300_seconds_on_the_emulator_clock(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, server = served
    token = _token(emulator, server.url)
    emulator.clock.advance(299)
    assert _data(server.url, token).status_code == 200
    emulator.clock.advance(2)
    expired = _data(server.url, token)
    assert expired.status_code == 401
    assert expired.json()[0]["error_code"] == "UNAUTHORIZED"


def test_bad_client_secret_and_grant_type_are_refused_with_error_arrays(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, server = served
    wrong = httpx.post(f"{server.url}/v4/access_token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": _basic(emulator, "nope")})
    assert wrong.status_code == 401 and wrong.json()[0]["error_code"] == "invalid_client"
    no_grant = httpx.post(f"{server.url}/v4/access_token",
                          headers={"Authorization": _basic(emulator)})
    assert no_grant.status_code == 400
    assert set(no_grant.json()[0]) >= {"error_code", "message"}


def test_cms_videos_page_with_limit_and_offset(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, server = served
    headers = {"Authorization": f"Bearer {_token(emulator, server.url)}"}
    url = f"{server.url}/v1/accounts/{ACCOUNT}/videos"
    first = httpx.get(url, params={"limit": 5, "sort": "name"}, headers=headers).json()
    rest = httpx.get(url, params={"limit": 5, "offset": 5, "sort": "name"},
                     headers=headers).json()
    names = [v["name"] for v in first + rest]
    assert len(names) == len(emulator.videos) and names == sorted(names)
    assert {"id", "name", "duration", "tags", "custom_fields", "updated_at"} <= set(first[0])
    assert "オンデマンド: 生産管理入門" in names
    other = httpx.get(f"{server.url}/v1/accounts/999/videos", headers=headers)
    assert other.status_code == 403 and other.json()[0]["error_code"] == "NOT_AVAILABLE"


def test_analytics_envelope_pages_and_summary_add_up(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, server = served
    token = _token(emulator, server.url)
    fields = "video,video_name,viewer,video_view,video_percent_viewed,video_seconds_viewed"
    whole = _data(server.url, token, fields=fields, limit="all", **{"from": "alltime"}).json()
    assert set(whole) == {"account", "item_count", "items", "summary"}
    assert whole["item_count"] == len(whole["items"]) > 20
    assert whole["summary"]["video_view"] == len(emulator.views) - sum(
        1 for v in emulator.views if v.at_s > START_S)
    paged = []
    for offset in range(0, whole["item_count"], 7):
        page = _data(server.url, token, fields=fields, limit="7", offset=str(offset),
                     sort="viewer", **{"from": "alltime"}).json()
        assert page["item_count"] == whole["item_count"]
        paged += page["items"]
    key = [(i["video"], i["viewer"]) for i in paged]
    assert len(set(key)) == len(key) == whole["item_count"]
    assert [i["viewer"] for i in paged] == sorted(i["viewer"] for i in paged)


def test_viewers_are_seed_emails_or_cookie_ids_and_some_finish_80_percent(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, server = served
    emulator.clock.advance(3 * 86_400)  # everything settled
    token = _token(emulator, server.url)
    items = _data(server.url, token, fields="viewer,video_percent_viewed", limit="all",
                  **{"from": "alltime"}).json()["items"]
    seed_emails = {p.email for p in people(300)}
    viewers = {i["viewer"] for i in items}
    assert viewers & seed_emails
    assert any(v.startswith(("id:", "anon-")) for v in viewers)
    done = [i for i in items if i["video_percent_viewed"] >= 80]
    assert 0 < len(done) < len(items)


def test_where_filters_one_video_and_dates_bound_the_window(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, server = served
    token = _token(emulator, server.url)
    video = emulator.videos[2].id
    items = _data(server.url, token, where=f"video=={video}", limit="all",
                  fields="video,viewer", **{"from": "alltime"}).json()["items"]
    assert items and {i["video"] for i in items} == {video}
    day = "2026-11-15"
    by_iso = _data(server.url, token, limit="all", **{"from": day, "to": day}).json()
    midnight = datetime(2026, 11, 15, tzinfo=UTC).timestamp()
    ms, ms_end = str(int(midnight * 1000)), str(int((midnight + 86_400) * 1000))
    by_ms = _data(server.url, token, limit="all", **{"from": ms, "to": ms_end}).json()
    assert by_iso["items"] == by_ms["items"] != []
    in_day = {(v.video_id, v.viewer) for v in emulator.views
              if midnight <= v.at_s < midnight + 86_400}
    assert {(i["video"], i["viewer"]) for i in by_ms["items"]} == in_day


def test_a_views_seconds_settle_over_later_days(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, server = served
    video = emulator.videos[0]
    emulator.add_view(video.id, "late.viewer@example.com", START_S - 60, 1800.0)
    token = _token(emulator, server.url)

    def seen() -> float:
        items = _data(server.url, token, where="viewer==late.viewer@example.com",
                      fields="video_seconds_viewed", **{"from": "2026-11-20"}).json()["items"]
        return float(items[0]["video_seconds_viewed"])

    first = seen()
    emulator.clock.advance(86_400)
    token = _token(emulator, server.url)
    second = seen()
    emulator.clock.advance(86_400)
    token = _token(emulator, server.url)
    assert first < second < seen() == 1800.0


def test_bad_parameters_answer_the_documented_error_codes(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, server = served
    token = _token(emulator, server.url)
    combo = _data(server.url, token, dimensions="viewer", fields="video_name")
    assert combo.status_code == 400
    assert combo.json()[0]["error_code"] == "UNSUPPORTED_FIELD_COMBINATION_ERROR"
    bad_date = _data(server.url, token, **{"from": "yesterday-ish"})
    assert bad_date.status_code == 400 and "from" in bad_date.json()[0]["message"]
    assert _data(server.url, token, accounts="1").json()[0]["error_code"] == "NOT_AVAILABLE"


def test_faults_render_as_brightcove_error_arrays_with_retry_after(
        served: tuple[BrightcoveEmulator, EmulatorServer]) -> None:
    emulator, server = served
    token = _token(emulator, server.url)
    emulator.faults.add(FaultRule("rate_limit", path="^/v1/data", retry_after=2))
    emulator.faults.add(FaultRule("server_error", path="^/v1/data", after=1))
    limited = _data(server.url, token)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.json()[0]["error_code"] == "TOO_MANY_REQUESTS"
    failed = _data(server.url, token)
    assert failed.status_code == 500 and failed.json()[0]["error_code"] == "SERVER_ERROR"
    assert _data(server.url, token).status_code == 200
    codes = [c.vendor_code for c in emulator.calls.list(path_prefix="/v1/data")]
    assert codes[:2] == ["TOO_MANY_REQUESTS", "SERVER_ERROR"]


def test_seed_data_is_deterministic_and_the_launcher_knows_the_emulator() -> None:
    one = BrightcoveEmulator(BrightcoveConfig(size=200, today=TODAY))
    two = BrightcoveEmulator(BrightcoveConfig(size=200, today=TODAY))
    assert one.views == two.views and one.videos == two.videos
    assert not load_emulators(["sandbox.brightcove"])
    assert "brightcove" in EMULATORS
