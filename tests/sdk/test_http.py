"""The shared HTTP helper: retries, classification, secrets kept out of errors (issue #2)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from connectors.sdk.errors import RateLimitedError, VendorUnavailableError
from connectors.sdk.http import HttpClient, json_body
from connectors.sdk.ledger import MemoryLedger
from connectors.sdk.retry import NotSentError, RetryPolicy

FAST = RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0)


def test_errors_carry_no_httpx_context_with_the_authorization_header() -> None:
    client = HttpClient(base_url="https://vendor.invalid", connection="v", retry=FAST,
                        headers={"Authorization": "Bearer SECRET-TOKEN"})
    with respx.mock:
        respx.get("https://vendor.invalid/x").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(NotSentError) as info:
            client.request("GET", "/x")
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert "SECRET-TOKEN" not in repr(info.value) + str(info.value)
    client.close()


def test_429_is_retried_with_retry_after_and_counted_in_the_ledger() -> None:
    ledger = MemoryLedger()
    client = HttpClient(base_url="https://vendor.invalid", connection="v", retry=FAST, ledger=ledger)
    with respx.mock:
        route = respx.get("https://vendor.invalid/x").mock(side_effect=[
            httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, json={"ok": 1})])
        assert client.json("GET", "/x") == {"ok": 1}
    assert route.call_count == 2 and len(ledger.calls()) == 2
    client.close()


def test_timed_out_create_is_not_resent() -> None:
    client = HttpClient(base_url="https://vendor.invalid", connection="v", retry=FAST)
    with respx.mock:
        route = respx.post("https://vendor.invalid/create").mock(
            side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(VendorUnavailableError):
            client.request("POST", "/create", kind="write")
    assert route.call_count == 1
    client.close()


def test_rate_limit_gives_up_after_the_policy_attempts() -> None:
    client = HttpClient(base_url="https://vendor.invalid", connection="v", retry=FAST)
    with respx.mock:
        route = respx.get("https://vendor.invalid/x").mock(return_value=httpx.Response(429))
        with pytest.raises(RateLimitedError):
            client.request("GET", "/x")
    assert route.call_count == 3
    client.close()


def test_the_body_is_decoded_once_for_the_classifier_and_the_caller() -> None:
    seen: list[object] = []

    def classify(response: httpx.Response) -> None:
        seen.append(json_body(response))

    client = HttpClient(base_url="https://vendor.invalid", connection="v", retry=FAST,
                        classify=classify)
    with respx.mock:
        respx.get("https://vendor.invalid/x").mock(
            return_value=httpx.Response(200, json={"result": [{"id": 1}]}))
        body = client.json("GET", "/x")
    assert body == {"result": [{"id": 1}]} and seen == [body]
    assert seen[0] is body  # the classifier's and the caller's body are one decoded object
    client.close()


@pytest.mark.parametrize("text", [
    b'{"id": 123456789012345678901234567890}',  # beyond 64 bits: exact, not a float
    b'{"score": NaN, "x": Infinity}', b'["\\ud800"]', b'{"a": 1e400}',
    '{"姓": "山田"}'.encode("utf-16"), b'\xef\xbb\xbf{"bom": true}',
])
def test_bodies_decode_exactly_as_the_standard_library_does(text: bytes) -> None:
    response = httpx.Response(200, content=text)
    expected = json.loads(text)
    got = json_body(response)
    assert repr(got) == repr(expected)  # repr: NaN != NaN, and 1e400 is inf


def test_a_body_that_is_not_json_raises_every_time_asked() -> None:
    response = httpx.Response(200, content=b'{"cut off')
    for _ in range(2):
        with pytest.raises(ValueError):
            json_body(response)
