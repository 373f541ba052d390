"""The webhook receiver over real HTTP: each vendor's signature, freshness, replay, bad bodies
(issue #5). Expected signatures are computed here with hmac, by the vendors' documented
recipes, not by the code under test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from renkei.store import Store
from renkei.store import schema as t
from renkei.webhooks import create_receiver, make_source
from sandbox.core.server import EmulatorServer

ZOOM_SECRET = "zoom-secret-token-8f2a"
HUBSPOT_SECRET = "hubspot-client-secret-1c9e"
KINTONE_TOKEN = "k1ntone-url-token-77d1"
NOW = 1_790_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver(tmp_path: Path, clock: Clock) -> Iterator[tuple[str, Store]]:
    store = Store.open(f"sqlite:///{tmp_path / 'hub.db'}")
    sources = {
        "zoom": make_source("zoom", {"verify": "zoom", "secret": ZOOM_SECRET}),
        "hubspot": make_source("hubspot", {"verify": "hubspot_v3", "secret": HUBSPOT_SECRET}),
        "kintone": make_source("kintone", {"verify": "token", "secret": KINTONE_TOKEN}),
    }
    app = create_receiver(store, sources, clock=clock, max_body=64 * 1024)
    with EmulatorServer(app, name="receiver") as server:
        yield server.url, store
    store.close()


def zoom_headers(body: bytes, ts: float) -> dict[str, str]:
    stamp = str(int(ts))
    sig = hmac.new(ZOOM_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"x-zm-request-timestamp": stamp, "x-zm-signature": "v0=" + sig.hexdigest(),
            "content-type": "application/json"}


def participant_event(email: str = "taro.yamada@example.co.jp") -> bytes:
    return json.dumps({"event": "webinar.participant_joined", "event_ts": int(NOW * 1000),
                       "payload": {"object": {"id": "81234567890", "participant": {
                           "id": "p-1", "email": email, "user_name": "山田 太郎",
                           "join_time": "2026-11-20T10:00:00Z"}}}},
                      ensure_ascii=False).encode()


def inbox_rows(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(t.webhook_inbox.select())]


def test_a_signed_zoom_event_is_stored_before_the_200(receiver: tuple[str, Store]) -> None:
    url, store = receiver
    body = participant_event()
    r = httpx.post(f"{url}/webhooks/zoom", content=body, headers=zoom_headers(body, NOW))
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0}
    [row] = inbox_rows(store)
    assert (row["source"], row["event_type"], row["status"]) == (
        "zoom", "webinar.participant_joined", "pending")
    assert row["body"] == body.decode()


def test_a_forged_signature_is_refused_and_logged_without_the_payload(
        receiver: tuple[str, Store], caplog: pytest.LogCaptureFixture) -> None:
    url, store = receiver
    body = participant_event()
    headers = zoom_headers(body, NOW)
    headers["x-zm-signature"] = "v0=" + "0" * 64
    with caplog.at_level(logging.WARNING, logger="renkei.webhooks"):
        r = httpx.post(f"{url}/webhooks/zoom", content=body, headers=headers)
    assert r.status_code == 401
    assert inbox_rows(store) == []
    assert "signature does not match" in caplog.text
    assert "taro.yamada" not in caplog.text and ZOOM_SECRET not in caplog.text


def test_a_body_changed_after_signing_is_refused(receiver: tuple[str, Store]) -> None:
    url, store = receiver
    headers = zoom_headers(participant_event(), NOW)
    tampered = participant_event("attacker@example.com")
    assert httpx.post(f"{url}/webhooks/zoom", content=tampered, headers=headers).status_code == 401
    assert inbox_rows(store) == []


@pytest.mark.parametrize("age", [301, -301])
def test_a_stale_or_future_timestamp_is_refused(receiver: tuple[str, Store], age: int) -> None:
    url, store = receiver
    body = participant_event()
    r = httpx.post(f"{url}/webhooks/zoom", content=body, headers=zoom_headers(body, NOW - age))
    assert r.status_code == 401 and "timestamp" in r.json()["error"]
    assert inbox_rows(store) == []


def test_a_replayed_request_is_refused_but_a_redelivery_is_acknowledged_once(
        receiver: tuple[str, Store], clock: Clock) -> None:
    url, store = receiver
    body = participant_event()
    headers = zoom_headers(body, NOW)
    assert httpx.post(f"{url}/webhooks/zoom", content=body, headers=headers).status_code == 200
    replay = httpx.post(f"{url}/webhooks/zoom", content=body, headers=headers)
    assert replay.status_code == 401 and "replayed" in replay.json()["error"]
    clock.now += 60  # Zoom retries the same event, freshly signed
    again = httpx.post(f"{url}/webhooks/zoom", content=body, headers=zoom_headers(body, NOW + 60))
    assert again.status_code == 200 and again.json() == {"accepted": 0, "duplicates": 1}
    assert len(inbox_rows(store)) == 1


def test_malformed_json_is_a_400_after_the_signature_check(receiver: tuple[str, Store]) -> None:
    url, store = receiver
    body = b'{"event": "webinar.participant_joined", '
    r = httpx.post(f"{url}/webhooks/zoom", content=body, headers=zoom_headers(body, NOW))
    assert r.status_code == 400 and inbox_rows(store) == []


def test_an_oversized_body_is_a_413(receiver: tuple[str, Store]) -> None:
    url, store = receiver
    body = json.dumps({"event": "x", "pad": "あ" * 40_000}).encode()
    r = httpx.post(f"{url}/webhooks/zoom", content=body, headers=zoom_headers(body, NOW))
    assert r.status_code == 413 and inbox_rows(store) == []


def test_an_unknown_source_is_a_404(receiver: tuple[str, Store]) -> None:
    url, _ = receiver
    assert httpx.post(f"{url}/webhooks/nobody", content=b"{}").status_code == 404


def test_zoom_url_validation_is_answered_with_the_encrypted_token(
        receiver: tuple[str, Store]) -> None:
    url, store = receiver
    body = json.dumps({"event": "endpoint.url_validation", "event_ts": int(NOW * 1000),
                       "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}).encode()
    r = httpx.post(f"{url}/webhooks/zoom", content=body, headers=zoom_headers(body, NOW))
    expected = hmac.new(ZOOM_SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256)
    assert r.status_code == 200
    assert r.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw",
                        "encryptedToken": expected.hexdigest()}
    assert inbox_rows(store) == []


def test_kintone_events_need_the_secret_url_token(receiver: tuple[str, Store]) -> None:
    url, store = receiver
    body = json.dumps({"id": "01234567-0123-0123-0123-0123456789ab", "type": "UPDATE_RECORD",
                       "app": {"id": "1"}, "record": {"$id": {"value": "2"}}}).encode()
    assert httpx.post(f"{url}/webhooks/kintone/wrong", content=body).status_code == 401
    assert httpx.post(f"{url}/webhooks/kintone", content=body).status_code == 401
    r = httpx.post(f"{url}/webhooks/kintone/{KINTONE_TOKEN}", content=body)
    assert r.status_code == 200
    [row] = inbox_rows(store)
    assert (row["event_id"], row["event_type"]) == (
        "01234567-0123-0123-0123-0123456789ab", "UPDATE_RECORD")


def test_hubspot_v3_batches_are_split_into_events(receiver: tuple[str, Store],
                                                  clock: Clock) -> None:
    url, store = receiver
    events = [{"eventId": 100 + i, "subscriptionType": "contact.propertyChange",
               "objectId": 500 + i, "propertyName": "email",
               "propertyValue": f"p{i}@example.co.jp"} for i in range(3)]
    body = json.dumps(events).encode()
    stamp = str(int(NOW * 1000))
    target = f"{url}/webhooks/hubspot"
    sig = base64.b64encode(hmac.new(HUBSPOT_SECRET.encode(),
                                    b"POST" + target.encode() + body + stamp.encode(),
                                    hashlib.sha256).digest()).decode()
    headers = {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": stamp}
    assert httpx.post(target, content=body, headers=headers).json() == {
        "accepted": 3, "duplicates": 0}
    assert sorted(str(r["event_id"]) for r in inbox_rows(store)) == ["100", "101", "102"]
    headers["X-HubSpot-Signature-v3"] = base64.b64encode(b"x" * 32).decode()
    assert httpx.post(target, content=body, headers=headers).status_code == 401


def test_a_burst_of_concurrent_requests_is_all_stored(receiver: tuple[str, Store]) -> None:
    url, store = receiver
    bodies = [participant_event(f"p{i}@example.co.jp") for i in range(200)]

    async def burst() -> list[int]:
        import asyncio
        async with httpx.AsyncClient() as client:
            rs = await asyncio.gather(*(client.post(f"{url}/webhooks/zoom", content=b,
                                                    headers=zoom_headers(b, NOW))
                                        for b in bodies))
        return [r.status_code for r in rs]

    import asyncio
    assert asyncio.run(burst()) == [200] * 200
    assert len(inbox_rows(store)) == 200


def test_secrets_do_not_appear_in_reprs() -> None:
    source = make_source("zoom", {"verify": "zoom", "secret": ZOOM_SECRET})
    assert ZOOM_SECRET not in repr(source) and ZOOM_SECRET not in repr(vars(source))


def test_a_source_without_a_secret_is_a_config_error() -> None:
    from renkei.webhooks import WebhookConfigError
    with pytest.raises(WebhookConfigError, match=r"webhooks\.zoom\.secret"):
        make_source("zoom", {"verify": "zoom"})
    with pytest.raises(WebhookConfigError, match="not one of"):
        make_source("zoom", {"verify": "md5", "secret": "x"})


