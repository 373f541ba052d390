"""Fidelity: pykintone 0.3.10 (a third-party kintone client from PyPI), unchanged, against the
kintone emulator over real HTTP.

pykintone builds every URL from ``Application.API_ROOT = "https://{domain}.cybozu.com/k/v1/{api}"``
and forces a ``Host: {domain}.cybozu.com:443`` header; the tests point API_ROOT at the emulator
(the documented way, REFERENCE.md §0) and leave the rest of the library alone. It reads
records with ``POST`` + ``X-HTTP-Method-Override: GET``, always sends ``revision: -1`` when it
knows none, and sends ``X-Cybozu-Authorization`` as bytes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pykintone  # type: ignore[import-untyped]
import pykintone.application as pk_application  # type: ignore[import-untyped]
import pytest
from pykintone import model as pk_model
from pykintone.application_settings.form import FormAPI  # type: ignore[import-untyped]

from sandbox.core.server import EmulatorServer
from sandbox.kintone import API_TOKENS, LOGIN, PASSWORD, KintoneEmulator, KintoneSettings
from sandbox.kintone.testing import running_emulator

DOMAIN = "renkei-sandbox"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[KintoneEmulator, EmulatorServer]]:
    with running_emulator(KintoneSettings(size=100)) as pair:
        yield pair


@pytest.fixture
def emulator(served: tuple[KintoneEmulator, EmulatorServer],
             monkeypatch: pytest.MonkeyPatch) -> KintoneEmulator:
    emulator, server = served
    emulator.reset()
    monkeypatch.setattr(pk_application.Application, "API_ROOT", server.url + "/k/v1/{1}")
    monkeypatch.setattr(FormAPI, "API_ROOT", server.url + "/k/v1{1}/app/form/{2}")
    return emulator


def lead_app() -> pk_application.Application:
    return pykintone.app(DOMAIN, 1, API_TOKENS[1])


def test_select_with_query_reads_matching_records_and_total(emulator: KintoneEmulator) -> None:
    expected = sorted(
        (r["$id"]["value"] for r in emulator.list_records("1", offset=0, limit=1000)[0]
         if int(r["スコア"]["value"]) >= 30), key=int)

    result = lead_app().select("スコア >= 30 order by $id asc", fields=["$id", "スコア"])

    assert result.ok, result.error
    assert [r["$id"]["value"] for r in result.records] == expected
    assert result.total_count == len(expected)
    assert all(set(r) == {"$id", "スコア"} for r in result.records)


def test_create_then_get_round_trips_typed_values(emulator: KintoneEmulator) -> None:
    app = lead_app()
    created = app.create({
        "連携ID": {"value": "hub-100"}, "メールアドレス": {"value": "new@example.co.jp"},
        "従業員数": {"value": 120}, "ステージ": {"value": "MQL"},
        "担当者": {"value": [{"code": "kato"}]},
    })
    assert created.ok, created.error
    assert created.revision == 1

    record = app.get(created.record_id).record
    assert record["従業員数"] == {"type": "NUMBER", "value": "120"}
    assert record["担当者"]["value"] == [{"code": "kato", "name": "加藤 誠"}]
    assert record["ステージ"]["value"] == "MQL"


def test_update_with_current_revision_succeeds_and_a_stale_one_is_a_conflict(
        emulator: KintoneEmulator) -> None:
    app = lead_app()
    record_id = app.create({"連携ID": {"value": "hub-7"}}).record_id

    first = app.update({"$id": {"value": record_id}, "$revision": {"value": 1},
                        "スコア": {"value": "55"}})
    stale = app.update({"$id": {"value": record_id}, "$revision": {"value": 1},
                        "スコア": {"value": "99"}})

    assert first.ok and first.revision == 2
    assert not stale.ok
    assert stale.error.code == "GAIA_CO02"
    assert app.get(record_id).record["スコア"]["value"] == "55"


def test_update_without_revision_sends_minus_one_and_skips_the_check(
        emulator: KintoneEmulator) -> None:
    app = lead_app()
    record_id = app.create({"連携ID": {"value": "hub-8"}}).record_id
    app.update({"$id": {"value": record_id}, "スコア": {"value": "1"}})

    again = app.update({"$id": {"value": record_id}, "スコア": {"value": "2"}})

    assert again.ok and again.revision == 3


def test_batch_create_update_and_delete(emulator: KintoneEmulator) -> None:
    app = lead_app()
    created = app.batch_create([{"連携ID": {"value": f"hub-b{i}"}} for i in range(3)])
    assert created.ok, created.error
    ids = [k.record_id for k in created.keys]

    updated = app.batch_update([{"$id": {"value": i}, "ステージ": {"value": "SQL"}} for i in ids])
    assert updated.ok and [k.revision for k in updated.keys] == [2, 2, 2]

    assert app.delete(ids).ok
    assert all(emulator.get_record("1", str(i)) is None for i in ids)


def test_validation_error_details_reach_the_client(emulator: KintoneEmulator) -> None:
    result = lead_app().batch_create([{"ステージ": {"value": "見込み"}}])

    assert not result.ok
    assert result.error.code == "CB_VA01"
    assert result.detail == {"records[0].ステージ.value": {"messages": ['"見込み"は選択肢にありません。']}}


def test_token_of_another_app_is_refused(emulator: KintoneEmulator) -> None:
    result = pykintone.app(DOMAIN, 1, API_TOKENS[2]).select("")

    assert not result.ok
    assert result.error.code == "GAIA_AP15"


class Lead(pk_model.kintoneModel):  # type: ignore[misc]
    """A pykintone model whose attribute names are the Japanese field codes."""

    def __init__(self) -> None:
        super().__init__()
        self.連携ID = ""
        self.メールアドレス = ""
        self.スコア = 0


def test_models_map_records_to_objects_and_back(emulator: KintoneEmulator) -> None:
    app = lead_app()
    lead = Lead()
    lead.連携ID, lead.メールアドレス, lead.スコア = "hub-m", "m@example.jp", 42
    created = app.create(lead)
    assert created.ok, created.error

    loaded = app.select('連携ID in ("hub-m")').models(Lead)

    assert [(m.連携ID, m.メールアドレス, int(m.スコア)) for m in loaded] == [("hub-m", "m@example.jp", 42)]


def test_form_api_with_password_auth_lists_field_types(emulator: KintoneEmulator) -> None:
    kintone = pykintone.login(DOMAIN, LOGIN, PASSWORD)
    form = FormAPI(kintone.account, app_id=1).get()

    assert form.ok, form.error
    types = {f.code: str(getattr(f.field_type, "value", f.field_type)) for f in form.fields}
    assert types["ステージ"] == "DROP_DOWN"
    assert types["スコア"] == "NUMBER"


def test_wrong_password_is_cb_wa01(emulator: KintoneEmulator) -> None:
    kintone = pykintone.login(DOMAIN, LOGIN, "wrong")
    result = FormAPI(kintone.account, app_id=1).get()

    assert not result.ok
    assert result.error.code == "CB_WA01"
