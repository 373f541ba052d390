"""The Salesforce connector against the Salesforce emulator, over real HTTPS with the sandbox CA."""

from __future__ import annotations

import gc
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from connectors.salesforce import SalesforceConnector
from connectors.sdk import (
    AuthenticationError,
    ConfigurationError,
    ConnectorContext,
    ErrorCategory,
    MemoryLedger,
    QuotaExhaustedError,
    VendorUnavailableError,
    WriteMode,
    WriteOp,
)
from sandbox.core.faults import FaultRule
from sandbox.core.server import EmulatorServer
from sandbox.core.tls import TLSFiles, make_tls
from sandbox.salesforce import FailurePattern, SalesforceEmulator, SalesforceSettings

# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls(tmp_path_factory.mktemp("sf-connector-tls"))


class Org:
    """A running emulator and a way to build connectors against it."""

    def __init__(self, emu: SalesforceEmulator, url: str, tls: TLSFiles, stack: ExitStack,
                 counter: Iterator[int]):
        self.emu, self.url, self.tls = emu, url, tls
        self._stack, self._counter = stack, counter

    def connector(self, ledger: MemoryLedger | None = None, *, ca: bool = True,
                  **overrides: Any) -> SalesforceConnector:
        creds = self.emu.settings.credentials
        config: dict[str, Any] = {
            "login_url": self.url, "client_id": creds.client_id,
            "client_secret": creds.client_secret, "retry_base_delay_s": 0.01,
            "timeout_s": 5, **overrides}
        context = ConnectorContext(f"sf{next(self._counter)}", ledger=ledger or MemoryLedger(),
                                   ca_bundle=str(self.tls.ca_path) if ca else None)
        connector = SalesforceConnector(config, context=context)
        self._stack.callback(connector.close)
        return connector

    def calls(self, since: int = 0) -> list[tuple[str, str, int]]:
        return [(c.method, c.path, c.status) for c in self.emu.calls.list(since=since)]


def _close_before_stop() -> None:
    # A response still referenced (pytest.raises keeps tracebacks) keeps its socket open
    # past close(); the server would then stop with a TLS connection it cannot finish.
    gc.collect()
    time.sleep(0.05)


@pytest.fixture
def make_org(tls: TLSFiles) -> Iterator[Callable[..., Org]]:
    counter = itertools.count()
    with ExitStack() as stack:
        def start(**settings: Any) -> Org:
            emu = SalesforceEmulator(SalesforceSettings(**settings))
            server = stack.enter_context(
                EmulatorServer(emu.asgi(), name="salesforce", port=0, tls=tls))
            org = Org(emu, server.url, tls, stack, counter)
            stack.callback(_close_before_stop)
            return org
        yield start


@pytest.fixture
def org(make_org: Callable[..., Org]) -> Org:
    return make_org(size=300)


def _ops(n: int, start: int = 0) -> list[WriteOp]:
    return [WriteOp(WriteMode.CREATE, {"LastName": f"山田{i}", "FirstName": "太郎",
                                       "Company": "株式会社テスト", "Email": f"user{i}@test.co.jp"},
                    ref=f"lead:{i}") for i in range(start, start + n)]


# -- streams and check ----------------------------------------------------------------------


def test_streams_come_from_describe_and_are_cached(org: Org) -> None:
    sf = org.connector(external_id_field="Renkei_Id__c")
    lead = sf.stream("Lead")
    assert lead.primary_key == ("Id",) and lead.cursor_field == "SystemModstamp"
    assert (lead.page_size, lead.write_batch_size) == (2000, 200)
    assert WriteMode.UPSERT in lead.write_modes
    assert lead.writable_fields is not None
    assert {"LastName", "Company", "Email", "LastNameKana__c", "Renkei_Id__c"} <= lead.writable_fields
    assert not {"Id", "Name", "SystemModstamp", "CreatedDate"} & lead.writable_fields
    assert None in lead.fields["Status"]["enum"] and "Open - Not Contacted" in lead.fields["Status"]["enum"]
    assert "enum" not in lead.fields["LeadSource"]  # an open picklist accepts other values
    assert lead.fields["LastName"]["maxLength"] == 80
    assert lead.schema["x-required-on-create"] == ["Company", "LastName"]
    assert [s.name for s in sf.streams()] == ["Lead", "Contact"]
    describes = [c for c in org.emu.calls.list() if c.path.endswith("/describe/")]
    assert len(describes) == 2  # once per object, however often streams() is asked


