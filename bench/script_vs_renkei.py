"""renkei against a typical hand-written sync script, side by side on the same data.

Run: ``.venv/bin/python -m bench.script_vs_renkei --size 10000``

Two sandboxes of the same seed (child processes, vendor rate limits lifted — with Marketo's
real 100 calls / 20 s the script's per-lead calls alone would take ``calls / 5`` seconds):
one synced by renkei (``SyncRunner``, SQLite store), one by :func:`hand_written_sync`, the
script people write first — Marketo's lead-change activities to find what changed, then one
Get Lead by Id call per lead and one simple-salesforce upsert per record (by an external id,
the charitable version: no lookup query per record). Both do an initial load of all N
Marketo leads, then N leads get a new title and both sync again; the emulators count the
calls. The script only copies Marketo → Salesforce; renkei also reads Salesforce and keeps
both directions, and still makes fewer calls.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import requests
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceError

from bench.common import (
    SandboxProcess,
    mappings_snapshot,
    median,
    project_settings,
    table,
    write_result,
)
from renkei.engine.runner import SyncRunner
from renkei.project import Project, write_project
from renkei.store import Store

MAPPINGS = ["marketo-leads", "salesforce-leads"]
FIELDS = {"email": "Email", "firstName": "FirstName", "lastName": "LastName",
          "company": "Company", "title": "Title", "phone": "Phone", "state": "State",
          "city": "City", "postalCode": "PostalCode", "industry": "Industry"}


class HandWrittenSync:
    """What a first integration script does (kept plain on purpose)."""

    def __init__(self, sandbox: SandboxProcess):
        self.mk_url = sandbox.urls["marketo"]
        mk = sandbox.credentials["marketo"]
        self.http = requests.Session()
        self.http.trust_env = False
        token = self.http.get(f"{self.mk_url}/identity/oauth/token", params={
            "grant_type": "client_credentials", "client_id": mk["client_id"],
            "client_secret": mk["client_secret"]}).json()
        self.mk_token = token["access_token"]
        sf = sandbox.credentials["salesforce"]
        session = requests.Session()
        session.trust_env = False
        session.verify = sandbox.ca
        auth = session.post(f"{sandbox.urls['salesforce']}/services/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": sf["client_id"],
            "client_secret": sf["client_secret"]}).json()
        self.sf = Salesforce(instance_url=auth["instance_url"], session_id=auth["access_token"],
                             session=session, version="59.0")
        self.next_token: str | None = None
        self.failed = 0

    def _mk(self, path: str, **params: Any) -> dict[str, Any]:
        body = self.http.get(f"{self.mk_url}/rest/v1/{path}",
                             params={"access_token": self.mk_token, **params}).json()
        assert body.get("success"), body
        return dict(body)

    def run(self) -> int:
        """Copy every Marketo lead changed since the last run to Salesforce; returns leads."""
        if self.next_token is None:
            self.next_token = self._mk("activities/pagingtoken.json",
                                       sinceDatetime="1970-01-01T00:00:00Z")["nextPageToken"]
        changed: list[int] = []
        while True:
            page = self._mk("activities/leadchanges.json", nextPageToken=self.next_token,
                            fields="title,email,company,phone")
            self.next_token = page["nextPageToken"]
            changed += [a["leadId"] for a in page.get("result") or []]
            if not page.get("moreResult"):
                break
        done = 0
        for lead_id in dict.fromkeys(changed):
            found = self._mk(f"lead/{lead_id}.json", fields=",".join(FIELDS))["result"]
            if not found:
                continue
            lead = found[0]
            record = {sf: lead.get(mk) for mk, sf in FIELDS.items()}
            record["LastName"] = record["LastName"] or "(不明)"
            record["Company"] = record["Company"] or "(不明)"
            try:
                cast(SFType, self.sf.Lead).upsert(f"Renkei_Id__c/mk-{lead_id}", record)
                done += 1
            except SalesforceError:
                self.failed += 1  # a script logs and moves on
        return done

    def close(self) -> None:
        self.http.close()
        self.sf.session.close()


def _renkei_sync(root: Path) -> None:
    project = Project.load(root)
    store = Store.open(project.database_url)
    try:
        summary = SyncRunner(project, store).sync("lead", mappings=MAPPINGS)
        assert summary.status == "completed", [s.error for s in summary.stats]
    finally:
        store.close()
        project.close()


def measure(sandbox: SandboxProcess, fn: Any) -> dict[str, Any]:
    before = sandbox.calls()
    wall = time.perf_counter()
    fn()
    wall = time.perf_counter() - wall
    after = sandbox.calls()
    calls = {k: after[k] - before[k] for k in after}
    return {"wall_s": wall, "calls": calls, "calls_total": sum(calls.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="changed-lead rounds")
    args = parser.parse_args()
    n = args.size
    rows: dict[str, list[dict[str, Any]]] = {"renkei": [], "script": []}
    with tempfile.TemporaryDirectory(prefix="renkei-bench-script-") as tmp, \
            SandboxProcess(n, 100) as sb_r, SandboxProcess(n, 100) as sb_s:
        root = Path(tmp)
        write_project(root / "renkei.yaml", project_settings(
            sb_r, f"sqlite:///{root / 'r.db'}", mappings_snapshot(root / "mappings")))
        script = HandWrittenSync(sb_s)
        initial = {"renkei": measure(sb_r, lambda: _renkei_sync(root)),
                   "script": measure(sb_s, script.run)}
        _renkei_sync(root)  # renkei reads back its own writes once; not counted
        print(f"  initial load: renkei {initial['renkei']['wall_s']:.1f} s, "
              f"script {initial['script']['wall_s']:.1f} s", flush=True)
        for i in range(args.repeat):
            sb_r.edit("marketo", n, {"title": f"ベンチ{i}"})
            sb_s.edit("marketo", n, {"title": f"ベンチ{i}"})
            rows["renkei"].append(measure(sb_r, lambda: _renkei_sync(root)))
            rows["script"].append(measure(sb_s, script.run))
            print(f"  changed {i + 1}: renkei {rows['renkei'][-1]['wall_s']:.1f} s "
                  f"{rows['renkei'][-1]['calls_total']} calls, script "
                  f"{rows['script'][-1]['wall_s']:.1f} s {rows['script'][-1]['calls_total']} "
                  "calls", flush=True)
        script.close()
    out = []
    summary: dict[str, Any] = {}
    for phase, data in (("initial", {k: [v] for k, v in initial.items()}), ("changed", rows)):
        r_wall = median([x["wall_s"] for x in data["renkei"]])
        s_wall = median([x["wall_s"] for x in data["script"]])
        r_calls = data["renkei"][-1]["calls_total"]
        s_calls = data["script"][-1]["calls_total"]
        out.append([phase, f"{n:,}", len(data["renkei"]), r_calls, s_calls, s_calls / r_calls,
                    r_wall, s_wall, s_wall / r_wall])
        summary[f"{phase} call ratio script/renkei"] = round(s_calls / r_calls, 1)
        summary[f"{phase} time ratio script/renkei"] = round(s_wall / r_wall, 2)
    print("\nrenkei vs a hand-written script (calls counted by the emulators)")
    print(table(["phase", "N", "runs", "renkei calls", "script calls", "calls ×",
                 "renkei s", "script s", "time ×"], out))
    summary["script records failed"] = script.failed
    write_result("script_vs_renkei", vars(args),
                 {"initial": initial, "changed": rows, "script_failed": script.failed}, summary)


if __name__ == "__main__":
    main()
