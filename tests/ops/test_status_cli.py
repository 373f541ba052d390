"""``renkei status`` through the real entry point after real sync runs (issue #8).

Two engine syncs on the memory connector write to a SQLite hub: the first creates leads with
one the CRM rejects (a failed record), the second stops the CRM mapping on rejected
credentials. ``renkei status`` (text) and ``renkei status --json`` (for ops scripts) must
tell, per mapping, the last run with its counts and stop reason, the cursor and the open
failed records, and carry the quota section (its contents belong to the quota tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.sdk.errors import AuthenticationError
from connectors.sdk.types import ErrorCategory, RecordError
from renkei.engine.stats import RunSummary
from renkei.store import Store
from tests.engine.harness import World, make_world

RENKEI = Path(sys.executable).parent / "renkei"
REJECTED = "rejected.person@example.co.jp"


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[tuple[Path, World, list[RunSummary]]]:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    store = Store.open(db)
    world = make_world(tmp_path, store)
    (tmp_path / "renkei.yaml").write_text(
        f"database: {db}\nmappings: {world.project.mappings_dir}\nconnections:\n"
        f"  ma: {{type: memory, config: {{dataset: {world.dataset.name}}}}}\n"
        f"  crm: {{type: memory, config: {{dataset: {world.dataset.name}}}}}\n",
        encoding="utf-8")
    for i in range(2):
        world.ma.create({"email": f"ok{i}@example.co.jp", "last_name": f"姓{i}", "company": "C"})
    world.ma.create({"email": REJECTED, "last_name": "R", "company": "C"})
    world.crm.reject = lambda v: (RecordError(ErrorCategory.VALIDATION, "Email: bad domain",
                                              "INVALID_EMAIL_ADDRESS")
                                  if v.get("Email") == REJECTED else None)
    first = world.sync()
    world.ma.create({"email": "late@example.co.jp", "last_name": "L", "company": "C"})
    world.crm.fail_write_calls = [AuthenticationError("CRM refused the client secret",
                                                      status=401)]
    second = world.sync()
    yield tmp_path, world, [first, second]
    world.close()
    store.close()


def _status(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    done = subprocess.run([str(RENKEI), "--project", str(root), "status", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_status_json_gives_last_run_cursor_and_failed_records_per_mapping(
        synced: tuple[Path, World, list[RunSummary]]) -> None:
    root, _, (first, second) = synced
    assert first.get("crm-leads", "out").failed == 1, "the planted rejection happened"
    assert second.get("crm-leads", "out").error, "the planted auth stop happened"
    doc: dict[str, Any] = json.loads(_status(root, "--json").stdout)

    assert [r["id"] for r in doc["runs"]] == [second.run_id, first.run_id]
    assert [r["status"] for r in doc["runs"]] == [second.status, first.status]
    rows = {(m["mapping"], m["direction"]): m for m in doc["mappings"]}
    assert set(rows) == {("ma-contacts", "in"), ("ma-contacts", "out"),
                         ("crm-leads", "in"), ("crm-leads", "out")}

    ma_in = rows[("ma-contacts", "in")]
    assert ma_in["last_run"]["run_id"] == second.run_id
    assert (ma_in["last_run"]["read"], ma_in["last_run"]["created"]) == (1, 1)
    assert ma_in["cursor"], "the inbound cursor is shown"
    assert ma_in["failed_records_open"] == 0 and ma_in["connection"] == "ma"

    crm_out = rows[("crm-leads", "out")]
    assert crm_out["last_run"]["run_id"] == second.run_id
    assert crm_out["last_run"]["run_status"] == second.status != "completed"
    assert crm_out["last_run"]["error"].startswith("AuthenticationError: CRM refused")
    assert crm_out["failed_records_open"] == 1
    assert isinstance(crm_out["cursor"]["seq"], int) and crm_out["cursor"]["seq"] > 0

    assert doc["dead_letters_open"] == 1 and doc["conflicts_open"] == 0
    assert doc["unconnected_mappings"] == []
    assert "quota" in doc and {q["connection"] for q in doc["quota"]} >= {"ma", "crm"}
    assert REJECTED not in json.dumps(doc), "personal data in the status output"


def test_status_text_shows_each_mapping_its_stop_reason_and_quota(
        synced: tuple[Path, World, list[RunSummary]]) -> None:
    root, _, (_, second) = synced
    out = _status(root).stdout
    lines = {(line.split()[0], line.split()[1]): line for line in out.splitlines()
             if "failed open" in line}
    crm_out = lines[("crm-leads", "out")]
    assert "stopped: AuthenticationError: CRM refused the client secret" in crm_out
    assert "failed open 1" in crm_out and "cursor {\"seq\":" in crm_out
    assert "read 1 created 1" in lines[("ma-contacts", "in")]
    assert second.run_id in out
    assert "Dead letters open: 1" in out
    assert "quota" in out.lower()
