"""The kintone emulator over real HTTP: auth, form fields, queries, writes, bulk, cursors.

One emulator serves the module; each test starts from the seeded state (``reset()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.core.server import EmulatorServer
from sandbox.kintone import API_TOKENS, KintoneEmulator, KintoneSettings
from sandbox.kintone.schema import APPS
from sandbox.kintone.testing import password_headers, running_emulator, token_headers
from sandbox.seed import PREFECTURES, people

SIZE = 100  # 20 seeded leads


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[KintoneEmulator, EmulatorServer]]:
    with running_emulator(KintoneSettings(size=SIZE)) as pair:
        yield pair


@pytest.fixture
def emulator(served: tuple[KintoneEmulator, EmulatorServer]) -> KintoneEmulator:
    served[0].reset()
    return served[0]


@pytest.fixture
def http(served: tuple[KintoneEmulator, EmulatorServer],
         emulator: KintoneEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[1].url, headers=token_headers(1, 2, 3, 4),
                      trust_env=False) as client:
        yield client


def records(http: httpx.Client, app: int, query: str = "", **extra: Any) -> dict[str, Any]:
    response = http.get("/k/v1/records.json", params={"app": app, "query": query, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[int]:
    return [int(r["$id"]["value"]) for r in body["records"]]


def seeded(emulator: KintoneEmulator) -> list[dict[str, Any]]:
    return emulator.list_records("1", offset=0, limit=10_000)[0]


def add(http: httpx.Client, app: int, *rows: dict[str, Any]) -> list[int]:
    body = {"app": app, "records": [{k: {"value": v} for k, v in row.items()} for row in rows]}
    response = http.post("/k/v1/records.json", json=body)
    assert response.status_code == 200, response.text
    return [int(i) for i in response.json()["ids"]]


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["id"] and body["message"]
    return body


# -- auth -----------------------------------------------------------------------------------


def test_missing_credentials_are_cb_au01(served: tuple[KintoneEmulator, EmulatorServer]) -> None:
    with httpx.Client(base_url=served[1].url, trust_env=False) as client:
        assert_error(client.get("/k/v1/records.json", params={"app": 1}), 401, "CB_AU01")


def test_unknown_token_is_gaia_ia02_and_another_apps_token_is_gaia_ap15(
        http: httpx.Client) -> None:
    unknown = http.get("/k/v1/records.json", params={"app": 1},
                       headers={"X-Cybozu-API-Token": "not-a-token"})
    other = http.get("/k/v1/records.json", params={"app": 1}, headers=token_headers(2))

    assert_error(unknown, 400, "GAIA_IA02")
    assert_error(other, 403, "GAIA_AP15")


def test_comma_joined_tokens_open_each_of_their_apps(http: httpx.Client) -> None:
    headers = {"X-Cybozu-API-Token": f"{API_TOKENS[2]},{API_TOKENS[1]}"}
    for app in (1, 2):
        assert http.get("/k/v1/records.json", params={"app": app}, headers=headers).is_success
    assert_error(http.get("/k/v1/records.json", params={"app": 3}, headers=headers),
                 403, "GAIA_AP15")
    twice = {"X-Cybozu-API-Token": f"{API_TOKENS[1]},{API_TOKENS[1]}"}
    assert_error(http.get("/k/v1/records.json", params={"app": 1}, headers=twice),
                 400, "GAIA_DA03")


def test_password_auth_and_its_failure(http: httpx.Client) -> None:
    ok = http.get("/k/v1/app.json", params={"id": 3}, headers=password_headers())
    bad = http.get("/k/v1/app.json", params={"id": 3},
                   headers=password_headers(password="nope"))

    assert ok.json()["name"] == "商談"
    assert_error(bad, 401, "CB_WA01")


def test_writes_with_a_password_stamp_the_login_user(http: httpx.Client) -> None:
    response = http.post("/k/v1/record.json", headers=password_headers(),
                         json={"app": 2, "record": {"件名": {"value": "x"}}})
    record = http.get("/k/v1/record.json",
                      params={"app": 2, "id": response.json()["id"]}).json()["record"]

    assert record["作成者"]["value"]["code"] == "renkei"
    assert record["更新者"]["value"]["code"] == "renkei"


# -- apps and fields ------------------------------------------------------------------------


def test_form_fields_describe_types_options_unique_and_subtables(http: httpx.Client) -> None:
    props = http.get("/k/v1/app/form/fields.json", params={"app": 1}).json()["properties"]

    assert props["連携ID"]["type"] == "SINGLE_LINE_TEXT" and props["連携ID"]["unique"] is True
    assert props["姓"]["unique"] is False
    assert props["従業員数"]["type"] == "NUMBER"
    assert props["担当者"]["type"] == "USER_SELECT"
    options = props["都道府県"]["options"]
    assert sorted(options, key=lambda o: int(options[o]["index"])) == list(PREFECTURES)
    table = props["対応履歴"]
    assert table["type"] == "SUBTABLE"
    assert table["fields"]["対応種別"]["options"].keys() == {"電話", "メール", "訪問", "オンライン商談"}
    assert props["更新日時"]["type"] == "UPDATED_TIME"


def test_unknown_app_is_gaia_ap01(served: tuple[KintoneEmulator, EmulatorServer]) -> None:
    with httpx.Client(base_url=served[1].url, headers=password_headers()) as client:
        assert_error(client.get("/k/v1/app/form/fields.json", params={"app": 99}),
                     404, "GAIA_AP01")


# -- reading --------------------------------------------------------------------------------


def test_values_come_back_as_kintone_returns_them(http: httpx.Client) -> None:
    record = records(http, 1, "order by $id asc limit 1")["records"][0]
    person = next(people(1))

    assert record["$id"] == {"type": "__ID__", "value": "1"}
    assert record["レコード番号"]["value"] == "1"
    assert record["$revision"]["value"] == "1"
    assert record["メールアドレス"]["value"] == person.email
    assert record["従業員数"] == {"type": "NUMBER", "value": str(person.company.employees)}
    assert record["担当者"]["value"] == [{"code": "tanaka", "name": "田中 一郎"}]
    assert record["作成日時"]["value"].endswith(":00Z")
    rows = record["対応履歴"]["value"]
    assert rows[0]["id"].isdigit() and rows[0]["value"]["対応種別"]["type"] == "DROP_DOWN"
    empty = records(http, 1, "order by $id asc limit 2")["records"][1]
    assert empty["対応履歴"]["value"] == []


def test_comparisons_in_like_and_or_parentheses(emulator: KintoneEmulator,
                                                  http: httpx.Client) -> None:
    rows = seeded(emulator)

    def expect(pred: Any) -> list[int]:
        return sorted(int(r["$id"]["value"]) for r in rows if pred(r))

    def val(r: dict[str, Any], code: str) -> Any:
        return r[code]["value"]

    cases = {
        "スコア >= 30 and スコア < 80": lambda r: 30 <= int(val(r, "スコア")) < 80,
        "$id > 5 and $id <= 9": lambda r: 5 < int(val(r, "$id")) <= 9,
        'ステージ in ("顧客", "SQL")': lambda r: val(r, "ステージ") in ("顧客", "SQL"),
        'ステージ not in ("顧客")': lambda r: val(r, "ステージ") != "顧客",
        'メールアドレス like ".CO.JP"': lambda r: ".co.jp" in val(r, "メールアドレス"),
        '(ステージ in ("顧客") or スコア > 50) and 予算 in ("あり")':
            lambda r: (val(r, "ステージ") == "顧客" or int(val(r, "スコア")) > 50)
            and val(r, "予算") == "あり",
        '担当者 in ("tanaka", "suzuki")':
            lambda r: val(r, "担当者")[0]["code"] in ("tanaka", "suzuki"),
        '姓 != "佐藤"': lambda r: val(r, "姓") != "佐藤",
        '対応種別 in ("電話")': lambda r: any(
            row["value"]["対応種別"]["value"] == "電話" for row in val(r, "対応履歴")),
    }
    for query, pred in cases.items():
        got = records(http, 1, query + " order by $id asc limit 500", totalCount="true")
        assert ids(got) == expect(pred), query
        assert got["totalCount"] == str(len(expect(pred))), query


def test_datetime_comparisons_work_on_updated_time(emulator: KintoneEmulator,
                                                   http: httpx.Client) -> None:
    stamps = sorted(r["更新日時"]["value"] for r in seeded(emulator))
    middle = stamps[len(stamps) // 2]

    after = records(http, 1, f'更新日時 >= "{middle}"', totalCount="true")
    before = records(http, 1, f'更新日時 < "{middle}"', totalCount="true")

    assert int(after["totalCount"]) == sum(s >= middle for s in stamps)
    assert int(after["totalCount"]) + int(before["totalCount"]) == len(stamps)


def test_order_limit_offset_and_default_order(http: httpx.Client) -> None:
    default = ids(records(http, 1))
    assert default == sorted(default, reverse=True)

    by_score = records(http, 1, "order by スコア desc, $id asc limit 500")["records"]
    keys = [(-int(r["スコア"]["value"]), int(r["$id"]["value"])) for r in by_score]
    assert keys == sorted(keys)

    page = ids(records(http, 1, "order by $id asc limit 5 offset 3"))
    assert page == [4, 5, 6, 7, 8]


def test_fields_limit_the_returned_codes_and_total_count_is_null_unless_asked(
        http: httpx.Client) -> None:
    body = records(http, 1, "limit 2", **{"fields[0]": "$id", "fields[1]": "ステージ"})

    assert all(set(r) == {"$id", "ステージ"} for r in body["records"])
    assert body["totalCount"] is None


def test_method_override_post_reads_like_get(http: httpx.Client) -> None:
    query = 'ステージ in ("顧客") order by $id asc'
    response = http.post("/k/v1/records.json", headers={"X-HTTP-Method-Override": "GET"},
                         json={"app": 1, "query": query, "fields": ["$id"], "totalCount": True})

    assert response.status_code == 200
    assert response.json() == records(http, 1, query, totalCount="true", **{"fields[0]": "$id"})


@pytest.mark.parametrize(("query", "status", "code"), [
    ("limit 501", 400, "GAIA_QU01"),
    ("offset 10001", 400, "GAIA_QU02"),
    ("存在しない = 1", 400, "GAIA_IQ11"),
    ('ステージ = "顧客"', 400, "GAIA_IQ03"),
    ('スコア > "many"', 400, "CB_VA01"),
])
def test_query_limits_and_checks(http: httpx.Client, query: str, status: int, code: str) -> None:
    response = http.get("/k/v1/records.json", params={"app": 1, "query": query})
    assert_error(response, status, code)


def test_query_syntax_error_names_the_position(http: httpx.Client) -> None:
    response = http.get("/k/v1/records.json", params={"app": 1, "query": "スコア >= 10 and or"})

    messages = assert_error(response, 400, "CB_VA01")["errors"]["query"]["messages"]
    assert messages[0] == "クエリ記法が間違っています。"
    assert messages[1].startswith("15文字目")


# -- writing --------------------------------------------------------------------------------


def test_bulk_add_is_all_or_nothing_with_indexed_errors(emulator: KintoneEmulator,
                                                        http: httpx.Client) -> None:
    taken = seeded(emulator)[0]["メールアドレス"]["value"]
    body = {"app": 1, "records": [
        {"連携ID": {"value": "hub-1"}},
        {"連携ID": {"value": "hub-1"}, "従業員数": {"value": "many"}},
        {"メールアドレス": {"value": taken}, "都道府県": {"value": "東京"}},
    ]}

    errors = assert_error(http.post("/k/v1/records.json", json=body), 400, "CB_VA01")["errors"]

    assert set(errors) == {"records[1].連携ID.value", "records[1].従業員数.value",
                           "records[2].メールアドレス.value", "records[2].都道府県.value"}
    assert errors["records[1].連携ID.value"]["messages"] == ["値がほかのレコードと重複しています。"]
    assert records(http, 1, '連携ID in ("hub-1")', totalCount="true")["totalCount"] == "0"


def test_more_than_100_records_per_write_are_refused(http: httpx.Client) -> None:
    body = {"app": 4, "records": [{} for _ in range(101)]}
    assert_error(http.post("/k/v1/records.json", json=body), 400, "CB_VA01")
    assert records(http, 4, totalCount="true")["totalCount"] == "0"


def test_unknown_user_code_is_refused(http: httpx.Client) -> None:
    body = {"app": 2, "record": {"担当者": {"value": [{"code": "nobody"}]}}}
    assert_error(http.post("/k/v1/record.json", json=body), 400, "GAIA_IL26")


def test_update_by_id_and_update_key_bumps_revision_and_modified_fields(
        http: httpx.Client) -> None:
    (record_id,) = add(http, 3, {"連携ID": "deal-1", "金額": "1000"})
    body = {"app": 3, "records": [
        {"id": record_id, "revision": 1, "record": {"フェーズ": {"value": "提案"}}},
        {"updateKey": {"field": "連携ID", "value": "deal-1"}, "revision": -1,
         "record": {"金額": {"value": "2,000".replace(",", "")}}},
    ]}
    response = http.put("/k/v1/records.json", json=body, headers=password_headers())

    assert response.json() == {"records": [{"id": str(record_id), "revision": "2"},
                                           {"id": str(record_id), "revision": "3"}]}
    record = http.get("/k/v1/record.json", params={"app": 3, "id": record_id}).json()["record"]
    assert (record["フェーズ"]["value"], record["金額"]["value"]) == ("提案", "2000")
    assert record["$revision"]["value"] == "3"
    assert record["更新者"]["value"]["code"] == "renkei"


def test_a_stale_revision_fails_the_whole_bulk_update(http: httpx.Client) -> None:
    first, second = add(http, 3, {"連携ID": "d-1"}, {"連携ID": "d-2"})
    body = {"app": 3, "records": [
        {"id": first, "revision": 1, "record": {"金額": {"value": "5"}}},
        {"id": second, "revision": 9, "record": {"金額": {"value": "6"}}},
    ]}

    assert_error(http.put("/k/v1/records.json", json=body), 409, "GAIA_CO02")
    unchanged = records(http, 3, "order by $id asc")["records"]
    assert [(r["金額"]["value"], r["$revision"]["value"]) for r in unchanged] == [("", "1")] * 2


def test_upsert_reports_insert_and_update(http: httpx.Client) -> None:
    add(http, 4, {"連携ID": "act-1"})
    body = {"app": 4, "upsert": True, "records": [
        {"updateKey": {"field": "連携ID", "value": "act-1"}, "record": {"件名": {"value": "a"}}},
        {"updateKey": {"field": "連携ID", "value": "act-2"}, "record": {"件名": {"value": "b"}}},
    ]}

    result = http.put("/k/v1/records.json", json=body).json()["records"]

    assert [(r["operation"], r["revision"]) for r in result] == [("UPDATE", "2"), ("INSERT", "1")]
    rows = records(http, 4, "order by $id asc")["records"]
    assert [(r["連携ID"]["value"], r["件名"]["value"]) for r in rows] == [("act-1", "a"),
                                                                        ("act-2", "b")]


def test_update_key_must_be_a_unique_field_and_must_exist_without_upsert(
        http: httpx.Client) -> None:
    not_unique = {"app": 4, "records": [
        {"updateKey": {"field": "件名", "value": "x"}, "record": {}}]}
    missing = {"app": 4, "records": [
        {"updateKey": {"field": "連携ID", "value": "none"}, "record": {}}]}

    assert_error(http.put("/k/v1/records.json", json=not_unique), 400, "CB_VA01")
    assert_error(http.put("/k/v1/records.json", json=missing), 404, "GAIA_RE01")


def test_subtable_rows_keep_their_id_when_sent_back_and_vanish_when_left_out(
        http: httpx.Client) -> None:
    table = {"対応履歴": {"value": [
        {"value": {"対応種別": {"value": "電話"}, "対応内容": {"value": "1回目"}}},
        {"value": {"対応種別": {"value": "訪問"}}}]}}
    record_id = http.post("/k/v1/record.json",
                          json={"app": 1, "record": table}).json()["id"]
    rows = http.get("/k/v1/record.json", params={"app": 1, "id": record_id}
                    ).json()["record"]["対応履歴"]["value"]

    keep = {"id": rows[0]["id"], "value": {"対応内容": {"value": "更新"}}}
    http.put("/k/v1/record.json", json={"app": 1, "id": record_id,
                                        "record": {"対応履歴": {"value": [keep]}}})
    after = http.get("/k/v1/record.json", params={"app": 1, "id": record_id}
                     ).json()["record"]["対応履歴"]["value"]

    assert [r["id"] for r in after] == [rows[0]["id"]]
    assert after[0]["value"]["対応種別"]["value"] == "電話"
    assert after[0]["value"]["対応内容"]["value"] == "更新"


def test_delete_by_query_string_ids_and_by_json_body_with_revisions(
        http: httpx.Client) -> None:
    a, b, c = add(http, 2, {"件名": "a"}, {"件名": "b"}, {"件名": "c"})

    assert http.delete("/k/v1/records.json",
                       params={"app": 2, "ids[0]": a, "ids[1]": b}).status_code == 200
    stale = http.request("DELETE", "/k/v1/records.json",
                         json={"app": 2, "ids": [c], "revisions": [5]})
    assert_error(stale, 409, "GAIA_CO02")
    assert http.request("DELETE", "/k/v1/records.json",
                        json={"app": 2, "ids": [c], "revisions": [1]}).status_code == 200
    assert records(http, 2, totalCount="true")["totalCount"] == "0"
    assert_error(http.get("/k/v1/record.json", params={"app": 2, "id": a}), 404, "GAIA_RE01")


def test_bulk_request_is_one_transaction_across_apps(http: httpx.Client) -> None:
    (deal,) = add(http, 3, {"連携ID": "deal-x"})
    requests: list[dict[str, Any]] = [
        {"method": "POST", "api": "/k/v1/record.json",
         "payload": {"app": 2, "record": {"件名": {"value": "alert"}}}},
        {"method": "PUT", "api": "/k/v1/record.json",
         "payload": {"app": 3, "id": deal, "revision": 7, "record": {}}},
    ]

    failed = http.post("/k/v1/bulkRequest.json", json={"requests": requests})

    assert failed.status_code == 409
    results = failed.json()["results"]
    assert results[0] == {} and results[1]["code"] == "GAIA_CO02"
    assert records(http, 2, totalCount="true")["totalCount"] == "0"

    requests[1]["payload"]["revision"] = 1
    ok = http.post("/k/v1/bulkRequest.json", json={"requests": requests}).json()["results"]
    assert ok[0]["revision"] == "1" and ok[1] == {"revision": "2"}
    too_many = {"requests": [requests[0]] * 21}
    assert_error(http.post("/k/v1/bulkRequest.json", json=too_many), 400, "CB_VA01")


def test_bulk_request_checks_the_token_of_every_app(http: httpx.Client) -> None:
    requests = [{"method": "POST", "api": "/k/v1/record.json", "payload": {"app": 2, "record": {}}}]
    response = http.post("/k/v1/bulkRequest.json", json={"requests": requests},
                         headers=token_headers(1))
    assert response.status_code == 403
    assert response.json()["results"][0]["code"] == "GAIA_AP15"


# -- cursors --------------------------------------------------------------------------------


def test_cursor_pages_through_everything_and_is_freed_at_the_end(
        emulator: KintoneEmulator, http: httpx.Client) -> None:
    created = http.post("/k/v1/records/cursor.json", json={
        "app": 1, "size": 6, "query": "order by $id asc", "fields": ["$id"]}).json()
    assert created["totalCount"] == str(len(seeded(emulator)))
    seen: list[int] = []
    while True:
        page = http.get("/k/v1/records/cursor.json", params={"id": created["id"]}).json()
        seen += ids(page)
        if not page["next"]:
            break

    assert seen == list(range(1, len(seeded(emulator)) + 1))
    gone = http.get("/k/v1/records/cursor.json", params={"id": created["id"]})
    assert_error(gone, 404, "GAIA_CU01")


def test_cursor_limits(http: httpx.Client) -> None:
    assert_error(http.post("/k/v1/records/cursor.json", json={"app": 1, "size": 501}),
                 400, "CB_VA01")
    assert_error(http.post("/k/v1/records/cursor.json", json={"app": 1, "query": "limit 5"}),
                 400, "CB_VA01")
    opened = [http.post("/k/v1/records/cursor.json", json={"app": 1}).json()["id"]
              for _ in range(10)]
    assert_error(http.post("/k/v1/records/cursor.json", json={"app": 1}), 429, "GAIA_TM12")

    assert http.request("DELETE", "/k/v1/records/cursor.json", json={"id": opened[0]}).is_success
    assert http.post("/k/v1/records/cursor.json", json={"app": 1}).is_success


# -- misc -----------------------------------------------------------------------------------


def test_bad_json_is_cb_ij01(http: httpx.Client) -> None:
    response = http.post("/k/v1/records.json", content=b"{not json",
                         headers={"Content-Type": "application/json"})
    assert_error(response, 400, "CB_IJ01")


def test_every_app_of_the_contract_is_served(http: httpx.Client) -> None:
    names = {app_id: http.get("/k/v1/app.json", params={"id": app_id}).json()["name"]
             for app_id in APPS}
    assert names == {1: "リードマスタ", 2: "アラート", 3: "商談", 4: "活動履歴"}


def test_seeding_is_deterministic_and_follows_size() -> None:
    first = KintoneEmulator(KintoneSettings(size=500, seed=7))
    again = KintoneEmulator(KintoneSettings(size=500, seed=7))
    emails = [r["メールアドレス"]["value"] for r in seeded(first)]

    assert first.seeded == 100
    assert emails == [r["メールアドレス"]["value"] for r in seeded(again)]
    assert emails[:3] == [p.email for p in list(people(11, seed=7))[::5]]


def test_date_functions_select_todays_writes(http: httpx.Client) -> None:
    (new,) = add(http, 2, {"件名": "today"})

    today = ids(records(http, 2, "更新日時 = TODAY()"))
    earlier = records(http, 2, "作成日時 < YESTERDAY()", totalCount="true")

    assert today == [new]
    assert earlier["totalCount"] == "0"
