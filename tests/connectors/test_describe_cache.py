"""Describe results kept across runs (issue #10 b): the cache, Marketo, Salesforce, projects.

A describe is served from the cache while younger than its TTL, fetched again after, never
cached with a TTL of 0, and forgotten when the vendor answers a field error, so a field
deleted since costs one more describe, not a failed run.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.marketo import MarketoConnector
from connectors.salesforce import SalesforceConnector
from connectors.sdk import (
    ConfigurationError,
    ConnectorContext,
    ConnectorError,
    MemoryLedger,
    WriteMode,
    WriteOp,
)
from connectors.sdk.cache import FileCache, MemoryCache, SchemaCache, schema_cache_at
from renkei.project import Project
from sandbox.core import EmulatorServer
from sandbox.core.tls import TLSFiles, make_tls
from sandbox.marketo import MarketoConfig, MarketoEmulator
from sandbox.salesforce import SalesforceEmulator, SalesforceSettings
from tests.connectors.helpers import KeyedCache
from tests.connectors.marketo_fixtures import running

MK_DESCRIBE = "/rest/v1/leads/describe.json"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


# -- the cache --------------------------------------------------------------------------------

def test_value_is_served_until_the_ttl_then_fetched_again() -> None:
    clock, fetched = Clock(), []
    cache = SchemaCache(MemoryCache(), ttl_s=60, namespace="n", clock=clock)

    def fetch() -> list[int]:
        fetched.append(1)
        return [len(fetched)]

    first, second = cache.get_or_fetch("k", fetch), cache.get_or_fetch("k", fetch)
    assert (first.hit, second.hit, first.value, second.value) == (False, True, [1], [1])
    clock.now += 59
    assert cache.get_or_fetch("k", fetch).hit and len(fetched) == 1
    clock.now += 1
    again = cache.get_or_fetch("k", fetch)
    assert (again.value, again.hit) == ([2], False)
    clock.now -= 3600  # the clock went back: an entry from "the future" is not trusted
    assert not cache.get_or_fetch("k", fetch).hit


def test_ttl_zero_or_no_backend_caches_nothing() -> None:
    backend = MemoryCache()
    for cache in (SchemaCache(backend, ttl_s=0), SchemaCache(None)):
        assert not cache.get_or_fetch("k", lambda: 1).hit
        assert not cache.get_or_fetch("k", lambda: 1).hit
    assert backend.get("schema::k") is None


def test_invalidate_and_forgetting_drop_only_their_key() -> None:
    cache = SchemaCache(MemoryCache(), namespace="n")
    cache.get_or_fetch("a", lambda: 1)
    cache.get_or_fetch("b", lambda: 2)
    with pytest.raises(ConfigurationError), cache.forgetting(
            "a", lambda e: getattr(e, "vendor_code", None) == "INVALID_FIELD"):
        raise ConfigurationError("no such column", vendor_code="INVALID_FIELD")
    with pytest.raises(ValueError), cache.forgetting("b", lambda e: False):
        raise ValueError("not a field error")
    assert not cache.get_or_fetch("a", lambda: 1).hit
    assert cache.get_or_fetch("b", lambda: 2).hit


def test_namespaces_never_share_a_value() -> None:
    backend = MemoryCache()
    SchemaCache(backend, namespace="mk|https://a").get_or_fetch("leads", lambda: "a")
    other = SchemaCache(backend, namespace="mk|https://b").get_or_fetch("leads", lambda: "b")
    assert (other.value, other.hit) == ("b", False)


def test_file_cache_survives_the_process_and_shrugs_off_damage(tmp_path: Path) -> None:
    FileCache(tmp_path / "c").put("key/with:odd chars", {"名前": [1, 2]}, 5.0)
    cache = FileCache(tmp_path / "c")
    assert cache.get("key/with:odd chars") == (5.0, {"名前": [1, 2]})
    files = list((tmp_path / "c").iterdir())
    assert len(files) == 1 and "key" not in files[0].name  # the name says nothing
    files[0].write_text('{"key": "key/with:odd chars", "stored_at": 5.0, "val', "utf-8")
    assert cache.get("key/with:odd chars") is None
    files[0].write_text(json.dumps({"key": "another", "stored_at": 5.0, "value": 1}), "utf-8")
    assert cache.get("key/with:odd chars") is None
    cache.delete("key/with:odd chars")
    cache.delete("key/with:odd chars")
    assert list((tmp_path / "c").iterdir()) == []


def test_an_unwritable_cache_costs_a_describe_not_the_run(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", "utf-8")
    cache = SchemaCache(FileCache(blocker / "cache"), namespace="n")
    with caplog.at_level(logging.WARNING, logger="renkei.connectors.cache"):
        assert cache.get_or_fetch("k", lambda: [1]).value == [1]
    assert "not stored" in caplog.text


@pytest.mark.parametrize("ttl", ["soon", -1, float("nan"), None])
def test_bad_ttl_setting_names_the_setting(tmp_path: Path, ttl: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"connections\.mk\.describe_cache_ttl_s"):
        schema_cache_at(tmp_path, ttl, where="connections.mk.describe_cache_ttl_s")


# -- Marketo ----------------------------------------------------------------------------------

@pytest.fixture()
def marketo() -> Iterator[tuple[MarketoEmulator, EmulatorServer]]:
    with running(MarketoConfig(size=50)) as pair:
        yield pair


def _marketo(pair: tuple[MarketoEmulator, EmulatorServer], cache: SchemaCache | None,
             **overrides: Any) -> MarketoConnector:
    emulator, server = pair
    creds = emulator.credentials()
    config = {"base_url": server.url, "client_id": creds["client_id"],
              "client_secret": creds["client_secret"], "munchkin_id": f"t-{uuid.uuid4()}",
              "timeout_s": 10, **overrides}
    return MarketoConnector(config, context=ConnectorContext(
        "mk", ledger=MemoryLedger(), schema_cache=cache))


def test_marketo_describes_once_across_runs_and_check_always_asks(
        marketo: tuple[MarketoEmulator, EmulatorServer], tmp_path: Path) -> None:
    emulator, _ = marketo
    cache = SchemaCache(FileCache(tmp_path), ttl_s=3600)
    for _ in range(3):  # three runs, each with a connector of its own
        with _marketo(marketo, cache) as connector:
            assert "email" in connector.stream("leads").fields
    assert emulator.calls.count(path_prefix=MK_DESCRIBE) == 1
    with _marketo(marketo, cache) as connector:
        connector.check()
    assert emulator.calls.count(path_prefix=MK_DESCRIBE) == 2
    with _marketo(marketo, SchemaCache(FileCache(tmp_path), ttl_s=0)) as connector:
        connector.stream("leads")
    assert emulator.calls.count(path_prefix=MK_DESCRIBE) == 3


def _plant_ghost_field(connector: MarketoConnector, cache: SchemaCache) -> None:
    """Make the cached describe name a field Marketo does not have (deleted since)."""
    describe = connector.api.describe_leads()
    describe.append({"id": 99999, "displayName": "Ghost", "dataType": "string",
                     "rest": {"name": "ghostField", "readOnly": False}})
    scoped = connector.context.schemas(f"marketo:{connector.config['base_url']}:"
                                       f"{connector.config['client_id']}")
    scoped.invalidate("leads")
    scoped.get_or_fetch("leads", lambda: describe)


def test_marketo_read_with_a_stale_field_describes_again_and_goes_on(
        marketo: tuple[MarketoEmulator, EmulatorServer]) -> None:
    emulator, _ = marketo
    cache = SchemaCache(MemoryCache())
    with _marketo(marketo, cache) as setup:
        _plant_ghost_field(setup, cache)
    mark = emulator.calls.last_seq
    with _marketo(marketo, cache) as connector:
        assert "ghostField" in connector.stream("leads").fields
        records = [r for p in connector.read("leads", None) for r in p.records]
        assert len(records) == 50 and "ghostField" not in records[0]
        assert "ghostField" not in connector.stream("leads").fields
    assert len(emulator.calls.list(path_prefix=MK_DESCRIBE, since=mark)) == 1
    with _marketo(marketo, cache) as connector:  # the fresh describe is the cached one now
        assert "ghostField" not in connector.stream("leads").fields
    assert len(emulator.calls.list(path_prefix=MK_DESCRIBE, since=mark)) == 1


def test_marketo_field_error_from_a_fresh_describe_is_reported(
        marketo: tuple[MarketoEmulator, EmulatorServer]) -> None:
    with _marketo(marketo, None, fields=["email", "ghostField"]) as connector, \
            pytest.raises(ConfigurationError, match="ghostField"):
        connector.stream("leads")


def test_marketo_write_refused_for_an_unknown_field_forgets_the_describe(
        marketo: tuple[MarketoEmulator, EmulatorServer]) -> None:
    emulator, _ = marketo
    cache = SchemaCache(MemoryCache())
    with _marketo(marketo, cache) as setup:
        _plant_ghost_field(setup, cache)
    with _marketo(marketo, cache) as connector:
        connector.stream("leads")
        mark = emulator.calls.last_seq
        [result] = connector.write("leads", [WriteOp(WriteMode.UPDATE, {"ghostField": "x"},
                                                     id="3")])
        assert not result.ok and result.error is not None and result.error.code == "1006"
        assert "ghostField" not in connector.stream("leads").fields
    assert len(emulator.calls.list(path_prefix=MK_DESCRIBE, since=mark)) == 1


# -- Salesforce -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls(tmp_path_factory.mktemp("describe-cache-tls"))


@pytest.fixture()
def salesforce(tls: TLSFiles) -> Iterator[tuple[SalesforceEmulator, str]]:
    emu = SalesforceEmulator(SalesforceSettings(size=20))
    with EmulatorServer(emu.asgi(), name="salesforce", port=0, tls=tls) as server:
        yield emu, server.url


def _salesforce(org: tuple[SalesforceEmulator, str], tls: TLSFiles,
                cache: SchemaCache | None) -> SalesforceConnector:
    emu, url = org
    creds = emu.settings.credentials
    return SalesforceConnector(
        {"login_url": url, "client_id": creds.client_id, "client_secret": creds.client_secret,
         "timeout_s": 5, "retry_base_delay_s": 0.01},
        context=ConnectorContext("sf", ledger=MemoryLedger(), ca_bundle=str(tls.ca_path),
                                 schema_cache=cache))


def _sf_describes(emu: SalesforceEmulator) -> int:
    return sum(1 for c in emu.calls.list() if c.path.endswith("/describe/"))


def _cached_lead_describe(salesforce: tuple[SalesforceEmulator, str], tls: TLSFiles,
                          cache: SchemaCache, backend: KeyedCache) -> tuple[str, Any]:
    """Describe Lead once through ``cache``; its key in ``backend`` and the stored entry."""
    with _salesforce(salesforce, tls, cache) as sf:
        sf.stream("Lead")
    [key] = [k for k in backend.keys if k.endswith(":Lead")]
    stored = backend.get(key)
    assert stored is not None
    return key, stored


def test_salesforce_describes_each_object_once_across_runs(
        salesforce: tuple[SalesforceEmulator, str], tls: TLSFiles, tmp_path: Path) -> None:
    emu, _ = salesforce
    cache = SchemaCache(FileCache(tmp_path), ttl_s=3600)
    for _ in range(3):
        with _salesforce(salesforce, tls, cache) as sf:
            assert "Email" in sf.stream("Lead").fields
            records = [r for p in sf.read("Lead", None) for r in p.records]
            assert len(records) == 20
    assert _sf_describes(emu) == 1
    with _salesforce(salesforce, tls, cache) as sf:
        sf.stream("Contact")
    assert _sf_describes(emu) == 2


def test_salesforce_damaged_or_forgotten_entry_is_described_again(
        salesforce: tuple[SalesforceEmulator, str], tls: TLSFiles) -> None:
    emu, _ = salesforce
    backend = KeyedCache()
    cache = SchemaCache(backend)
    key, stored = _cached_lead_describe(salesforce, tls, cache, backend)
    backend.put(key, {"name": "Lead"}, stored[0])  # no field list
    with _salesforce(salesforce, tls, cache) as sf:
        assert "Email" in sf.stream("Lead").fields
    assert _sf_describes(emu) == 2
    namespace = key.removeprefix("schema:").removesuffix(":Lead")
    SchemaCache(backend, namespace=namespace).invalidate("Lead")
    with _salesforce(salesforce, tls, cache) as sf:
        sf.stream("Lead")
    assert _sf_describes(emu) == 3


# -- the project hands every connector a file cache under its state directory ------------------

def test_project_connectors_share_a_file_cache_and_a_connection_can_turn_it_off(
        marketo: tuple[MarketoEmulator, EmulatorServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    emulator, server = marketo
    creds = emulator.credentials()
    config = {"base_url": server.url, "client_id": creds["client_id"],
              "client_secret": creds["client_secret"], "munchkin_id": f"p-{uuid.uuid4()}"}
    monkeypatch.delenv("RENKEI_DESCRIBE_CACHE_TTL_S", raising=False)

    def run(settings: dict[str, Any]) -> None:
        project = Project(root=tmp_path, database_url=None, mappings_dir=tmp_path,
                          connections={"mk": {"type": "marketo", "config": config, **settings}})
        try:
            project.connector("mk").stream("leads")
        finally:
            project.close()

    run({})
    run({})
    assert emulator.calls.count(path_prefix=MK_DESCRIBE) == 1
    assert any((tmp_path / ".renkei" / "cache").iterdir())
    run({"describe_cache_ttl_s": 0})
    monkeypatch.setenv("RENKEI_DESCRIBE_CACHE_TTL_S", "0")
    run({})
    assert emulator.calls.count(path_prefix=MK_DESCRIBE) == 3
    assert os.stat(tmp_path / ".renkei" / "cache").st_mode & 0o077 == 0


def test_salesforce_field_deleted_since_the_describe_was_cached_is_described_again(
        salesforce: tuple[SalesforceEmulator, str], tls: TLSFiles) -> None:
    emu, _ = salesforce
    backend = KeyedCache()
    cache = SchemaCache(backend)
    key, stored = _cached_lead_describe(salesforce, tls, cache, backend)
    # The cached describe still lists a field an admin has deleted from the org since.
    describe = dict(stored[1])
    describe["fields"] = [*describe["fields"], {**describe["fields"][-1], "name": "Gone__c"}]
    backend.put(key, describe, stored[0])
    with _salesforce(salesforce, tls, cache) as sf, pytest.raises(ConnectorError) as caught:
        list(sf.read("Lead", None))
    assert getattr(caught.value, "vendor_code", None) == "INVALID_FIELD"
    assert backend.get(key) is None  # forgotten: the next run describes again
    with _salesforce(salesforce, tls, cache) as sf:
        assert len([r for p in sf.read("Lead", None) for r in p.records]) == 20
    assert _sf_describes(emu) == 2
