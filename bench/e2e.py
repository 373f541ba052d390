"""API-call efficiency and end-to-end throughput, Marketo → hub → Salesforce over HTTP.

Run: ``.venv/bin/python -m bench.e2e --sizes 1000 10000 --repeat 3``

The emulators run in a child process (:mod:`bench.sandbox_proc`) with the vendors' rate
limits lifted, so their CPU is not renkei's and Marketo's 100 calls / 20 s does not hide
renkei's own cost. Every sync opens the project afresh, as a flow run does (new tokens; the
describes come from the project's describe cache, so only the first sync pays them). Per
size N, on a SQLite store:

1. ``initial``: N Marketo leads and 100 Salesforce leads (40 the same people) into an empty
   hub, and across; then one ``settle`` sync that reads back the echo of those writes;
2. ``no-change``: a sync when nothing changed;
3. ``changed`` (``--repeat`` times): N Marketo leads get a new title, one sync; then a settle
   sync (reads the N Salesforce updates back, must write nothing).

Calls are counted twice — renkei's ledger and the emulators' own logs — and must agree. The
*minimum* is what the vendor APIs allow for the records that moved: one token per system,
Marketo ``ceil(L/300)`` activity pages (New Lead, Change Data Value and Delete Lead in one
Get Lead Activities read) + ``ceil(L/300)`` Get Leads by id for L changed leads (+ 1 paging
token on a first read) — but an activity page scans at most 1,000 activities (the
emulator's model of Marketo's short pages), so with A activities logged since the last read
the activity read needs at least ``ceil(A/1000)`` pages —, Salesforce ``ceil(R/2000)`` query
pages (at least 1), and writes of ``ceil(creates/B) + ceil(updates/B)`` (B = 200 Salesforce,
300 Marketo). Describe calls (schema discovery; cached across runs) are not part of the
minimum. A first Marketo read pays ``ceil(A/1000)`` Get Deleted Leads pages beyond it (it
catches up through Get Lead Changes, see ``connectors/marketo/incremental.py``).

Wall time splits into *HTTP* (the sum of the ledger's per-exchange times: request sent to
response headers, the emulator's work included) and *renkei* (the rest: engine, mapping,
state store, JSON decoding of bodies).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    SandboxProcess,
    cpu_self,
    mappings_snapshot,
    median,
    project_settings,
    table,
    write_result,
)
from connectors.sdk.ledger import ApiCall, MemoryLedger
from renkei.engine.runner import SyncRunner
from renkei.engine.stats import RunSummary
from renkei.project import Project, write_project
from renkei.store import Store

BATCH = {"marketo": 300, "salesforce": 200}
MAPPINGS = ["marketo-leads", "salesforce-leads"]


class TeeLedger(MemoryLedger):
    """A ledger that also keeps every call for the benchmark (the runner drains the other)."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[ApiCall] = []

    def record(self, call: ApiCall) -> None:
        super().record(call)
        self.kept.append(call)


def minimum_calls(summary: RunSummary, first_read: bool, scanned: int,
                  scan_limit: int) -> dict[str, int]:
    """The fewest calls the vendor APIs allow for what this run moved (see module doc).

    ``scanned`` activities were logged in Marketo since the previous read; an activity page
    looks at ``scan_limit`` of them at most, so an activity read cannot take fewer than
    ``ceil(scanned / scan_limit)`` pages however few match.
    """
    need = {"marketo": 1, "salesforce": 1}  # one token each
    if first_read:
        need["marketo"] += 1  # a first Marketo read starts from a paging token
    windows = max(1, math.ceil(scanned / scan_limit))
    for s in summary.stats:
        system = s.mapping.split("-")[0]
        if s.direction == "in":
            if system == "marketo":
                pages = math.ceil(s.read / 300)
                need[system] += max(pages, windows) + pages
            else:
                need[system] += max(1, math.ceil(s.read / 2000))
        else:
            b = BATCH[system]
            need[system] += math.ceil(s.created / b) + math.ceil((s.updated + s.failed) / b)
    return need


def one_sync(root: Path, sandbox: SandboxProcess, label: str,
             activities: list[int] | None = None) -> dict[str, Any]:
    """One sync in a fresh project; ``activities`` holds Marketo's activity-log length at
    the start of the previous sync (updated here)."""
    acts = sandbox.ask("activities")
    previous = activities[0] if activities else 0
    if activities is not None:
        activities[0] = acts["marketo"]
    project = Project.load(root)
    project.ledger = ledger = TeeLedger()
    store = Store.open(project.database_url)
    calls_before = sandbox.calls()
    emu_cpu = sandbox.cpu()
    cpu, wall = cpu_self(), time.perf_counter()
    try:
        summary = SyncRunner(project, store).sync("lead", mappings=MAPPINGS)
    finally:
        wall = time.perf_counter() - wall
        cpu = cpu_self() - cpu
        store.close()
        project.close()
    emu_cpu = sandbox.cpu() - emu_cpu
    calls_after = sandbox.calls()
    emulator = {k: calls_after[k] - calls_before[k] for k in calls_after}
    by_system: dict[str, dict[str, int]] = {}
    for c in ledger.kept:
        d = by_system.setdefault(c.connection, {})
        d[c.kind] = d.get(c.kind, 0) + 1
    renkei = {k: sum(v.values()) for k, v in by_system.items()}
    http = sum(c.duration_s for c in ledger.kept)
    need = minimum_calls(summary, label == "initial", acts["marketo"] - previous,
                         acts["scan_limit"])
    row: dict[str, Any] = {
        "phase": label, "status": summary.status, "wall_s": wall, "cpu_s": cpu,
        "emulator_cpu_s": emu_cpu, "http_s": http, "renkei_share": (wall - http) / wall,
        "renkei_cpu_share": cpu / wall, "activities_scanned": acts["marketo"] - previous,
        "calls_ledger": renkei, "calls_emulator": emulator, "calls_by_kind": by_system,
        "ledger_equals_emulator": all(renkei.get(k, 0) == emulator[k] for k in emulator),
        "minimum": need,
        "describe_calls": sum(1 for c in ledger.kept if "describe" in c.path),
        "stats": [s.as_row() for s in summary.stats],
        "moved_to_salesforce": sum(s.created + s.updated for s in summary.stats
                                   if s.mapping.startswith("salesforce") and s.direction == "out"),
        "writes": sum(v.get("write", 0) for v in by_system.values()),
        "reads_per_mapping_direction": {f"{s.mapping}:{s.direction}": 0 for s in summary.stats},
    }
    for c in ledger.kept:
        if c.kind == "read" and "describe" not in c.path:
            key = f"{c.connection}-leads:in"
            row["reads_per_mapping_direction"][key] = row["reads_per_mapping_direction"].get(key, 0) + 1
    total, minimum = sum(renkei.values()), sum(need.values())
    row["calls_total"], row["minimum_total"] = total, minimum
    row["ratio"] = total / minimum
    row["ratio_without_describe"] = (total - row["describe_calls"]) / minimum
    assert summary.status == "completed", [s.error for s in summary.stats]
    return row


