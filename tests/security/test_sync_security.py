"""Security of the lead sync (issue #9): secrets never leave the connection config, personal
data is masked where masking is promised, TLS is verified, mapping expressions cannot reach
the machine, and secrets come only from the environment or from private files."""

from __future__ import annotations

import logging
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.sdk.errors import ConnectorError
from renkei.engine.runner import SyncRunner
from renkei.mapping.expressions import ExpressionError, system_side
from renkei.project import Project, ProjectError, _resolve
from renkei.redact import mask_text
from renkei.store import Store
from renkei.store.schema import api_calls, dead_letters, records, runs
from sandbox.core.server import EmulatorServer
from sandbox.marketo.app import MarketoEmulator
from sandbox.marketo.config import MarketoConfig
from tests.faults.support import REPO, World, make_world, norm_email

pytestmark = pytest.mark.e2e


def _canary(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


@pytest.fixture
def secret_world(tmp_path: Path) -> Any:
    mk_secret, sf_secret = _canary("mksecret"), _canary("sfsecret")
    world = make_world(tmp_path, f"sqlite:///{tmp_path / 'renkei.db'}",
                       mk_secret=mk_secret, sf_secret=sf_secret)
    yield world, (mk_secret, sf_secret)
    world.close()


def _everything_stored(world: World) -> str:
    _, store = world.open()
    with store.transaction() as tx:
        rows = [repr(list(tx.conn.execute(select(table))))
                for table in (api_calls, runs, dead_letters)]
    return "\n".join(rows)


def _env_project(world: World, monkeypatch: pytest.MonkeyPatch, mk: str, sf: str) -> Project:
    """A project whose secrets come from the environment, as the README prescribes."""
    monkeypatch.setenv("RENKEI_T_MK_SECRET", mk)
    monkeypatch.setenv("RENKEI_T_SF_SECRET", sf)
    connections = world.connections()
    connections["marketo"]["config"]["client_secret"] = "${RENKEI_T_MK_SECRET}"
    connections["salesforce"]["config"]["client_secret"] = "${env:RENKEI_T_SF_SECRET}"
    project = Project(root=world.tmp, database_url=world.db_url,
                      mappings_dir=world.mappings_dir, ca_bundle=str(world.tls.ca_path),
                      connections=connections)
    world._open.append((project, Store.open(world.db_url)))  # closed with the world
    return project


def test_secrets_and_personal_data_never_leak_from_a_faulty_run(
        secret_world: tuple[World, tuple[str, str]], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    world, secrets = secret_world
    caplog.set_level(logging.DEBUG)
    # personal data Marketo refuses, so it travels through errors and dead letters
    rows, _ = world.sf.list_records("Lead", offset=0, limit=10_000)
    mk_emails = {norm_email(r["email"]) for r in world.mk.list_records("leads", offset=0,
                                                                       limit=10_000)[0]}
    pii_local = _canary("piicanary")
    victim = next(r for r in rows if norm_email(r["Email"]) not in mk_emails)
    world.sf.edit_record("Lead", str(victim["Id"]), {"Email": f"{pii_local}@reject.invalid",
                                                     "Phone": "03-9876-5432"})
    world.fault("salesforce", kind="server_error", status=500, path="query", times=2)
    world.fault("salesforce", kind="token_expired", path="composite", times=1)
    world.fault("marketo", kind="server_error", path="leadchanges", times=1)
    world.fault("marketo", kind="token_expired", path="leads.json", times=1)
    produced: list[str] = []
    store = world.open()[1]
    summaries = [SyncRunner(_env_project(world, monkeypatch, *secrets), store).sync("lead")
                 for _ in range(2)]
    # and a run whose credentials are refused outright
    wrong = (_canary("wrongmk"), _canary("wrongsf"))
    project = _env_project(world, monkeypatch, *wrong)
    errors: list[BaseException] = []
    try:
        summaries.append(SyncRunner(project, store).sync("lead"))
        for name in ("marketo", "salesforce"):
            try:
                project.connector(name).check()
            except ConnectorError as exc:
                errors.append(exc)
    finally:
        project.close()
    assert len(errors) == 2 and summaries[-1].status == "partial"
    for s in summaries:
        produced += [repr(s), str(s.as_json()), *(f.message for st in s.stats for f in st.failures)]
    for err in errors:
        produced += [str(err), repr(err), repr(err.__context__), repr(err.__cause__),
                     repr(vars(err))]
    produced += [repr(project), repr(project.connector("marketo")),
                 repr(project.connector("salesforce")), caplog.text,
                 *(r.getMessage() for r in caplog.records), _everything_stored(world)]
    blob = "\n".join(produced)
    for secret in (*secrets, *wrong):
        assert secret not in blob
    # the canary really travelled: into the hub, and refused by Marketo into a dead letter
    with store.transaction() as tx:
        assert pii_local in repr(list(tx.conn.execute(select(records))))
        assert any(d.mapping == "marketo-leads" for d in tx.dead_letters.all_open())
    # logs are masked: neither the address nor the phone appears in a log line
    assert pii_local not in caplog.text
    assert "9876-5432" not in caplog.text and "98765432" not in caplog.text
    # the artifact text builders' masking (flows/sync.py masks with mask_text)
    reasons = [mask_text(f.message) + mask_text(f.item) for s in summaries for st in s.stats
               for f in st.failures]
    assert not any(pii_local in r for r in reasons)


def test_tls_is_verified_without_the_sandbox_ca(tmp_path: Path) -> None:
    world = make_world(tmp_path, f"sqlite:///{tmp_path / 'renkei.db'}")
    tls_mk = EmulatorServer(MarketoEmulator(MarketoConfig(size=0, munchkin_id="tls")).asgi(),
                            name="marketo-tls", tls=world.tls)
    tls_mk.start()
    try:
        connections = world.connections()
        connections["marketo"]["config"]["base_url"] = tls_mk.url
        connections["marketo"]["config"]["retry_attempts"] = 1
        project = Project(root=tmp_path, database_url=None, mappings_dir=world.mappings_dir,
                          ca_bundle=None, connections=connections)
        try:
            for name in ("marketo", "salesforce"):
                with pytest.raises(ConnectorError) as caught:
                    project.connector(name).check()
                assert re.search(r"TLS|certificate|connect", str(caught.value)), str(caught.value)
        finally:
            project.close()
    finally:
        tls_mk.stop()
        world.close()


def test_no_code_turns_tls_verification_off() -> None:
    off = re.compile(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|"
                     r"_create_unverified_context")
    found = [f"{path}:{n}" for top in ("renkei", "connectors", "flows", "sandbox")
             for path in sorted((REPO / top).rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if off.search(line)]
    assert found == []


@pytest.mark.parametrize("expression", [
    "__import__('os').system('id')",
    "`{\"a\": 1}`.__class__",
    "open('/etc/passwd')",
    "read_file('/etc/passwd')",
    "eval(`\"1+1\"`)",
    "env('HOME')",
    "a.__class__.__mro__",
    "a.b.c.d.e",   # regression: deep paths used to crash the compiler with a bare ValueError
])
def test_hostile_jmespath_cannot_run_code_or_read_files(expression: str) -> None:
    try:
        side = system_side(expression)
    except ExpressionError as exc:
        assert "jmespath" in str(exc)
        return
    # it parsed (as a harmless field path): evaluating it only ever reads the record
    assert side.getter is not None
    try:
        value = side.getter({"a": {"__class__": "x"}})
    except Exception as exc:  # noqa: BLE001 - unknown functions fail at evaluation
        assert "function" in str(exc).lower() or "unknown" in str(exc).lower()
        return
    assert value in (None, "x")


def test_secret_files_must_be_private(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-file-value\n", encoding="utf-8")
    for mode in (0o644, 0o640, 0o604):
        secret.chmod(mode)
        with pytest.raises(ProjectError, match=r"readable by others.*chmod 600") as caught:
            _resolve({"client_secret": f"${{file:{secret}}}"}, "connections.x.config")
        assert "s3cr3t" not in str(caught.value)
    secret.chmod(0o600)
    assert _resolve({"k": f"${{file:{secret}}}"}, "c")["k"] == "s3cr3t-file-value"
    with pytest.raises(ProjectError, match="does not exist"):
        _resolve({"k": f"${{file:{tmp_path / 'missing'}}}"}, "c")


def test_missing_environment_secret_names_the_key_not_a_value(monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    monkeypatch.delenv("RENKEI_TEST_UNSET_SECRET", raising=False)
    with pytest.raises(ProjectError, match=r"connections\.m\.config\.client_secret: environment "
                                           r"variable RENKEI_TEST_UNSET_SECRET is not set"):
        _resolve({"client_secret": "${RENKEI_TEST_UNSET_SECRET}"}, "connections.m.config")
    monkeypatch.setenv("RENKEI_TEST_SET_SECRET", "from-env")
    assert _resolve({"s": "${RENKEI_TEST_SET_SECRET}"}, "c") == {"s": "from-env"}
    assert os.environ["RENKEI_TEST_SET_SECRET"] == "from-env"
