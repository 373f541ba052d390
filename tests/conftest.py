"""Shared fixtures: state stores on SQLite and on a real PostgreSQL server.

PostgreSQL: set ``RENKEI_TEST_PG_URL`` (``postgresql://user@host:port/db``, a role allowed to
create databases) or let the session start a private cluster with the Debian binaries
(``initdb``/``pg_ctl``) in a temporary directory. Each test gets a fresh database.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from renkei.store import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path:
        return path
    pytest.fail(f"PostgreSQL is not installed ({name} not found): install the `postgresql` "
                "Debian package or set RENKEI_TEST_PG_URL")


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; CI runs as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _traversable_tmp() -> str:
    """A temp dir the postgres user can reach: some machines make /tmp root-only (0700)."""
    for candidate in (tempfile.gettempdir(), "/var/tmp"):
        if os.path.isdir(candidate) and os.stat(candidate).st_mode & 0o001:
            return candidate
    return tempfile.gettempdir()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a PostgreSQL server whose role may create databases."""
    url = os.environ.get("RENKEI_TEST_PG_URL")
    if url:
        yield url
        return
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="renkei-test-pg-", dir=_traversable_tmp()))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U",
                                 "postgres", "--no-sync"]), check=True, capture_output=True)
    port = _free_port()
    subprocess.run(_as_postgres([
        _pg_bin("pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
        (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
         "-c synchronous_commit=off -c full_page_writes=off"), "start"]),
        check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate",
                                     "stop"]), check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the PostgreSQL server, dropped after the test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = pg_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for each backend the hub supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'renkei.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# -- the fault, crash and inbox suites' counts, printed once per run (issue #9) -------------

def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand this worker's counts to the controller."""
    from tests.tally import TALLY

    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["renkei_tally"] = dict(TALLY.counts)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller: add up what each worker counted."""
    from tests.tally import TALLY

    TALLY.merge(getattr(node, "workeroutput", {}).get("renkei_tally", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.tally import TALLY

    counts = TALLY.counts
    if not counts:
        return
    terminalreporter.write_sep("-", "renkei fault, crash and inbox suites")
    terminalreporter.write_line(
        f"faults injected: {counts['faults_injected']}, runs killed: {counts['runs_killed']}, "
        f"receivers killed: {counts['receivers_killed']}, "
        f"records checked: {counts['records_checked']}, mismatches: {counts['mismatches']}")