def test_check_logs_in_and_verifies_the_external_id_field(org: Org) -> None:
    org.connector(external_id_field="Renkei_Id__c").check()
    with pytest.raises(ConfigurationError, match="Nope__c"):
        org.connector(external_id_field="Nope__c").check()


def test_unknown_stream_is_a_configuration_error(org: Org) -> None:
    with pytest.raises(ConfigurationError):
        list(org.connector().read("Opportunity", None))


def test_password_flow(org: Org) -> None:
    creds = org.emu.settings.credentials
    sf = org.connector(username=creds.username, password=creds.password,
                       security_token=creds.security_token)
    sf.check()
    with pytest.raises(AuthenticationError, match="authentication failure"):
        org.connector(username=creds.username, password="wrong").check()


# -- reading --------------------------------------------------------------------------------


def test_incremental_read_resumes_from_state_and_a_second_read_returns_nothing_new(
        make_org: Callable[..., Org]) -> None:
    org = make_org(size=2500)
    sf = org.connector()
    pages = list(sf.read("Lead", None))
    assert [len(p.records) for p in pages] == [2000, 500]
    ids = [r["Id"] for p in pages for r in p.records]
    assert len(set(ids)) == 2500
    stamps = [r["SystemModstamp"] for p in pages for r in p.records]
    assert stamps == sorted(stamps)
    assert pages[0].state["since"] and pages[0].state["ids_at_since"] == [ids[1999]]

    resumed = list(sf.read("Lead", pages[0].state))
    assert [r["Id"] for p in resumed for r in p.records] == ids[2000:]
    assert list(sf.read("Lead", pages[-1].state)) == []

    edited = org.emu.edit_record("Lead", ids[10], {"Title": "営業部長"})
    changed = list(sf.read("Lead", pages[-1].state))
    assert [[r["Id"] for r in p.records] for p in changed] == [[ids[10]]]
    assert changed[0].records[0]["Title"] == "営業部長"
    assert changed[0].state["since"].startswith(edited["SystemModstamp"][:19])
    assert list(sf.read("Lead", changed[-1].state)) == []


def test_deletions_come_back_as_tombstones(org: Org) -> None:
    sf = org.connector()
    first = list(sf.read("Contact", None))
    gone = first[0].records[0]["Id"]
    assert org.emu.org.delete("Contact", gone).ok
    pages = list(sf.read("Contact", first[-1].state))
    assert [p.deleted for p in pages] == [[gone]] and pages[0].records == []


def test_token_expiry_mid_run_recovers_with_one_new_login(make_org: Callable[..., Org]) -> None:
    org = make_org(size=2500)
    ledger = MemoryLedger()
    sf = org.connector(ledger)
    org.emu.faults.add(FaultRule("token_expired", path="/query/01g", times=1))
    pages = list(sf.read("Lead", None))
    assert sum(len(p.records) for p in pages) == 2500
    statuses = [(c.kind, c.status) for c in ledger.calls()]
    assert statuses.count(("auth", 200)) == 2 and ("read", 401) in statuses


def test_server_errors_resets_and_cut_off_bodies_are_retried_for_reads(
        make_org: Callable[..., Org]) -> None:
    org = make_org(size=2500)
    sf = org.connector()
    sf.streams()
    org.emu.faults.add(FaultRule("server_error", path="/query", times=2))
    org.emu.faults.add(FaultRule("reset", path="/query/01g", times=1))
    org.emu.faults.add(FaultRule("truncate", path="/query/01g", times=1, after=1))
    pages = list(sf.read("Lead", None))
    assert sum(len(p.records) for p in pages) == 2500
    assert [s for _, p, s in org.calls() if "/query" in p][:3] == [503, 503, 200]


