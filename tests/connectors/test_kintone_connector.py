"""The kintone connector's edge cases of HTTP handling, with respx (issue #4).

Everything that the emulator can show runs against it in tests/e2e/test_kintone_e2e.py; here
are the answers that are hard to provoke there: each error class, all-or-nothing batches
split per record, values refused before any call, cursor clean-up on failure.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from connectors.kintone import KintoneConnector
from connectors.sdk import (
    AccessDeniedError,
    AuthenticationError,
    ConfigurationError,
    ConnectorContext,
    ErrorCategory,
    MemoryLedger,
    QuotaExhaustedError,
    RateLimitedError,
    VendorUnavailableError,
    WriteMode,
    WriteOp,
)

TOKEN = "kintone-secret-token-123"
_hosts = itertools.count()


def _opt(*names: str) -> dict[str, Any]:
    return {n: {"label": n, "index": str(i)} for i, n in enumerate(names)}


FORM = {"revision": "3", "properties": {
    "レコード番号": {"type": "RECORD_NUMBER", "code": "レコード番号"},
    "更新日時": {"type": "UPDATED_TIME", "code": "更新日時"},
    "作成者": {"type": "CREATOR", "code": "作成者"},
    "連携ID": {"type": "SINGLE_LINE_TEXT", "code": "連携ID", "unique": True},
    "メールアドレス": {"type": "SINGLE_LINE_TEXT", "code": "メールアドレス", "unique": True},
    "姓": {"type": "SINGLE_LINE_TEXT", "code": "姓"},
    "都道府県": {"type": "DROP_DOWN", "code": "都道府県", "options": _opt("東京都", "大阪府")},
    "スコア": {"type": "NUMBER", "code": "スコア"},
    "担当者": {"type": "USER_SELECT", "code": "担当者"},
    "発生日時": {"type": "DATETIME", "code": "発生日時"},
    "対応履歴": {"type": "SUBTABLE", "code": "対応履歴", "fields": {
        "対応日": {"type": "DATE", "code": "対応日"},
        "対応種別": {"type": "DROP_DOWN", "code": "対応種別", "options": _opt("電話", "訪問")},
    }},
    "グループ": {"type": "GROUP", "code": "グループ"},
}}


@pytest.fixture
def base() -> str:
    # A fresh domain per test: the process-wide limiters are keyed by it.
    return f"https://t{next(_hosts)}.kintone-test.example"


@pytest.fixture
def mock(base: str) -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=base, assert_all_called=False) as router:
        router.get("/k/v1/app/form/fields.json").mock(
            return_value=httpx.Response(200, json=FORM))
        yield router


def _connector(base: str, ledger: MemoryLedger | None = None, **overrides: Any
               ) -> KintoneConnector:
    config: dict[str, Any] = {"base_url": base, "api_token": TOKEN,
                              "apps": {"leads": 1, "alerts": 2}, "retry_attempts": 3,
                              "retry_base_delay_s": 0, "concurrency_wait_s": 0, **overrides}
    return KintoneConnector(config, context=ConnectorContext(
        "kintone-test", ledger=ledger or MemoryLedger()))


def _error(status: int, code: str, message: str, errors: dict[str, Any] | None = None
           ) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "id": "x1", "message": message}
    if errors is not None:
        body["errors"] = errors
    return httpx.Response(status, json=body)


def _sent(route: respx.Route, n: int = -1) -> Any:
    return json.loads(route.calls[n].request.content)


# -- config, streams ----------------------------------------------------------------------------

def test_secrets_never_show_in_reprs_or_config_errors(base: str) -> None:
    with _connector(base) as connector:
        assert TOKEN not in repr(connector) + repr(connector.config) + repr(connector.api)
    with pytest.raises(ConfigurationError, match="exactly one") as info:
        _connector(base, login="renkei", password="pw-123456")
    assert "pw-123456" not in str(info.value) and TOKEN not in str(info.value)
    with pytest.raises(ConfigurationError) as bad:
        KintoneConnector({"base_url": base, "api_token": 12345, "apps": {"leads": 1}})
    assert "12345" not in str(bad.value)


def test_stream_schema_maps_kintone_types_and_reads_only_its_own_form(
        base: str, mock: respx.MockRouter) -> None:
    with _connector(base) as connector:
        spec = connector.stream("leads")
        connector.stream("leads")
        props = spec.fields
        assert mock.routes[0].call_count == 1
        assert _sent_params(mock.routes[0]) == {"app": "1"}
    assert spec.primary_key == ("$id",) and spec.cursor_field == "更新日時"
    assert spec.version_field == "$revision"
    assert spec.page_size == 500 and spec.write_batch_size == 100
    assert spec.write_modes == {WriteMode.CREATE, WriteMode.UPDATE, WriteMode.UPSERT}
    assert props["都道府県"]["enum"] == ["東京都", "大阪府", None]
    assert props["スコア"]["type"] == ["number", "null"]
    assert props["担当者"] == {"type": "array", "items": {"type": "string"},
                            "x-kintone-type": "USER_SELECT"}
    assert props["発生日時"]["format"] == "date-time"
    rows = props["対応履歴"]["items"]["properties"]
    assert rows["対応日"]["format"] == "date" and rows["対応種別"]["enum"][:2] == ["電話", "訪問"]
    assert "グループ" not in props
    assert spec.writable_fields is not None
    for system in ("$id", "$revision", "レコード番号", "更新日時", "作成者"):
        assert props[system]["readOnly"] is True and system not in spec.writable_fields
    assert {"連携ID", "担当者", "対応履歴"} <= spec.writable_fields


def _sent_params(route: respx.Route) -> dict[str, str]:
    return dict(route.calls[-1].request.url.params)


# -- error classification -----------------------------------------------------------------------

@pytest.mark.parametrize(("status", "code"), [(401, "CB_WA01"), (400, "GAIA_IA02")])
def test_bad_token_is_an_authentication_error_sent_once_without_the_secret(
        base: str, mock: respx.MockRouter, status: int, code: str) -> None:
    route = mock.get("/k/v1/app.json").mock(return_value=_error(
        status, code, "APIトークンが不正です。"))
    with _connector(base) as connector, pytest.raises(AuthenticationError) as info:
        connector.check()
    assert route.call_count == 1
    assert route.calls[0].request.headers["X-Cybozu-API-Token"] == TOKEN
    assert TOKEN not in repr(info.value) + str(info.value)
    assert info.value.__context__ is None


def test_password_auth_sends_the_cybozu_authorization_header(base: str,
                                                             mock: respx.MockRouter) -> None:
    route = mock.get("/k/v1/app.json").mock(return_value=httpx.Response(200, json={"appId": "1"}))
    config = {"base_url": base, "login": "renkei", "password": "pw", "apps": {"leads": 1}}
    with KintoneConnector(config) as connector:
        connector.check()
    # base64("renkei:pw")
    assert route.calls[0].request.headers["X-Cybozu-Authorization"] == "cmVua2VpOnB3"


def test_permission_denied_is_access_denied(base: str, mock: respx.MockRouter) -> None:
    mock.get("/k/v1/app.json").mock(return_value=_error(403, "CB_NO02", "権限がありません。"))
    with _connector(base) as connector, pytest.raises(AccessDeniedError, match="権限"):
        connector.check()


def test_missing_app_is_a_configuration_error_naming_app_and_stream(
        base: str, mock: respx.MockRouter) -> None:
    mock.get("/k/v1/app.json").mock(return_value=_error(
        404, "GAIA_AP01", "指定したアプリ（id: 1）が見つかりません。"))
    with _connector(base) as connector, pytest.raises(ConfigurationError) as info:
        connector.check()
    assert "app 1" in str(info.value) and "'leads'" in str(info.value)


def test_concurrency_429_is_retried_then_succeeds(base: str, mock: respx.MockRouter) -> None:
    ledger = MemoryLedger()
    route = mock.get("/k/v1/app.json").mock(side_effect=[
        _error(429, "GAIA_TO04", "The number of concurrent API requests exceeds the limit."),
        httpx.Response(200, json={"appId": "1"})])
    with _connector(base, ledger) as connector:
        connector.check()
    assert route.call_count == 2 and [c.status for c in ledger.calls()] == [429, 200]


def test_concurrency_429_that_persists_is_a_rate_limit_error(base: str,
                                                             mock: respx.MockRouter) -> None:
    route = mock.get("/k/v1/app.json").mock(return_value=_error(429, "GAIA_TO04", "busy"))
    with _connector(base) as connector, pytest.raises(RateLimitedError) as info:
        connector.check()
    assert route.call_count == 3 and info.value.vendor_code == "GAIA_TO04"


def test_server_errors_and_timeouts_are_retried_then_unavailable(
        base: str, mock: respx.MockRouter) -> None:
    route = mock.get("/k/v1/app.json").mock(side_effect=[
        httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(502)])
    with _connector(base) as connector, pytest.raises(VendorUnavailableError):
        connector.check()
    assert route.call_count == 3


def test_daily_budget_per_app_stops_before_sending(base: str, mock: respx.MockRouter) -> None:
    route = mock.get("/k/v1/app.json").mock(return_value=httpx.Response(200, json={}))
    with _connector(base, daily_quota=2) as connector:
        connector.check()
        connector.check()
        with pytest.raises(QuotaExhaustedError):
            connector.check()
        assert connector.api.budget(1).used_today == 2
        assert connector.api.budget(2).used_today == 0  # another app's budget is untouched
    assert route.call_count == 2


# -- writes: encoding ---------------------------------------------------------------------------

def test_values_are_encoded_by_field_type_and_system_fields_never_sent(
        base: str, mock: respx.MockRouter) -> None:
    route = mock.post("/k/v1/records.json").mock(return_value=httpx.Response(
        200, json={"ids": ["11"], "revisions": ["1"]}))
    op = WriteOp(WriteMode.CREATE, {
        "姓": "山田", "スコア": 42.0, "担当者": "tanaka", "都道府県": "東京都",
        "発生日時": "2024-04-01T09:30:00+09:00", "更新日時": "2024-01-01T00:00:00Z",
        "$id": "5", "対応履歴": [{"対応日": "2024-04-02", "対応種別": "電話"}]})
    with _connector(base) as connector:
        [result] = connector.write("leads", [op])
    assert result.ok and result.id == "11" and result.created and result.version == "1"
    assert _sent(route) == {"app": 1, "records": [{
        "姓": {"value": "山田"}, "スコア": {"value": "42"}, "担当者": {"value": [{"code": "tanaka"}]},
        "都道府県": {"value": "東京都"}, "発生日時": {"value": "2024-04-01T00:30:00Z"},
        "対応履歴": {"value": [{"value": {"対応日": {"value": "2024-04-02"},
                                          "対応種別": {"value": "電話"}}}]}}]}


@pytest.mark.parametrize(("values", "field", "words"), [
    ({"都道府県": "東京"}, "都道府県", "not an option"),
    ({"スコア": "たくさん"}, "スコア", "not a number"),
    ({"スコア": True}, "スコア", "boolean"),
    ({"担当者": [""]}, "担当者", "codes"),
    ({"発生日時": "昨日"}, "発生日時", "ISO-8601"),
    ({"対応履歴": [{"対応種別": "FAX"}]}, "対応履歴", "row 1"),
    ({"存在しない": "x"}, "存在しない", "no field"),
])
def test_a_value_the_field_cannot_take_fails_its_record_without_a_call(
        base: str, mock: respx.MockRouter, values: dict[str, Any], field: str,
        words: str) -> None:
    route = mock.post("/k/v1/records.json").mock(return_value=httpx.Response(
        200, json={"ids": ["12"], "revisions": ["1"]}))
    ops = [WriteOp(WriteMode.CREATE, values), WriteOp(WriteMode.CREATE, {"姓": "佐藤"})]
    with _connector(base) as connector:
        bad, good = connector.write("leads", ops)
    assert not bad.ok and bad.error is not None
    assert bad.error.category is ErrorCategory.VALIDATION and not bad.error.retriable
    assert bad.error.fields == (field,) and words in bad.error.message
    assert good.ok and route.call_count == 1 and len(_sent(route)["records"]) == 1


# -- writes: routes -----------------------------------------------------------------------------

def test_create_with_a_ref_is_an_upsert_by_the_update_key(base: str,
                                                          mock: respx.MockRouter) -> None:
    route = mock.put("/k/v1/records.json").mock(return_value=httpx.Response(200, json={
        "records": [{"id": "7", "revision": "1", "operation": "INSERT"},
                    {"id": "3", "revision": "5", "operation": "UPDATE"}]}))
    ops = [WriteOp(WriteMode.CREATE, {"姓": "山田"}, ref="lead:1"),
           WriteOp(WriteMode.CREATE, {"姓": "佐藤", "連携ID": "lead:2"}, ref="lead:2")]
    with _connector(base) as connector:
        first, second = connector.write("leads", ops)
    assert (first.id, first.created, first.version) == ("7", True, "1")
    assert (second.id, second.created, second.version) == ("3", False, "5")
    body = _sent(route)
    assert body["upsert"] is True
    assert body["records"][1] == {"updateKey": {"field": "連携ID", "value": "lead:2"},
                                  "record": {"姓": {"value": "佐藤"}}}


def test_update_sends_the_revision_or_minus_one(base: str, mock: respx.MockRouter) -> None:
    route = mock.put("/k/v1/records.json").mock(return_value=httpx.Response(200, json={
        "records": [{"id": "1", "revision": "4"}, {"id": "2", "revision": "9"}]}))
    ops = [WriteOp(WriteMode.UPDATE, {"姓": "山田"}, id="1", version="3"),
           WriteOp(WriteMode.UPDATE, {"姓": "佐藤"}, id="2")]
    with _connector(base) as connector:
        results = connector.write("leads", ops)
    assert [r.version for r in results] == ["4", "9"]
    body = _sent(route)
    assert body["upsert"] is False
    assert [(r["id"], r["revision"]) for r in body["records"]] == [("1", "3"), ("2", "-1")]


def test_250_creates_go_in_100_record_calls(base: str, mock: respx.MockRouter) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        n = len(json.loads(request.content)["records"])
        return httpx.Response(200, json={"ids": [str(i) for i in range(n)],
                                         "revisions": ["1"] * n})

    route = mock.post("/k/v1/records.json").mock(side_effect=answer)
    ops = [WriteOp(WriteMode.CREATE, {"姓": f"姓{i}"}) for i in range(250)]
    with _connector(base) as connector:
        results = connector.write("leads", ops)
    assert all(r.ok for r in results) and len(results) == 250
    assert [len(_sent(route, i)["records"]) for i in range(3)] == [100, 100, 50]


# -- writes: all-or-nothing batches split per record --------------------------------------------

def test_validation_error_fails_the_blamed_record_and_writes_the_rest(
        base: str, mock: respx.MockRouter) -> None:
    duplicate = "値がほかのレコードと重複しています。"
    route = mock.put("/k/v1/records.json").mock(side_effect=[
        _error(400, "CB_VA01", "入力内容が正しくありません。", {
            "records[1].メールアドレス.value": {"messages": [duplicate]},
            "records[2].姓.value": {"messages": ["必須です。"]}}),
        httpx.Response(200, json={"records": [{"id": "1", "revision": "2", "operation": "INSERT"}]}),
    ])
    ops = [WriteOp(WriteMode.CREATE, {"姓": "A"}, ref="lead:1"),
           WriteOp(WriteMode.CREATE, {"姓": "B", "メールアドレス": "a@example.jp"}, ref="lead:2"),
           WriteOp(WriteMode.CREATE, {"姓": ""}, ref="lead:3")]
    with _connector(base) as connector:
        ok, dup, invalid = connector.write("leads", ops)
    assert ok.ok and ok.id == "1"
    assert dup.error is not None and dup.error.category is ErrorCategory.DUPLICATE
    assert dup.error.message == duplicate and dup.error.fields == ("メールアドレス",)
    assert dup.error.code == "CB_VA01" and not dup.error.retriable
    assert invalid.error is not None and invalid.error.category is ErrorCategory.VALIDATION
    assert invalid.error.message == "必須です。" and invalid.error.fields == ("姓",)
    assert route.call_count == 2
    assert [r["updateKey"]["value"] for r in _sent(route)["records"]] == ["lead:1"]


def test_validation_error_without_a_record_index_fails_the_whole_chunk(
        base: str, mock: respx.MockRouter) -> None:
    route = mock.post("/k/v1/records.json").mock(return_value=_error(
        400, "CB_VA01", "入力内容が正しくありません。", {"app": {"messages": ["不正です。"]}}))
    with _connector(base) as connector:
        results = connector.write("leads", [WriteOp(WriteMode.CREATE, {"姓": "A"}),
                                            WriteOp(WriteMode.CREATE, {"姓": "B"})])
    assert route.call_count == 1
    assert all(r.error is not None and r.error.category is ErrorCategory.VALIDATION
               and r.error.message == "入力内容が正しくありません。; app: 不正です。"
               for r in results)


def test_an_update_key_that_allows_duplicates_is_a_configuration_error(
        base: str, mock: respx.MockRouter) -> None:
    form = json.loads(json.dumps(FORM))
    form["properties"]["連携ID"]["unique"] = False
    mock.get("/k/v1/app/form/fields.json").mock(return_value=httpx.Response(200, json=form))
    route = mock.put("/k/v1/records.json")
    with _connector(base) as connector, pytest.raises(ConfigurationError, match="重複禁止"):
        connector.write("leads", [WriteOp(WriteMode.CREATE, {"姓": "A"}, ref="lead:1")])
    assert route.call_count == 0


def test_revision_conflict_is_found_by_one_probe_and_the_rest_written_again(
        base: str, mock: respx.MockRouter) -> None:
    stale = "指定したrevisionは最新ではありません。ほかのユーザーがレコードを更新した可能性があります。"
    put = mock.put("/k/v1/records.json").mock(side_effect=[
        _error(409, "GAIA_CO02", stale),
        httpx.Response(200, json={"records": [{"id": "1", "revision": "4"},
                                              {"id": "3", "revision": "2"}]})])
    probe = mock.get("/k/v1/records.json").mock(return_value=httpx.Response(200, json={
        "records": [{"$id": {"type": "__ID__", "value": "1"},
                     "$revision": {"type": "__REVISION__", "value": "3"}},
                    {"$id": {"type": "__ID__", "value": "2"},
                     "$revision": {"type": "__REVISION__", "value": "8"}},
                    {"$id": {"type": "__ID__", "value": "3"},
                     "$revision": {"type": "__REVISION__", "value": "1"}}]}))
    ops = [WriteOp(WriteMode.UPDATE, {"姓": "A"}, id="1", version="3"),
           WriteOp(WriteMode.UPDATE, {"姓": "B"}, id="2", version="7"),
           WriteOp(WriteMode.UPDATE, {"姓": "C"}, id="3")]
    with _connector(base) as connector:
        first, edited, unchecked = connector.write("leads", ops)
    assert first.ok and first.version == "4" and unchecked.ok and unchecked.version == "2"
    assert edited.error is not None and edited.error.category is ErrorCategory.CONFLICT
    assert edited.error.code == "GAIA_CO02" and edited.error.retriable
    assert edited.error.message == stale
    assert probe.call_count == 1
    params = _sent_params(probe)
    assert params["query"].startswith("$id in (1, 2, 3)")
    assert (params["fields[0]"], params["fields[1]"]) == ("$id", "$revision")
    assert [r["id"] for r in _sent(put)["records"]] == ["1", "3"]


def test_update_of_a_deleted_record_is_not_found(base: str, mock: respx.MockRouter) -> None:
    mock.put("/k/v1/records.json").mock(side_effect=[
        _error(404, "GAIA_RE01", "指定したレコード（id: 9）が見つかりません。"),
        httpx.Response(200, json={"records": [{"id": "1", "revision": "2"}]})])
    mock.get("/k/v1/records.json").mock(return_value=httpx.Response(200, json={"records": [
        {"$id": {"type": "__ID__", "value": "1"},
         "$revision": {"type": "__REVISION__", "value": "1"}}]}))
    with _connector(base) as connector:
        kept, gone = connector.write("leads", [WriteOp(WriteMode.UPDATE, {"姓": "A"}, id="1"),
                                               WriteOp(WriteMode.UPDATE, {"姓": "B"}, id="9")])
    assert kept.ok
    assert gone.error is not None and gone.error.category is ErrorCategory.NOT_FOUND


# -- reads: the cursor is never left behind -----------------------------------------------------

def _record(rid: int, stamp: str = "2024-04-01T00:00:00Z") -> dict[str, Any]:
    return {"$id": {"type": "__ID__", "value": str(rid)},
            "$revision": {"type": "__REVISION__", "value": "1"},
            "更新日時": {"type": "UPDATED_TIME", "value": stamp},
            "スコア": {"type": "NUMBER", "value": "1.5"},
            "担当者": {"type": "USER_SELECT", "value": [{"code": "suzuki", "name": "鈴木 花子"}]}}


def test_cursor_is_deleted_when_a_page_fails_and_when_the_reader_stops(
        base: str, mock: respx.MockRouter) -> None:
    create = mock.post("/k/v1/records/cursor.json").mock(
        return_value=httpx.Response(200, json={"id": "c-1", "totalCount": "900"}))
    pages = mock.get("/k/v1/records/cursor.json").mock(side_effect=[
        httpx.Response(200, json={"records": [_record(1)], "next": True}),
        httpx.Response(500), httpx.Response(500), httpx.Response(500)])
    delete = mock.delete("/k/v1/records/cursor.json").mock(
        return_value=httpx.Response(200, json={}))
    with _connector(base) as connector:
        reader = connector.read("leads", None)
        first = next(reader)
        assert first.records[0]["スコア"] == 1.5 and first.records[0]["担当者"] == ["suzuki"]
        with pytest.raises(VendorUnavailableError):
            next(reader)
        assert delete.call_count == 1 and json.loads(delete.calls[0].request.content) == {
            "id": "c-1"}
        pages.side_effect = None
        pages.return_value = httpx.Response(200, json={"records": [_record(2)], "next": True})
        reader = connector.read("leads", None)
        next(reader)
        reader.close()
    assert create.call_count == 2 and delete.call_count == 2
    assert _sent(create, 0)["query"] == "order by 更新日時 asc, $id asc"


def test_fetch_asks_for_at_most_100_ids_per_call(base: str, mock: respx.MockRouter) -> None:
    route = mock.get("/k/v1/records.json").mock(
        return_value=httpx.Response(200, json={"records": [_record(1)]}))
    with _connector(base) as connector:
        records = connector.fetch("leads", [str(i) for i in range(1, 251)])
    assert route.call_count == 3 and len(records) == 3
    assert records[0]["$id"] == "1" and records[0]["$revision"] == "1"


def test_full_read_seeks_when_the_domain_has_no_cursor_left(base: str,
                                                            mock: respx.MockRouter) -> None:
    create = mock.post("/k/v1/records/cursor.json").mock(return_value=_error(
        429, "GAIA_TM12", "作成できるカーソルの上限に達しているため、カーソルを作成できません。"))
    seek = mock.get("/k/v1/records.json").mock(
        return_value=httpx.Response(200, json={"records": [_record(1), _record(2)]}))
    with _connector(base) as connector:
        pages = list(connector.read("leads", None))
    assert create.call_count == 1 and seek.call_count == 1
    assert [r["$id"] for p in pages for r in p.records] == ["1", "2"]
    assert _sent_params(seek)["query"] == "order by 更新日時 asc, $id asc limit 500"
