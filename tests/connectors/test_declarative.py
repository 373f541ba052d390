"""The declarative REST connector against a small fake vendor over real HTTP (issue #7)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.declarative import (
    DeclarativeConnector,
    DefinitionError,
    PageRequest,
    Paginator,
    TemplateError,
    parse_definition,
)
from connectors.declarative.templates import parse, render
from connectors.sdk import (
    AuthenticationError,
    ConfigurationError,
    ErrorCategory,
    ProtocolError,
    QuotaExhaustedError,
    RateLimitedError,
    Secret,
    VendorUnavailableError,
    WriteMode,
    WriteOp,
)
from sandbox.core import EmulatorServer
from tests.connectors import test_declarative_vendor as fake

SPEC = {"type": "object", "required": ["base_url"], "properties": {
    "base_url": {"type": "string"},
    "api_key": {"type": "string", "x-secret": True},
    "token": {"type": "string", "x-secret": True},
    "user": {"type": "string"},
    "password": {"type": "string", "x-secret": True},
    "client_id": {"type": "string"},
    "client_secret": {"type": "string", "x-secret": True},
}}
SCHEMA = {"type": "inferred", "properties": {"id": {"type": "integer"}}}
BASE = {"version": 1, "name": "acme", "spec": SPEC, "base_url": "{config.base_url}",
        "auth": {"type": "api_key", "in": "header", "name": "X-Api-Key",
                 "value": "{config.api_key}"},
        "retry": {"attempts": 1}}
CONFIG = {"api_key": fake.API_KEY, "token": fake.TOKEN, "user": fake.USER,
          "password": fake.PASSWORD, "client_id": fake.CLIENT_ID,
          "client_secret": fake.CLIENT_SECRET}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[fake.FakeVendor, str]]:
    vendor = fake.FakeVendor()
    with EmulatorServer(vendor.app(), name="acme") as srv:
        yield vendor, srv.url


@pytest.fixture
def vendor(server: tuple[fake.FakeVendor, str]) -> Iterator[fake.FakeVendor]:
    state = server[0]
    items = copy.deepcopy(state.items)
    state.requests.clear()
    yield state
    state.items, state.error = items, None
    state.batches.clear()


def connector(tmp_path: Path, url: str, streams: list[dict[str, Any]],
              **top: Any) -> DeclarativeConnector:
    data = {**BASE, **top, "streams": streams}
    path = tmp_path / "acme.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return DeclarativeConnector.from_file(path)({**CONFIG, "base_url": url})


def stream(path: str, paginator: dict[str, Any], selector: str = "data",
           **extra: Any) -> dict[str, Any]:
    return {"name": "items", "path": path, "record_selector": selector, "schema": SCHEMA,
            "paginator": paginator, **extra}


def read_ids(c: DeclarativeConnector, state: Any = None) -> list[int]:
    return [r["id"] for page in c.read("items", state) for r in page.records]


# -- pagination -------------------------------------------------------------------------------

PAGINATORS = {
    "offset": ("/offset", {"type": "offset", "offset_param": "offset", "limit_param": "limit",
                           "page_size": 5, "total_path": "total"}),
    "page_number": ("/pages", {"type": "page_number", "page_param": "page",
                               "size_param": "size", "page_size": 5}),
    "cursor_in_body": ("/cursor", {"type": "cursor", "token_path": "next", "param": "after"}),
    "cursor_in_header": ("/hcursor", {"type": "cursor", "token_header": "X-Next",
                                      "param": "after"}),
}


@pytest.mark.parametrize("style", sorted(PAGINATORS))
def test_each_pagination_style_reads_every_record_once(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor, style: str) -> None:
    path, paginator = PAGINATORS[style]
    with connector(tmp_path, server[1], [stream(path, paginator)]) as c:
        assert read_ids(c) == list(range(1, 24))
    assert len(vendor.requests) == 5  # 23 records in pages of 5


def test_link_header_is_followed_without_repeating_parameters(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor) -> None:
    s = stream("/linked", {"type": "link_header", "size_param": "per_page", "page_size": 5},
               selector="@")
    with connector(tmp_path, server[1], [s]) as c:
        assert read_ids(c) == list(range(1, 24))
    assert [r["params"].get("from") for r in vendor.requests] == [None, "5", "10", "15", "20"]
    assert all(list(r["params"]).count("per_page") <= 1 for r in vendor.requests)


def test_a_custom_paginator_class_is_the_escape_hatch(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor) -> None:
    s = stream("/offset", {"type": "custom",
                           "class_name": "tests.connectors.test_declarative:TwoPages",
                           "options": {"size": 4}})
    with connector(tmp_path, server[1], [s]) as c:
        assert read_ids(c) == list(range(1, 9))


class TwoPages(Paginator):
    """Reads two pages of ``options.size`` records, then stops."""

    def first(self, request: PageRequest) -> PageRequest:
        return PageRequest(request.url, {"offset": 0, "limit": self.options["size"]})

    def next(self, request: PageRequest, response: Any, body: Any,
             count: int) -> PageRequest | None:
        if request.params["offset"]:
            return None
        return PageRequest(request.url, {"offset": count, "limit": self.options["size"]})


def test_a_custom_class_of_the_wrong_kind_is_refused(tmp_path: Path, server: Any) -> None:
    s = stream("/offset", {"type": "custom",
                           "class_name": "connectors.declarative.codecs:JsonDecoder"})
    with pytest.raises(ConfigurationError, match="is not a Paginator"):
        connector(tmp_path, server[1], [s])


# -- auth -------------------------------------------------------------------------------------

AUTHS = {
    "api_key_header": {"type": "api_key", "in": "header", "name": "X-Api-Key",
                       "value": "{config.api_key}"},
    "api_key_query": {"type": "api_key", "in": "query", "name": "key",
                      "value": "{config.api_key}"},
    "bearer": {"type": "bearer", "token": "{config.token}"},
    "basic": {"type": "basic", "username": "{config.user}", "password": "{config.password}"},
}
OFFSET = stream(*PAGINATORS["offset"])


@pytest.mark.parametrize("style", sorted(AUTHS))
def test_each_auth_style_is_accepted_by_the_vendor(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor, style: str) -> None:
    rules = [{"status": 401, "action": "fail", "error": "authentication"}]
    with connector(tmp_path, server[1], [OFFSET], auth=AUTHS[style], errors=rules) as c:
        c.check()
    bad = DeclarativeConnector.from_file(tmp_path / "acme.yaml")(
        {**CONFIG, "base_url": server[1], "api_key": "x", "token": "x", "password": "x"})
    with bad, pytest.raises(AuthenticationError) as caught:
        bad.check()
    assert fake.PASSWORD not in str(caught.value) and fake.API_KEY not in repr(bad.http)


def test_oauth_token_is_fetched_once_and_refreshed_when_rejected(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor) -> None:
    auth = {"type": "oauth_client_credentials", "token_url": "{config.base_url}/oauth/token",
            "client_id": "{config.client_id}", "client_secret": "{config.client_secret}"}
    before = vendor.token_requests
    with connector(tmp_path, server[1], [OFFSET], auth=auth) as c:
        assert len(read_ids(c)) == 23
        assert vendor.token_requests == before + 1
        vendor.tokens.clear()  # the vendor revokes every token mid-run
        assert len(read_ids(c)) == 23
        assert vendor.token_requests == before + 2
    bad = DeclarativeConnector.from_file(tmp_path / "acme.yaml")(
        {**CONFIG, "base_url": server[1], "client_secret": "wrong"})
    with bad, pytest.raises(AuthenticationError):
        bad.check()


# -- incremental ------------------------------------------------------------------------------

INCREMENTAL = stream("/since", {"type": "none"}, params={"since": "{incremental.since}"},
                     cursor_field="updated",
                     incremental={"type": "datetime", "param_format": "%Y/%m/%d %H:%M:%S",
                                  "param_timezone": "+09:00",
                                  "initial_value": "2026-01-01T00:00:05Z", "lag_s": 2})


def test_incremental_sends_since_in_the_vendor_format_and_dedups_the_boundary(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor) -> None:
    with connector(tmp_path, server[1], [INCREMENTAL]) as c:
        pages = list(c.read("items", None))
        assert vendor.requests[-1]["params"]["since"] == "2026/01/01 09:00:05"
        assert [r["id"] for r in pages[0].records] == list(range(5, 24))
        state = pages[-1].state
        assert state["cursor"] == "2026-01-01T00:00:23Z"
        # The next read re-asks for the lag window (2 s) but delivers nothing twice.
        assert read_ids(c, state) == []
        assert vendor.requests[-1]["params"]["since"] == "2026/01/01 09:00:21"
        # A record committed late with a time inside the window, and one edited again.
        vendor.items.append({"id": 99, "name": "late", "updated": "2026-01-01T00:00:22Z"})
        vendor.items[22]["updated"] = "2026-01-01T00:00:30Z"
        assert read_ids(c, state) == [99, 23]


def test_incremental_record_without_a_cursor_is_a_protocol_error(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor) -> None:
    vendor.items[-1]["updated"] = "2026-01-01T00:00:59Z"
    s = {**INCREMENTAL, "cursor_field": "missing"}
    with connector(tmp_path, server[1], [s]) as c, pytest.raises(ProtocolError):
        list(c.read("items", None))


# -- writes -----------------------------------------------------------------------------------

WRITE = {"create": {"method": "POST", "path": "/batch", "batch_size": 3,
                    "body": {"rows": "{items}"},
                    "item": {"$spread": "{record}", "id": "{op.id}", "ref": "{op.ref}"},
                    "results": {"selector": "results", "id": "id", "created": "created",
                                "ok": "status == 'ok'", "error_code": "error.code",
                                "error_message": "error.message"},
                    "record_errors": [{"code": "E_DUP", "category": "duplicate"},
                                      {"code": ["E_EMAIL"], "category": "validation"}]}}


def test_writes_are_batched_and_results_come_back_per_record_in_order(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor) -> None:
    emails = ["a@example.com", "bad", "c@example.com", "dup@example.com", "e@example.com",
              "f@example.com", "g@example.com"]
    ops = [WriteOp(WriteMode.CREATE, {"email": e}, ref=f"lead:{i}") for i, e in enumerate(emails)]
    with connector(tmp_path, server[1], [{**OFFSET, "write": WRITE}]) as c:
        assert c.stream("items").write_batch_size == 3
        results = c.write("items", ops)
    assert [len(b) for b in vendor.batches] == [3, 3, 1]
    assert vendor.batches[0][0] == {"email": "a@example.com", "ref": "lead:0"}
    assert [r.ok for r in results] == [True, False, True, False, True, True, True]
    assert results[1].error is not None and results[1].error.category == ErrorCategory.VALIDATION
    assert results[3].error is not None and results[3].error.category == ErrorCategory.DUPLICATE
    assert results[0].id == "n0" and results[0].created and results[2].id == "n2"


def test_a_batch_answer_with_a_missing_result_is_refused(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor) -> None:
    short = {"create": {**WRITE["create"], "params": {"short": "1"}}}
    with connector(tmp_path, server[1], [{**OFFSET, "write": short}]) as c, \
            pytest.raises(ProtocolError, match="expected 2 result"):
        c.write("items", [WriteOp(WriteMode.CREATE, {"email": "a@x.jp"}),
                          WriteOp(WriteMode.CREATE, {"email": "b@x.jp"})])


def test_a_mode_without_an_endpoint_is_a_configuration_error(
        tmp_path: Path, server: Any) -> None:
    with connector(tmp_path, server[1], [{**OFFSET, "write": WRITE}]) as c, \
            pytest.raises(ConfigurationError, match="no update endpoint"):
        c.write("items", [WriteOp(WriteMode.UPDATE, {"email": "a@x.jp"}, id="1")])


# -- error rules ------------------------------------------------------------------------------

RULES = [
    {"status": 200, "body_path": "error.code", "equals": "SLOW_DOWN", "action": "rate_limited",
     "retry_after_s": 7},
    {"body_path": "error.code", "in": ["DAILY"], "action": "fail", "error": "quota"},
    {"status": 409, "body_path": "error.code", "equals": "BUSY", "action": "retry"},
    {"status": 404, "action": "ignore"},
    {"status": "4xx", "action": "fail", "error": "configuration", "message": "refused"},
]
ERROR_CASES = {
    "body code -> rate limited": ((200, {"error": {"code": "SLOW_DOWN"}}, {}), RateLimitedError),
    "body code -> quota": ((400, {"error": {"code": "DAILY"}}, {}), QuotaExhaustedError),
    "status+code -> retry": ((409, {"error": {"code": "BUSY"}}, {}), VendorUnavailableError),
    "status class -> fail": ((422, {"error": {"code": "X"}}, {}), ConfigurationError),
    "no rule: 503 -> sdk default": ((503, {}, {}), VendorUnavailableError),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_error_rules_raise_the_right_sdk_error(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor, case: str) -> None:
    answer, expected = ERROR_CASES[case]
    vendor.error = answer
    with connector(tmp_path, server[1], [stream("/error", {"type": "none"})],
                   errors=RULES) as c, pytest.raises(expected) as caught:
        list(c.read("items", None))
    assert type(caught.value) is expected
    if expected is RateLimitedError:
        assert caught.value.retry_after == 7  # type: ignore[attr-defined]
        assert caught.value.vendor_code == "SLOW_DOWN"


def test_rate_limited_waits_retry_after_header_over_the_rule_default(
        tmp_path: Path, server: Any, vendor: fake.FakeVendor) -> None:
    vendor.error = (200, {"error": {"code": "SLOW_DOWN"}}, {"Retry-After": "3"})
    with connector(tmp_path, server[1], [stream("/error", {"type": "none"})],
                   errors=RULES) as c, pytest.raises(RateLimitedError) as caught:
        list(c.read("items", None))
    assert caught.value.retry_after == 3


def test_ignore_rule_reads_an_empty_page(tmp_path: Path, server: Any,
                                         vendor: fake.FakeVendor) -> None:
    vendor.error = (404, {"message": "nothing"}, {})
    with connector(tmp_path, server[1], [stream("/error", {"type": "none"})],
                   errors=RULES) as c:
        assert [p.records for p in c.read("items", None)] == [[]]


# -- the file itself --------------------------------------------------------------------------

def diagnostics(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, "acme.yaml")
    return [d.format() for d in caught.value.diagnostics]


GOOD = yaml.safe_dump({**BASE, "streams": [OFFSET]}, sort_keys=False)


def test_a_valid_file_parses() -> None:
    assert parse_definition(GOOD, "acme.yaml").name == "acme"


def test_bad_yaml_is_reported_as_file_line_col() -> None:
    assert diagnostics("version: 1\nname: [unclosed\n") == [
        ("acme.yaml:3:1: invalid YAML: expected ',' or ']', but got '<stream end>' "
         "(while parsing a flow sequence started on line 2)")]


def test_schema_errors_point_at_the_key() -> None:
    text = GOOD.replace("record_selector: data", "record_selector: data\n  recrd_selector: x")
    lines = diagnostics(text)
    line = text.splitlines().index("  recrd_selector: x") + 1
    assert lines == [(f"acme.yaml:{line}:3: streams[0].recrd_selector: unknown key "
                      "'recrd_selector'")]


def test_a_template_root_that_is_not_available_is_reported_where_it_is() -> None:
    text = GOOD.replace("path: /offset", "path: /offset/{env.HOME}")
    line = text.splitlines().index("  path: /offset/{env.HOME}") + 1
    [message] = diagnostics(text)
    assert message.startswith(f"acme.yaml:{line}:9: streams[0].path: '{{env.HOME}}' uses 'env'")


def test_a_literal_secret_in_auth_is_refused_without_echoing_it() -> None:
    text = GOOD.replace("value: '{config.api_key}'", "value: hunter2-literal-key")
    [message] = diagnostics(text)
    assert "auth.value" in message and "value hidden" in message
    assert "hunter2" not in message


def test_auth_must_refer_to_an_x_secret_property() -> None:
    text = GOOD.replace("value: '{config.api_key}'", "value: '{config.user}'")
    [message] = diagnostics(text)
    assert "mark it x-secret: true" in message


def test_unknown_component_type_lists_the_known_ones() -> None:
    text = GOOD.replace("type: offset", "type: ofset")
    [message] = diagnostics(text)
    assert "streams[0].paginator.type" in message and "'offset'" in message


# -- templates --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "{config.__class__}", "{config.x.__globals__}", "{file:/etc/passwd}", "{config['x']}",
    "{config.x()}", "{env.HOME}", "{config.x|upper}", "{}", "{config.x",
])
def test_templates_cannot_reach_attributes_files_or_expressions(text: str) -> None:
    with pytest.raises(TemplateError):
        parse(text, {"config", "record"})


def test_templates_look_up_keys_only_never_attributes() -> None:
    scope = {"record": {"name": "abc"}}
    with pytest.raises(TemplateError, match="not an object"):
        render("{record.name.upper}", scope)
    assert render("{record.name}-{{x}}", scope) == "abc-{x}"


def test_a_secret_renders_only_for_auth() -> None:
    scope = {"config": {"key": Secret("s3cret-value")}}
    with pytest.raises(TemplateError, match="secret") as caught:
        render("/items?k={config.key}", scope)
    assert "s3cret" not in str(caught.value)
    assert render("{config.key}", scope, reveal=True) == "s3cret-value"


# -- HTTP edge cases (respx) ------------------------------------------------------------------

def test_a_vendor_repeating_its_next_link_cannot_loop_a_read(tmp_path: Path) -> None:
    import httpx
    import respx

    s = stream("/linked", {"type": "link_header"}, selector="@")
    with respx.mock(assert_all_called=False) as mock, \
            connector(tmp_path, "https://acme.invalid", [s]) as c:
        mock.get("https://acme.invalid/linked").mock(return_value=httpx.Response(
            200, json=[{"id": 1}], headers={"Link": '<https://acme.invalid/linked>; rel="next"'}))
        with pytest.raises(ProtocolError, match="same page again"):
            list(c.read("items", None))


def test_a_body_cut_off_mid_way_is_retried(tmp_path: Path) -> None:
    import httpx
    import respx

    with respx.mock as mock, connector(tmp_path, "https://acme.invalid",
                                       [stream("/items", {"type": "none"})],
                                       retry={"attempts": 2, "max_delay_s": 0}) as c:
        route = mock.get("https://acme.invalid/items").mock(side_effect=[
            httpx.Response(200, content=b'{"data": [{"id": 1}'),
            httpx.Response(200, json={"data": [{"id": 1}, {"id": 2}]})])
        assert read_ids(c) == [1, 2]
        assert route.call_count == 2


def test_xml_bodies_read_as_plain_data() -> None:
    from connectors.declarative.codecs import DecodeError, XmlDecoder

    decoder = XmlDecoder({"force_list": ["Row"]})
    body = b'<List count="1"><Row><Id>7</Id><Name/></Row></List>'
    assert decoder.decode(body) == {"List": {"@count": "1", "Row": [{"Id": "7", "Name": None}]}}
    with pytest.raises(DecodeError):
        decoder.decode(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