def run_size(n: int, repeat: int, sf_size: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="renkei-bench-e2e-") as tmp, \
            SandboxProcess(n, sf_size) as sandbox:
        root = Path(tmp)
        write_project(root / "renkei.yaml",
                      project_settings(sandbox, f"sqlite:///{root / 'renkei.db'}",
                                       mappings_snapshot(root / "mappings")))
        print(f"  N={n:,}: sandbox up in {time.perf_counter() - started:.1f} s", flush=True)
        activities = [0]
        for label in ("initial", "settle", "no-change"):
            rows.append(one_sync(root, sandbox, label, activities))
            print(f"    {label:<10} {rows[-1]['wall_s']:8.1f} s  calls {rows[-1]['calls_total']}",
                  flush=True)
        for i in range(repeat):
            sandbox.edit("marketo", n, {"title": f"ベンチ{i}"})
            rows.append(one_sync(root, sandbox, "changed", activities))
            print(f"    changed    {rows[-1]['wall_s']:8.1f} s  calls {rows[-1]['calls_total']}"
                  f"  min {rows[-1]['minimum_total']}", flush=True)
            rows.append(one_sync(root, sandbox, "echo", activities))
        rows.append(one_sync(root, sandbox, "no-change", activities))
    return {"n": n, "salesforce_size": sf_size, "runs": rows}


def report(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    eff: list[list[Any]] = []
    thr: list[list[Any]] = []
    summary: dict[str, Any] = {}
    for res in sizes:
        n = res["n"]
        by: dict[str, list[dict[str, Any]]] = {}
        for r in res["runs"]:
            by.setdefault(r["phase"], []).append(r)
        for phase in ("initial", "settle", "changed", "echo", "no-change"):
            rs = by.get(phase, [])
            if not rs:
                continue
            last = rs[-1]
            eff.append([f"{n:,}", phase, len(rs), last["calls_ledger"].get("marketo", 0),
                        last["calls_ledger"].get("salesforce", 0), last["calls_total"],
                        "yes" if all(r["ledger_equals_emulator"] for r in rs) else "NO",
                        last["minimum_total"], median([r["ratio"] for r in rs]),
                        median([r["ratio_without_describe"] for r in rs]), last["writes"]])
            if phase in ("initial", "changed"):
                wall = median([r["wall_s"] for r in rs])
                moved = last["moved_to_salesforce"]
                thr.append([f"{n:,}", phase, len(rs), moved, wall, moved / wall,
                            median([r["http_s"] for r in rs]),
                            median([r["renkei_share"] for r in rs]),
                            median([r["renkei_cpu_share"] for r in rs]),
                            median([r["cpu_s"] for r in rs]),
                            median([r["emulator_cpu_s"] for r in rs])])
                summary[f"{phase} N={n} wall s"] = round(wall, 2)
                summary[f"{phase} N={n} records/s"] = round(moved / wall)
                summary[f"{phase} N={n} renkei share"] = round(
                    median([r["renkei_share"] for r in rs]), 3)
                summary[f"{phase} N={n} renkei CPU/wall"] = round(
                    median([r["renkei_cpu_share"] for r in rs]), 3)
            if phase in ("changed", "no-change"):
                summary[f"{phase} N={n} call ratio"] = round(median([r["ratio"] for r in rs]), 3)
                summary[f"{phase} N={n} calls"] = last["calls_total"]
    print("\nAPI calls (ledger; 'agree' = the emulators counted the same)")
    print(table(["N", "phase", "runs", "marketo", "salesforce", "total", "agree", "minimum",
                 "ratio", "ratio w/o describe", "writes"], eff))
    print("\nThroughput Marketo → hub → Salesforce (medians)")
    print(table(["N", "phase", "runs", "to SF", "wall s", "records/s", "HTTP s",
                 "renkei share", "renkei CPU/wall", "renkei CPU s", "emulator CPU s"], thr))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--repeat", type=int, default=3, help="changed-lead runs per size")
    parser.add_argument("--salesforce-size", type=int, default=100)
    args = parser.parse_args()
    results = []
    for n in args.sizes:
        results.append(run_size(n, args.repeat, args.salesforce_size))
    summary = report(results)
    write_result("e2e", vars(args), results, summary)


if __name__ == "__main__":
    main()
