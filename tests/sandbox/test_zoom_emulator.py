"""The Zoom emulator over real HTTP: OAuth, paging, limits, seeds, webhooks; zoomus against it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from zoomus import ZoomClient
from zoomus.util import encode_uuid

from sandbox.core import EmulatorServer, FaultRule
from sandbox.seed import people
from sandbox.zoom import ZoomConfig, ZoomEmulator
from sandbox.zoom.data import UNKNOWN_OFFSET

Account = tuple[ZoomEmulator, EmulatorServer]


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    emulator = ZoomEmulator(ZoomConfig(qps=()))
    with EmulatorServer(emulator.asgi(), name="zoom") as server:
        yield emulator, server


def _token(emulator: ZoomEmulator, server: EmulatorServer) -> str:
    cfg = emulator.config
    response = httpx.post(f"{server.url}/oauth/token", params={
        "grant_type": "account_credentials", "account_id": cfg.account_id},
        auth=(cfg.client_id, cfg.client_secret))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def api(account: Account) -> Iterator[httpx.Client]:
    emulator, server = account
    emulator.reset()
    headers = {"Authorization": f"Bearer {_token(emulator, server)}"}
    with httpx.Client(base_url=f"{server.url}/v2", headers=headers, timeout=10) as client:
        yield client


def test_token_needs_the_apps_basic_credentials_and_account(account: Account) -> None:
    emulator, server = account
    cfg = emulator.config
    wrong = httpx.post(f"{server.url}/oauth/token", data={
        "grant_type": "account_credentials", "account_id": cfg.account_id},
        auth=(cfg.client_id, "not-the-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    other = httpx.post(f"{server.url}/oauth/token", data={
        "grant_type": "account_credentials", "account_id": "someone-else"},
        auth=(cfg.client_id, cfg.client_secret))
    assert other.status_code == 400
    form = httpx.post(f"{server.url}/oauth/token", data={
        "grant_type": "account_credentials", "account_id": cfg.account_id},
        auth=(cfg.client_id, cfg.client_secret))
    assert form.json()["token_type"] == "bearer" and form.json()["expires_in"] == 3600


def test_missing_and_expired_tokens_get_zoom_401_code_124(
        account: Account, api: httpx.Client) -> None:
    emulator, server = account
    missing = httpx.get(f"{server.url}/v2/users/me/webinars")
    assert missing.status_code == 401
    assert missing.json() == {"code": 124, "message": "Invalid access token."}
    assert api.get("/users/me/webinars").status_code == 200
    emulator.expire_tokens()
    expired = api.get("/users/me/webinars")
    assert expired.status_code == 401 and expired.json()["code"] == 124
    assert "expired" in expired.json()["message"]


def test_registrants_page_by_token_until_empty_token(api: httpx.Client, account: Account) -> None:
    webinar = account[0].data.webinars[0]
    seen: list[str] = []
    token, calls = "", 0
    while True:
        body = api.get(f"/webinars/{webinar.id}/registrants",
                       params={"page_size": 15, "next_page_token": token, "id": "ignored"}).json()
        calls += 1
        seen += [r["email"] for r in body["registrants"]]
        token = body["next_page_token"]
        if token == "":
            break
    assert calls == -(-len(webinar.registrants) // 15)
    assert seen == [r.email for r in webinar.registrants]
    assert api.get(f"/webinars/{webinar.id}/registrants",
                   params={"status": "pending"}).json()["registrants"] == []


def test_page_size_is_capped_at_300_and_bad_page_tokens_refused(api: httpx.Client) -> None:
    body = api.get("/users/me/webinars", params={"page_size": 1000}).json()
    assert body["page_size"] == 300 and body["next_page_token"] == ""
    bad = api.get("/users/me/webinars", params={"next_page_token": "forged"})
    assert bad.status_code == 400 and bad.json()["code"] == 300


def test_double_encoded_uuid_reaches_the_report(api: httpx.Client, account: Account) -> None:
    webinar = next(w for w in account[0].data.webinars if w.uuid.startswith("/"))
    response = api.get(f"/report/webinars/{encode_uuid(webinar.uuid)}/participants")
    assert response.status_code == 200
    assert response.json()["total_records"] == len(webinar.participants)
    past = api.get(f"/past_webinars/{encode_uuid(webinar.uuid)}/participants").json()
    assert {p["join_time"] for p in past["participants"]} == {
        p["join_time"] for p in response.json()["participants"]}


def test_upcoming_webinar_has_no_report(api: httpx.Client, account: Account) -> None:
    upcoming = next(w for w in account[0].data.webinars if not w.ended)
    response = api.get(f"/report/webinars/{upcoming.id}/participants")
    assert response.status_code == 404 and response.json()["code"] == 3001


def test_seeded_people_are_partly_known_to_the_other_sandboxes(account: Account) -> None:
    known = {p.email for p in people(100)}
    unknown = {p.email for p in people(500, offset=UNKNOWN_OFFSET)}
    emails = {r.email for w in account[0].data.webinars for r in w.registrants}
    assert emails & known and emails & unknown and emails <= known | unknown
    first = account[0].data.webinars[0]
    assert first.topic == "製造業DXセミナー"
    assert any(p.email == "" for p in first.participants)
    assert sum(len(w.late) for w in account[0].data.webinars) > 0


def test_late_report_rows_appear_when_released(api: httpx.Client, account: Account) -> None:
    emulator = account[0]
    webinar = next(w for w in emulator.data.webinars if w.late)
    before = api.get(f"/report/webinars/{webinar.id}/participants").json()["total_records"]
    released = httpx.post(f"{account[1].url}/_sandbox/zoom/release-late").json()["released"]
    after = api.get(f"/report/webinars/{webinar.id}/participants").json()["total_records"]
    assert released > 0 and after == before + released


def test_per_second_limit_answers_429_with_zoom_headers() -> None:
    emulator = ZoomEmulator(ZoomConfig(qps=(("Medium", 2),), clock=lambda: 1000.5))
    with EmulatorServer(emulator.asgi(), name="zoom") as server:
        headers = {"Authorization": f"Bearer {_token(emulator, server)}"}
        with httpx.Client(base_url=f"{server.url}/v2", headers=headers) as client:
            statuses = [client.get("/users/me/webinars") for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    refused = statuses[2]
    assert refused.json()["code"] == 429
    assert refused.headers["X-RateLimit-Category"] == "Medium"
    assert refused.headers["X-RateLimit-Type"] == "QPS"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["Retry-After"] == "1"


def test_fault_rate_limit_is_rendered_like_zoom(api: httpx.Client, account: Account) -> None:
    account[0].faults.add(FaultRule("rate_limit", path="/report/", retry_after=2))
    response = api.get(f"/report/webinars/{account[0].data.webinars[0].id}/participants")
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.headers["X-RateLimit-Limit"] == "10"


class _Receiver:
    """A webhook subscriber that checks what it gets with its own HMAC computation."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def endpoint(self, request: Request) -> JSONResponse:
        raw = await request.body()
        self.received.append((dict(request.headers), raw))
        body = json.loads(raw)
        if body["event"] == "endpoint.url_validation":
            plain = body["payload"]["plainToken"]
            digest = hmac.new(self.secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
            return JSONResponse({"plainToken": plain, "encryptedToken": digest})
        return JSONResponse({})


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, EmulatorServer]]:
    subscriber = _Receiver("wh-secret-token-1")
    app = Starlette(routes=[Route("/zoom", subscriber.endpoint, methods=["POST"])])
    with EmulatorServer(app, name="subscriber") as server:
        yield subscriber, server


