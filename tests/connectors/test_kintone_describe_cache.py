"""kintone forms kept across runs (issue #10): real HTTP against the kintone emulator.

A sync reads each app's form (``/k/v1/app/form/fields.json``) to build its stream. With the
context's describe cache a later run reads none, until the TTL ends or kintone shows that
the form changed: a call refused for a field the app does not have, records that lack a
field the form lists, or a write that the old form would refuse.
"""

from __future__ import annotations

import base64
import itertools
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from connectors.kintone import KintoneConnector
from connectors.sdk import (
    ConfigurationError,
    ConnectorContext,
    ErrorCategory,
    MemoryLedger,
    WriteMode,
    WriteOp,
)
from connectors.sdk.cache import FileCache, MemoryCache, SchemaCache
from sandbox.core.server import EmulatorServer
from sandbox.kintone import API_TOKENS, LOGIN, PASSWORD, KintoneEmulator, KintoneSettings
from sandbox.kintone.schema import FieldDef
from sandbox.kintone.testing import running_emulator
from tests.connectors.helpers import KeyedCache, read_all

FORM = "/k/v1/app/form/fields.json"
TOKENS = ",".join(API_TOKENS.values())
_connections = itertools.count()

Site = tuple[KintoneEmulator, EmulatorServer]


@pytest.fixture
def site() -> Iterator[Site]:
    # size 50 → 10 lead-master records
    with running_emulator(KintoneSettings(size=50)) as pair:
        yield pair


def _connector(site: Site, cache: SchemaCache | None, *, connection: str = "kt",
               **overrides: Any) -> KintoneConnector:
    config: dict[str, Any] = {"base_url": site[1].url, "api_token": TOKENS,
                              "apps": {"leads": 1, "alerts": 2}, "timeout_s": 10,
                              "retry_base_delay_s": 0.01, "concurrency_wait_s": 0.01,
                              **overrides}
    config = {k: v for k, v in config.items() if v is not None}  # None: leave the key out
    return KintoneConnector(config, context=ConnectorContext(
        connection, ledger=MemoryLedger(), schema_cache=cache))


def _forms(site: Site, app: int | None = None) -> int:
    return sum(1 for c in site[0].calls.list(path_prefix=FORM)
               if app is None or c.query.get("app") == str(app))


def _edit_form(site: Site, app: int, *, drop: str | None = None,
               add: FieldDef | None = None) -> None:
    """What an administrator does in the app's form settings (the emulator has no admin API
    for it): delete the field ``drop``, add the field ``add``."""
    store = site[0].domain.store(app)
    assert store is not None
    fields = {c: f for c, f in store.app.fields.items() if c != drop}
    if add is not None:
        fields[add.code] = add
    store.app = replace(store.app, fields=fields)


def _key(backend: KeyedCache, app: int) -> str:
    [key] = {k for k in backend.keys if k.endswith(f":app:{app}")}
    return key


# -- served from the cache ----------------------------------------------------------------------

def test_a_later_run_reads_no_form_and_each_app_is_described_once(
        site: Site, tmp_path: Path) -> None:
    cache = SchemaCache(FileCache(tmp_path), ttl_s=3600)
    with _connector(site, cache) as connector:
        seeded, state = read_all(connector, "leads")
    assert len(seeded) == 10 and _forms(site) == 1
    mark = site[0].calls.last_seq
    with _connector(site, cache) as connector:  # the next run: a connector of its own
        assert read_all(connector, "leads", state)[0] == []
        assert "ステージ" in connector.stream("leads").fields
    # A no-change read of one app is one call now: the records query, no form.
    assert [c.path for c in site[0].calls.list(since=mark)] == ["/k/v1/records.json"]
    with _connector(site, cache) as connector:
        assert "件名" in connector.stream("alerts").fields  # another app: its own form
    assert (_forms(site, 1), _forms(site, 2)) == (1, 1)


def test_ttl_zero_or_no_cache_describes_every_run(site: Site, tmp_path: Path) -> None:
    for cache in (SchemaCache(FileCache(tmp_path), ttl_s=0), None, None):
        with _connector(site, cache) as connector:
            connector.stream("leads")
    assert _forms(site) == 3
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_entry_is_described_again(site: Site) -> None:
    backend = KeyedCache()
    cache = SchemaCache(backend)
    with _connector(site, cache) as connector:
        connector.stream("leads")
    key = _key(backend, 1)
    stored = backend.get(key)
    assert stored is not None
    backend.put(key, ["not", "a", "form"], stored[0])
    with _connector(site, cache) as connector:
        assert "ステージ" in connector.stream("leads").fields
    assert _forms(site) == 2
    assert (backend.get(key) or (0, {}))[1].get("properties")


# -- a form that changed in kintone -------------------------------------------------------------

def test_a_deleted_update_key_fails_the_write_then_the_next_run_sees_the_new_form(
        site: Site) -> None:
    backend = KeyedCache()
    cache = SchemaCache(backend)
    with _connector(site, cache) as connector:
        connector.stream("leads")
    _edit_form(site, 1, drop="連携ID")
    ops = [WriteOp(WriteMode.CREATE, {"姓": f"新規{i}", "メールアドレス": f"n{i}@renkei.example.jp"},
                   ref=f"lead:{i}") for i in range(3)]
    with _connector(site, cache) as connector:
        results = connector.write("leads", ops)  # upserts by a key kintone no longer has
    assert [(r.ok, r.error and r.error.category, r.error and r.error.retriable)
            for r in results] == [(False, ErrorCategory.CONFIGURATION, True)] * 3
    assert results[0].error is not None and results[0].error.code == "CB_VA01"
    assert _forms(site) == 1
    assert backend.get(_key(backend, 1)) is None  # forgotten
    with _connector(site, cache) as connector:
        again = connector.write("leads", ops)
        assert "連携ID" not in connector.stream("leads").fields
    assert all(r.ok and r.created for r in again)
    assert _forms(site) == 2
    store = site[0].domain.store(1)
    assert store is not None and len(store) == 13


