"""The inbox promise (issue #5, #9): kill the receiver with SIGKILL mid-burst and restart it —
every event that was answered 200 is in the inbox exactly once, and the inbox is applied to
the hub exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from connectors.memory import MemoryDataset
from renkei.project import Project
from renkei.store import Store
from renkei.store import schema as t
from renkei.webhooks import process_inbox
from tests.engine.harness import CRM_SCHEMA, crm_mapping
from tests.tally import TALLY

SECRET = "inbox-test-secret-5b7c"
EVENTS = 1200
KILL_AFTER = 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _project(tmp: Path, db_url: str, dataset: str) -> Path:
    (tmp / "mappings").mkdir()
    (tmp / "mappings" / "crm-leads.yaml").write_text(crm_mapping(), encoding="utf-8")
    (tmp / "renkei.yaml").write_text(json.dumps({
        "database": db_url, "mappings": "mappings",
        "connections": {"crm": {"type": "memory", "config": {"dataset": dataset}}},
        "webhooks": {"crm": {"verify": "hmac", "secret": "${INBOX_TEST_SECRET}",
                             "mapping": "crm-leads", "records": "record"}},
    }), encoding="utf-8")
    return tmp


def _event(i: int) -> bytes:
    return json.dumps({"id": f"evt-{i:05d}", "type": "UPDATE_RECORD", "record": {
        "id": f"lea-{i % 900:06d}", "Email": f"person{i % 900}@example.co.jp",
        "LastName": f"氏名{i % 900}", "Company": "サクラ精機",
        "updated_at": f"2026-11-20T10:{(i // 60) % 60:02d}:{i % 60:02d}Z"}},
        ensure_ascii=False).encode()


def _headers(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-renkei-timestamp": ts, "x-renkei-signature": "sha256=" + sig}


def _start(project: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "INBOX_TEST_SECRET": SECRET}
    log = project / "receiver.log"
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "renkei.cli", "--project", str(project), "serve",
             "--no-process", "--port", str(port)], env=env,
            stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text(encoding="utf-8"))
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("receiver did not start")


async def _burst(url: str, ids: list[int], proc: subprocess.Popen[bytes] | None,
                 kill_after: int | None) -> set[int]:
    """Send events 40 at a time; SIGKILL the receiver once ``kill_after`` were acknowledged."""
    acked: set[int] = set()
    sem = asyncio.Semaphore(40)
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        async def one(i: int) -> None:
            async with sem:
                body = _event(i)
                try:
                    r = await client.post(url, content=body, headers=_headers(body))
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acked.add(i)
                    if kill_after is not None and proc is not None and len(acked) == kill_after:
                        proc.send_signal(signal.SIGKILL)
        await asyncio.gather(*(one(i) for i in ids))
    return acked


def _inbox(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return [(r.event_id, r.status) for r in conn.execute(
            t.webhook_inbox.select().order_by(t.webhook_inbox.c.id))]


@pytest.mark.e2e
def test_sigkill_mid_burst_loses_and_duplicates_nothing(tmp_path: Path, db_url: str) -> None:
    dataset = f"inbox-{uuid.uuid4().hex[:8]}"
    ds = MemoryDataset.create(dataset)
    ds.add_stream("leads", CRM_SCHEMA)
    root = _project(tmp_path, db_url, dataset)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/webhooks/crm"

    proc = _start(root, port)
    acked = asyncio.run(_burst(url, list(range(EVENTS)), proc, KILL_AFTER))
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert KILL_AFTER <= len(acked) < EVENTS  # killed mid-burst

    store = Store.open(db_url)
    stored = {e for e, _ in _inbox(store)}
    assert {f"evt-{i:05d}" for i in acked} <= stored  # every 200 is in the inbox

    # The vendor redelivers what it saw fail, and a few it saw succeed.
    proc = _start(root, port)
    try:
        redeliver = [i for i in range(EVENTS) if i not in acked] + sorted(acked)[:50]
        acked |= asyncio.run(_burst(url, redeliver, None, None))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    rows = _inbox(store)
    assert len(acked) == EVENTS
    assert sorted(e for e, _ in rows) == [f"evt-{i:05d}" for i in range(EVENTS)]

    project = Project.load(root)
    os.environ["INBOX_TEST_SECRET"] = SECRET
    try:
        report = process_inbox(project, store)
        again = process_inbox(project, store)
    finally:
        del os.environ["INBOX_TEST_SECRET"]
        project.close()
    assert report.processed == EVENTS and again.processed == 0
    assert {s for _, s in _inbox(store)} == {"processed"}
    with store.transaction() as tx:
        leads = tx.records.page("lead", limit=100_000)
    emails = sorted(r.data["email"] for r in leads)
    assert emails == sorted(f"person{i}@example.co.jp" for i in range(900))
    store.close()
    TALLY.add(receivers_killed=1, records_checked=len(rows) + len(emails))
    print(f"\ninbox durability: {EVENTS} events, receiver killed after {KILL_AFTER} acks, "
          f"{len(rows)} stored, {len(emails)} leads, lost 0, duplicated 0")