def test_concurrency_limit_is_waited_out(org: Org) -> None:
    sf = org.connector()
    sf.streams()
    org.emu.faults.add(FaultRule("concurrency", path="/query", times=1))
    assert sum(len(p.records) for p in sf.read("Lead", None)) == 300


def test_request_limit_exceeded_is_quota_exhausted_and_not_retried(
        make_org: Callable[..., Org]) -> None:
    org = make_org(size=100, daily_api_limit=3)
    sf = org.connector(max_org_usage=1.0)
    sf.streams()  # two describes: 2 of 3 calls
    list(sf.read("Lead", None))
    before = org.emu.calls.last_seq
    with pytest.raises(QuotaExhaustedError) as info:
        list(sf.read("Lead", None))
    assert info.value.vendor_code == "REQUEST_LIMIT_EXCEEDED"
    assert [s for _, _, s in org.calls(before)] == [403]
    assert sf.api_usage is not None and (sf.api_usage.used, sf.api_usage.limit) == (3, 3)


def test_org_usage_ceiling_stops_before_sending(make_org: Callable[..., Org]) -> None:
    org = make_org(size=100, daily_api_limit=10)
    sf = org.connector(max_org_usage=0.5)
    org.emu.usage.set_used(3)
    sf.streams()  # two describes: 5 of 10 used now
    before = org.emu.calls.last_seq
    with pytest.raises(QuotaExhaustedError, match="stops at 50%"):
        list(sf.read("Lead", None))
    assert org.calls(before) == []


def test_quota_fault_is_quota_exhausted(org: Org) -> None:
    sf = org.connector()
    sf.streams()
    org.emu.faults.add(FaultRule("quota", path="/query", times=1))
    with pytest.raises(QuotaExhaustedError):
        list(sf.read("Lead", None))


# -- writing --------------------------------------------------------------------------------


def test_450_creates_take_exactly_3_write_calls_and_the_ledger_matches_the_emulator(
        org: Org) -> None:
    ledger = MemoryLedger()
    sf = org.connector(ledger, external_id_field="Renkei_Id__c")
    sf.streams()
    before_emu, before_ledger = org.emu.calls.last_seq, len(ledger.calls())
    results = sf.write("Lead", _ops(450))
    assert all(r.ok and r.created for r in results) and len({r.id for r in results}) == 450
    writes = [c for c in ledger.calls()[before_ledger:] if c.kind == "write"]
    assert len(writes) == 3
    assert {(c.method, c.path) for c in writes} == {
        ("PATCH", "/services/data/v59.0/composite/sobjects/Lead/Renkei_Id__c")}
    assert [(c.method, c.path, c.status) for c in ledger.calls()[before_ledger:]] == \
        org.calls(before_emu)

    again = sf.write("Lead", _ops(450))  # a rerun updates, it does not duplicate
    assert [r.id for r in again] == [r.id for r in results]
    assert not any(r.created for r in again)
    assert org.emu.org.store("Lead").live_count() == 450  # type: ignore[union-attr]


def test_without_an_external_id_field_creates_are_plain_posts(org: Org) -> None:
    ledger = MemoryLedger()
    sf = org.connector(ledger)
    results = sf.write("Lead", _ops(3))
    assert all(r.ok and r.created for r in results)
    assert [(c.method, c.path) for c in ledger.calls() if c.kind == "write"] == [
        ("POST", "/services/data/v59.0/composite/sobjects")]


def test_updates_and_upserts(org: Org) -> None:
    sf = org.connector(external_id_field="Renkei_Id__c")
    [created] = sf.write("Lead", _ops(1))
    assert created.id is not None
    results = sf.write("Lead", [
        WriteOp(WriteMode.UPDATE, {"Title": "部長"}, id=created.id),
        WriteOp(WriteMode.UPSERT, {"Renkei_Id__c": "lead:0", "Department__c": "営業部"}),
        WriteOp(WriteMode.UPSERT, {"LastName": "新規", "Company": "B社"}, ref="lead:new"),
        WriteOp(WriteMode.UPDATE, {"Title": "x"}),
    ])
    assert [(r.ok, r.created) for r in results] == [(True, False), (True, False), (True, True),
                                                    (False, False)]
    assert results[3].error is not None and results[3].error.category == ErrorCategory.CONFIGURATION
    record = org.emu.get_record("Lead", created.id)
    assert record is not None and (record["Title"], record["Department__c"]) == ("部長", "営業部")