def test_a_query_naming_a_deleted_field_forgets_the_form(site: Site) -> None:
    backend = KeyedCache()
    cache = SchemaCache(backend)
    with _connector(site, cache) as connector:
        _, state = read_all(connector, "leads")
    # The administrator renames the field code 更新日時 (kintone: a deletion and an addition).
    _edit_form(site, 1, drop="更新日時", add=FieldDef("最終更新", "UPDATED_TIME", "最終更新"))
    with _connector(site, cache) as connector:
        with pytest.raises(ConfigurationError, match="更新日時") as caught:
            read_all(connector, "leads", state)
        assert caught.value.vendor_code == "GAIA_IQ11"
        assert backend.get(_key(backend, 1)) is None
        assert _forms(site) == 1
        with pytest.raises(ConfigurationError, match="set cursor_fields.leads"):
            connector.stream("leads")  # the next call describes again, and says what to do
    assert _forms(site) == 2
    with _connector(site, cache, cursor_fields={"leads": "最終更新"}) as connector:
        assert len(read_all(connector, "leads")[0]) == 10
    assert _forms(site) == 2  # that fresh form is the cached one now


def test_a_cursor_field_configured_after_caching_is_found_by_describing_again(
        site: Site) -> None:
    cache = SchemaCache(MemoryCache())
    with _connector(site, cache) as connector:
        connector.stream("leads")
    _edit_form(site, 1, drop="更新日時", add=FieldDef("最終更新", "UPDATED_TIME", "最終更新"))
    with _connector(site, cache, cursor_fields={"leads": "最終更新"}) as connector:
        assert connector.stream("leads").cursor_field == "最終更新"
    assert _forms(site) == 2


def test_records_lacking_a_cached_field_forget_the_form_before_a_write_loses_it(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    backend = KeyedCache()
    cache = SchemaCache(backend)
    with _connector(site, cache) as connector:
        connector.stream("leads")
    _edit_form(site, 1, drop="役職")
    with caplog.at_level(logging.INFO, logger="renkei.connectors.kintone"), \
            _connector(site, cache) as connector:
        records, _ = read_all(connector, "leads")
        assert len(records) == 10 and "役職" not in records[0]
        assert backend.get(_key(backend, 1)) is None
        # kintone would ignore the unknown field and answer success; the new form refuses.
        [result] = connector.write("leads", [WriteOp(
            WriteMode.UPDATE, {"役職": "部長"}, id=records[0]["$id"])])
    assert not result.ok and result.error is not None
    assert result.error.category is ErrorCategory.VALIDATION and "役職" in result.error.message
    assert _forms(site) == 2
    assert "no longer has 役職" in caplog.text


def test_a_field_added_after_caching_is_written_after_one_describe(site: Site) -> None:
    cache = SchemaCache(MemoryCache())
    with _connector(site, cache) as connector:
        connector.stream("leads")
    _edit_form(site, 1, add=FieldDef("紹介者", "SINGLE_LINE_TEXT", "紹介者"))
    with _connector(site, cache) as connector:
        [result] = connector.write("leads", [WriteOp(WriteMode.UPDATE, {"紹介者": "佐藤"},
                                                     id="1")])
        assert result.ok, result.error
        # A bad value with a form just read costs no further describe.
        [bad] = connector.write("leads", [WriteOp(WriteMode.UPDATE, {"スコア": "many"}, id="1")])
        assert not bad.ok
    assert _forms(site) == 2
    record = site[0].get_record("1", "1")
    assert record is not None and record["紹介者"]["value"] == "佐藤"


# -- scope: what never shares an entry, and what never reaches one ------------------------------

def test_apps_domains_and_credentials_never_share_a_form(site: Site) -> None:
    backend = KeyedCache()
    cache = SchemaCache(backend)
    with running_emulator(KintoneSettings(size=50)) as other:
        _edit_form(other, 1, add=FieldDef("別ドメイン", "SINGLE_LINE_TEXT", "別ドメイン"))
        with _connector(site, cache) as here, _connector(other, cache) as there:
            assert "別ドメイン" not in here.stream("leads").fields
            assert "別ドメイン" in there.stream("leads").fields
            here.stream("alerts")
        with _connector(other, cache, api_token=None, login=LOGIN,
                        password=PASSWORD) as by_user:
            assert "別ドメイン" in by_user.stream("leads").fields
        assert (_forms(site, 1), _forms(site, 2), _forms(other, 1)) == (1, 1, 2)
    assert len(set(backend.keys)) == 4


def test_no_secret_reaches_a_cache_file_a_key_a_repr_or_a_log(
        site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    backend = KeyedCache()
    files = FileCache(tmp_path)
    pair = base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()
    secrets = [*API_TOKENS.values(), PASSWORD, pair]
    shown: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for cache in (SchemaCache(files), SchemaCache(backend)):
            for auth in ({}, {"api_token": None, "login": LOGIN, "password": PASSWORD}):
                with _connector(site, cache, connection=f"c{next(_connections)}",
                                **auth) as connector:
                    connector.stream("leads")
                    shown += [repr(connector), repr(connector._schemas)]
    written = [p.read_text("utf-8") + p.name for p in tmp_path.iterdir()]
    assert len(written) == 2
    for text in [*written, *backend.keys, *shown, caplog.text]:
        assert not any(s in text for s in secrets)