def test_webhook_signature_verifies_with_an_independent_hmac(
        account: Account, receiver: tuple[_Receiver, EmulatorServer]) -> None:
    emulator, server = account
    emulator.reset()
    subscriber, target = receiver
    sandbox = f"{server.url}/_sandbox/zoom/webhook"
    assert httpx.post(sandbox, json={"url": f"{target.url}/zoom",
                                     "secret_token": subscriber.secret}).status_code == 201
    assert httpx.post(f"{sandbox}/validate").json()["valid"] is True
    attendee = next(p for p in emulator.data.webinars[0].participants if p.email)
    for event in ("webinar.registration_created", "webinar.participant_joined",
                  "webinar.participant_left", "webinar.ended"):
        sent = httpx.post(f"{sandbox}/send", json={
            "event": event, "webinar": str(emulator.data.webinars[0].id),
            "email": attendee.email if event != "webinar.ended" else None})
        assert sent.json()["status"] == 200, sent.text
    events = subscriber.received[1:]
    assert [json.loads(raw)["event"] for _, raw in events][-1] == "webinar.ended"
    for headers, raw in subscriber.received:
        ts = headers["x-zm-request-timestamp"]
        mac = hmac.new(subscriber.secret.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256)
        assert headers["x-zm-signature"] == "v0=" + mac.hexdigest()
    left = json.loads(events[2][1])["payload"]["object"]["participant"]
    assert left["email"] == attendee.email and "leave_time" in left


def test_url_validation_fails_for_a_subscriber_with_another_secret(
        account: Account, receiver: tuple[_Receiver, EmulatorServer]) -> None:
    emulator, _ = account
    emulator.reset()
    _, target = receiver
    emulator.webhooks.register(f"{target.url}/zoom", "a-different-secret")
    assert emulator.webhooks.validate()["valid"] is False


def test_zoomus_client_reads_registrants_and_report(account: Account) -> None:
    emulator, server = account
    emulator.reset()
    cfg = emulator.config
    client = ZoomClient(cfg.client_id, cfg.client_secret, cfg.account_id,
                        base_uri=f"{server.url}/v2", oauth_uri=f"{server.url}/oauth/token")
    webinar = next(w for w in emulator.data.webinars if w.uuid.startswith("/"))
    registrants = client.webinar.get_registrants(id=webinar.id, page_size=300).json()
    assert len(registrants["registrants"]) == len(webinar.registrants)
    report = client.report.get_webinar_participants_report(id=encode_uuid(webinar.uuid))
    assert report.status_code == 200
    assert report.json()["total_records"] == len(webinar.participants)
    emulator.expire_tokens()
    assert client.webinar.get(id=webinar.id).status_code == 401
    client.refresh_token()
    assert client.webinar.get(id=webinar.id).json()["topic"] == webinar.topic
    basic = base64.b64encode(f"{cfg.client_id}:{cfg.client_secret}".encode()).decode()
    assert basic not in json.dumps(emulator.calls.list()[0].to_dict())