def test_per_record_failures_are_classified_in_order(make_org: Callable[..., Org]) -> None:
    locked = FailurePattern("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this "
                            "record", field="LastName", pattern="^LOCKED$")
    org = make_org(size=300, failures=[locked])
    sf = org.connector()
    existing = next(iter(sf.read("Lead", None))).records
    deleted_id = existing[1]["Id"]
    org.emu.org.delete("Lead", deleted_id)
    ops = [
        WriteOp(WriteMode.CREATE, {"LastName": "ok", "Company": "c"}),
        WriteOp(WriteMode.CREATE, {"LastName": "dup", "Company": "c",
                                   "Email": existing[0]["Email"].upper()}),
        WriteOp(WriteMode.CREATE, {"LastName": "no company"}),
        WriteOp(WriteMode.CREATE, {"LastName": "x" * 81, "Company": "c"}),
        WriteOp(WriteMode.CREATE, {"LastName": "x", "Company": "c", "Rating": "Lukewarm"}),
        WriteOp(WriteMode.CREATE, {"LastName": "x", "Company": "c", "Email": "no-at-sign"}),
        WriteOp(WriteMode.CREATE, {"LastName": "LOCKED", "Company": "c"}),
    ]
    results = sf.write("Lead", ops)
    summary = [(r.ok, r.error.category if r.error else None, r.error.code if r.error else None,
                r.error.retriable if r.error else None) for r in results]
    assert summary == [
        (True, None, None, None),
        (False, ErrorCategory.DUPLICATE, "DUPLICATES_DETECTED", False),
        (False, ErrorCategory.VALIDATION, "REQUIRED_FIELD_MISSING", False),
        (False, ErrorCategory.VALIDATION, "STRING_TOO_LONG", False),
        (False, ErrorCategory.VALIDATION, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", False),
        (False, ErrorCategory.VALIDATION, "INVALID_EMAIL_ADDRESS", False),
        (False, ErrorCategory.CONFLICT, "UNABLE_TO_LOCK_ROW", True),
    ]
    assert results[2].error is not None and results[2].error.fields == ("Company",)
    updates = sf.write("Lead", [
        WriteOp(WriteMode.UPDATE, {"Title": "x"}, id=deleted_id),
        WriteOp(WriteMode.UPDATE, {"Title": "x"}, id="00Q5j000009ZZZZAAA"),
    ])
    assert [(r.error.category, r.error.code) for r in updates if r.error] == [
        (ErrorCategory.NOT_FOUND, "ENTITY_IS_DELETED"),
        (ErrorCategory.NOT_FOUND, "INVALID_CROSS_REFERENCE_KEY")]


def test_a_failed_plain_create_is_not_resent(org: Org) -> None:
    sf = org.connector()
    sf.streams()
    org.emu.faults.add(FaultRule("server_error", path="/composite/sobjects", times=1))
    before = org.emu.calls.last_seq
    with pytest.raises(VendorUnavailableError):
        sf.write("Lead", _ops(2))
    assert org.calls(before) == [("POST", "/services/data/v59.0/composite/sobjects", 503)]
    assert org.emu.org.store("Lead").live_count() == 0  # type: ignore[union-attr]


def test_a_timed_out_create_is_not_resent_but_an_upsert_by_external_id_is(org: Org) -> None:
    plain = org.connector(timeout_s=0.3)
    upsert = org.connector(timeout_s=0.3, external_id_field="Renkei_Id__c")
    plain.streams()
    upsert.streams()
    org.emu.faults.add(FaultRule("timeout", path="/composite/sobjects", times=1, delay_s=0.6))
    with pytest.raises(VendorUnavailableError, match="timeout"):
        plain.write("Lead", _ops(2))
    org.emu.faults.add(FaultRule("timeout", path="/composite/sobjects", times=1, delay_s=0.6))
    results = upsert.write("Lead", _ops(2))
    assert all(r.ok and r.created for r in results)
    time.sleep(0.7)  # the emulator logs a timed-out call when it finally answers
    posts = [c for c in org.emu.calls.list() if c.path.endswith("/composite/sobjects")]
    patches = [c for c in org.emu.calls.list() if "/composite/sobjects/Lead/" in c.path]
    assert [c.status for c in posts] == [504]
    assert sorted(c.status for c in patches) == [200, 504]


# -- TLS and secrets ------------------------------------------------------------------------


def test_default_verification_without_the_sandbox_ca_fails(org: Org) -> None:
    ledger = MemoryLedger()
    sf = org.connector(ledger, ca=False)
    with pytest.raises(ConfigurationError, match="TLS verification failed"):
        sf.check()
    assert len(ledger.calls()) == 1  # not retried: a certificate does not heal
    assert org.emu.calls.list() == []


def test_secrets_never_appear_in_reprs_exceptions_or_logs(
        org: Org, caplog: pytest.LogCaptureFixture) -> None:
    creds = org.emu.settings.credentials
    caplog.set_level(logging.DEBUG)
    sf = org.connector(username=creds.username, password=creds.password,
                       security_token=creds.security_token, external_id_field="Renkei_Id__c")
    sf.check()
    org.emu.faults.add(FaultRule("token_expired", path="/query", times=1))
    list(sf.read("Lead", None))
    sf.write("Lead", _ops(2) + [WriteOp(WriteMode.CREATE, {"LastName": "x"}, ref="lead:bad")])
    errors: list[Exception] = []
    for bad in ({"client_secret": "wrong-" + creds.client_secret},
                {"password": creds.password + "-wrong"}):
        try:
            org.connector(username=creds.username, **bad).check()
        except AuthenticationError as exc:
            errors.append(exc)
    org.emu.faults.add(FaultRule("server_error", path="/composite", times=1))
    plain = org.connector(username=creds.username, password=creds.password,
                          security_token=creds.security_token)
    try:
        plain.write("Lead", _ops(1, start=9))  # a plain create is not resent after a 503
    except VendorUnavailableError as exc:
        errors.append(exc)
    assert len(errors) == 3
    tokens = [t for t in org.emu.sessions._sessions]  # every session the org issued
    secrets = [creds.client_secret, creds.password, creds.security_token, *tokens]
    exposed = [repr(sf), str(sf.config), repr(sf.config), repr(plain), caplog.text,
               *(f"{e!s} {e!r} {e.__cause__!r} {e.__context__!r}" for e in errors)]
    for text in exposed:
        for secret in secrets:
            assert secret not in text
    with pytest.raises(ConfigurationError) as info:
        SalesforceConnector({"login_url": org.url, "client_id": "x", "client_secret": 12345})
    assert "12345" not in str(info.value)


def test_config_is_validated(org: Org) -> None:
    with pytest.raises(ConfigurationError, match="client_secret"):
        SalesforceConnector({"login_url": org.url, "client_id": "x"})
    with pytest.raises(ConfigurationError, match="extenal_id_field"):
        SalesforceConnector({"login_url": org.url, "client_id": "x", "client_secret": "y",
                             "extenal_id_field": "Renkei_Id__c"})
    with pytest.raises(ConfigurationError, match="api_version"):
        SalesforceConnector({"login_url": org.url, "client_id": "x", "client_secret": "y",
                             "api_version": "v59.0"})


def test_api_usage_is_read_from_every_response(org: Org) -> None:
    sf = org.connector()
    assert sf.api_usage is None
    sf.streams()
    usage = sf.api_usage
    assert usage is not None and usage.limit == 100_000 and usage.used == 2
    list(sf.read("Lead", None))
    assert sf.api_usage is not None and sf.api_usage.used == 3


def test_page_state_is_plain_json(org: Org) -> None:
    import json

    for page in org.connector().read("Lead", None):
        assert json.loads(json.dumps(page.state)) == page.state


def test_connector_root_path_is_stable(tmp_path: Path) -> None:
    # The engine finds the connector by this import path (entry point target).
    assert SalesforceConnector.name == "salesforce"
    assert SalesforceConnector.__module__ == "connectors.salesforce.connector"
