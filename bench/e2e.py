"""API-call efficiency and end-to-end throughput, Marketo → hub → Salesforce + kintone over HTTP.

Run: ``.venv/bin/python -m bench.e2e --sizes 1000 10000 --repeat 3``
(``--targets salesforce`` for Marketo → hub → Salesforce alone, as before kintone).

The emulators run in a child process (:mod:`bench.sandbox_proc`) with the vendors' rate
limits lifted, so their CPU is not renkei's and Marketo's 100 calls / 20 s does not hide
renkei's own cost. Every sync opens the project afresh, as a flow run does (new tokens; the
describes — kintone's form-fields call among them — come from the project's describe
cache, so only the first sync pays them). Per size N,
on a SQLite store, syncing marketo-leads, salesforce-leads and kintone-leads:

1. ``initial``: N Marketo leads, 100 Salesforce leads (40 the same people) and the N/5
   records of kintone's リードマスタ (all Marketo people) into an empty hub, and across;
   then one ``settle`` sync that reads back the echo of those writes;
2. ``no-change``: a sync when nothing changed;
3. ``changed`` (``--repeat`` times): N Marketo leads get a new title, one sync; then a settle
   sync (reads the Salesforce and kintone updates back, must write nothing);
4. with ``--quiet-after S``: S seconds later, a ``closing`` sync (kintone keeps minutes, so
   reads re-read the newest written minute until one begins past it plus the overlap) and a
   ``quiet`` one, a scheduled sync's usual case when nothing changed.

Which leads reach kintone: kintone-leads' outbound filter passes only lifecycle stages MQL
and later (mql, sql, opportunity, customer, recycled). renkei's rules phase (qualification,
routing) would set stages, owners and teams, but it runs only when the project has a rules
directory, and this project has none (:func:`bench.common.mappings_snapshot` copies mapping
files only), so ``SyncRunner`` skips it: a lead's stage is the one its systems hold —
Marketo's ``renkeiLifecycleStage`` (the sandbox seeds ``sql`` for a score ≥ 80, ``mql`` for
≥ 60) or, for the people sales already have, リードマスタ's ステージ, newest edit winning.
On those people Marketo's stage is nearly always the newer (its ``updatedAt`` is the seed's
creation time to the second, kintone's 更新日時 the same time cut to the minute), so what
reaches kintone is, in effect, the Marketo leads with a score of 60 or more: created there,
or updated where sales already have the person. The throughput table shows what share of
the Marketo leads read reached kintone (``kintone share``).

Calls are counted twice — renkei's ledger and the emulators' own logs — and must agree. The
*minimum* is what the vendor APIs allow for the records that moved: one token per system,
Marketo ``ceil(L/300)`` activity pages (New Lead, Change Data Value and Delete Lead in one
Get Lead Activities read) + ``ceil(L/300)`` Get Leads by id for L changed leads (+ 1 paging
token on a first read) — but an activity page scans at most 1,000 activities (the
emulator's model of Marketo's short pages), so with A activities logged since the last read
the activity read needs at least ``ceil(A/1000)`` pages —, Salesforce ``ceil(R/2000)`` query
pages (at least 1), and writes of ``ceil(creates/B) + ceil(updates/B)`` (B = 200 Salesforce,
300 Marketo, 100 kintone). kintone has no token call (API tokens) and reads ``max(1,
ceil(K/500))`` records.json pages for K records changed since the last read (500 is the
most a GET records.json or a cursor page returns; paging by ``$id`` or with ``offset`` needs
no cursor, so a full read's cursor creation is beyond the minimum). Writes of 100 records
per POST/PUT records.json are the minimum the issue defines ("writes at max batch size");
a bulkRequest.json carries up to 20 such requests in one HTTP call, so a connector using it
could write ``ceil((ceil(creates/100) + ceil(updates/100)) / 20)`` calls — the table shows
that lower bound beside the minimum (connectors/kintone does not use bulkRequest; whether
kintone's daily count takes a bulkRequest as one request or as its parts is not documented
in what we could find). Describe calls (schema discovery; Marketo's and Salesforce's are
cached across runs, kintone's form-fields call is made once per sync) are not part of the
minimum. A first Marketo read pays ``ceil(A/1000)`` Get Deleted Leads pages beyond it (it
catches up through Get Lead Changes, see ``connectors/marketo/incremental.py``).

Where kintone pays more than the minimum: its form-fields call on every sync, the cursor
creation of a first read, and its incremental read, which starts ``overlap_s`` (60 s) before
the newest 更新日時 it delivered — not before now — and skips what it delivered by
``($id, $revision)``. Every read re-fetches the last minute of changes, however long ago
that was: free while that is under 500 records, but a bulk write of K ≥ 500 records (one
更新日時: kintone keeps minutes) costs each later read about ``ceil(K/500) + 1`` calls (a full
page of one timestamp is drained by ``$id``, then one more query finds nothing newer) until
newer changes move it on. Measured on the connector alone: 1,420 records written in one
minute took 4 calls to read and 4 calls again on every read that found nothing new.

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

BATCH = {"marketo": 300, "salesforce": 200, "kintone": 100}
KINTONE_PAGE = 500  # records per GET records.json or cursor page
KINTONE_BULK = 20  # records.json requests per bulkRequest.json
TARGETS = ("salesforce", "kintone")


class TeeLedger(MemoryLedger):
    """A ledger that also keeps every call for the benchmark (the runner drains the other)."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[ApiCall] = []

    def record(self, call: ApiCall) -> None:
        super().record(call)
        self.kept.append(call)


def is_describe(call: ApiCall) -> bool:
    """Schema discovery: Marketo's and Salesforce's describes, kintone's form fields."""
    return "describe" in call.path or call.path.endswith("/app/form/fields.json")


def mapping_names(targets: list[str]) -> list[str]:
    return ["marketo-leads", *(f"{t}-leads" for t in targets)]


def minimum_calls(summary: RunSummary, first_read: bool, scanned: int,
                  scan_limit: int, targets: list[str]) -> dict[str, int]:
    """The fewest calls the vendor APIs allow for what this run moved (see module doc).

    ``scanned`` activities were logged in Marketo since the previous read; an activity page
    looks at ``scan_limit`` of them at most, so an activity read cannot take fewer than
    ``ceil(scanned / scan_limit)`` pages however few match. kintone authenticates with an
    API token on every call, so it has no token call to count.
    """
    need = {"marketo": 1}  # one token
    for t in targets:
        need[t] = 1 if t == "salesforce" else 0
    if first_read:
        need["marketo"] += 1  # a first Marketo read starts from a paging token
    windows = max(1, math.ceil(scanned / scan_limit))
    for s in summary.stats:
        system = s.mapping.split("-")[0]
        if s.direction == "in":
            if system == "marketo":
                pages = math.ceil(s.read / 300)
                need[system] += max(pages, windows) + pages
            elif system == "kintone":
                need[system] += max(1, math.ceil(s.read / KINTONE_PAGE))
            else:
                need[system] += max(1, math.ceil(s.read / 2000))
        else:
            b = BATCH[system]
            need[system] += math.ceil(s.created / b) + math.ceil((s.updated + s.failed) / b)
    return need


def kintone_bulk_writes(summary: RunSummary) -> int:
    """kintone's writes if the records.json requests went 20 at a time in bulkRequest.json."""
    requests = sum(math.ceil(s.created / BATCH["kintone"])
                   + math.ceil((s.updated + s.failed) / BATCH["kintone"])
                   for s in summary.stats if s.mapping == "kintone-leads" and s.direction == "out")
    return math.ceil(requests / KINTONE_BULK)


def one_sync(root: Path, sandbox: SandboxProcess, label: str, targets: list[str],
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
    rules_phase = project.rules() is not None  # no rules directory: SyncRunner skips it
    calls_before = sandbox.calls()
    emu_cpu = sandbox.cpu()
    cpu, wall = cpu_self(), time.perf_counter()
    try:
        summary = SyncRunner(project, store).sync("lead", mappings=mapping_names(targets))
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
                         acts["scan_limit"], targets)
    out = {(s.mapping, s.direction): s for s in summary.stats}
    moved = {t: out[f"{t}-leads", "out"].created + out[f"{t}-leads", "out"].updated
             for t in targets if (f"{t}-leads", "out") in out}
    marketo_in = out.get(("marketo-leads", "in"))
    row: dict[str, Any] = {
        "phase": label, "status": summary.status, "wall_s": wall, "cpu_s": cpu,
        "emulator_cpu_s": emu_cpu, "http_s": http, "renkei_share": (wall - http) / wall,
        "renkei_cpu_share": cpu / wall, "activities_scanned": acts["marketo"] - previous,
        "calls_ledger": renkei, "calls_emulator": emulator, "calls_by_kind": by_system,
        "ledger_equals_emulator": (all(renkei.get(k, 0) == emulator[k] for k in emulator)
                                   and set(renkei) <= set(emulator)),
        "minimum": need,
        "describe_calls": sum(1 for c in ledger.kept if is_describe(c)),
        "rules_phase": rules_phase,
        "stats": [s.as_row() for s in summary.stats],
        "marketo_read": marketo_in.read if marketo_in else 0,
        "moved": moved,
        "failed": {t: out[f"{t}-leads", "out"].failed for t in targets
                   if (f"{t}-leads", "out") in out},
        "writes": sum(v.get("write", 0) for v in by_system.values()),
        "reads_per_mapping_direction": {f"{s.mapping}:{s.direction}": 0 for s in summary.stats},
    }
    # the name the throughput summary has always used
    row["moved_to_salesforce"] = moved.get("salesforce", 0)
    reads = row["reads_per_mapping_direction"]
    for c in ledger.kept:
        if c.kind == "read" and not is_describe(c):
            key = f"{c.connection}-leads:in"
            reads[key] = reads.get(key, 0) + 1
    total, minimum = sum(renkei.values()), sum(need.values())
    row["calls_total"], row["minimum_total"] = total, minimum
    row["ratio"] = total / minimum
    row["ratio_without_describe"] = (total - row["describe_calls"]) / minimum
    if "kintone" in targets:
        row["minimum_with_bulk_request"] = minimum - need["kintone"] + sum(
            max(1, math.ceil(s.read / KINTONE_PAGE)) for s in summary.stats
            if s.mapping == "kintone-leads" and s.direction == "in") + kintone_bulk_writes(summary)
        kintone = sandbox.ask("kintone")
        row["kintone_records"] = sandbox.ask("count")["kintone"]
        row["kintone_open_cursors"] = kintone["open_cursors"]
        assert kintone["open_cursors"] == 0, f"{label}: the sync left kintone cursors open"
    assert summary.status == "completed", [s.error for s in summary.stats]
    assert row["ledger_equals_emulator"], (
        f"{label}: renkei's ledger {renkei} and the emulators {emulator} disagree")
    return row


def run_size(n: int, repeat: int, sf_size: int, targets: list[str],
             quiet_after: float = 0.0) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="renkei-bench-e2e-") as tmp, \
            SandboxProcess(n, sf_size) as sandbox:
        root = Path(tmp)
        write_project(root / "renkei.yaml",
                      project_settings(sandbox, f"sqlite:///{root / 'renkei.db'}",
                                       mappings_snapshot(root / "mappings")))
        seeded = sandbox.ask("count")["kintone"]
        print(f"  N={n:,}: sandbox up in {time.perf_counter() - started:.1f} s "
              f"(kintone リードマスタ: {seeded:,} records)", flush=True)
        activities = [0]
        for label in ("initial", "settle", "no-change"):
            rows.append(one_sync(root, sandbox, label, targets, activities))
            print(f"    {label:<10} {rows[-1]['wall_s']:8.1f} s  calls {rows[-1]['calls_total']}",
                  flush=True)
        for i in range(repeat):
            sandbox.edit("marketo", n, {"title": f"ベンチ{i}"})
            rows.append(one_sync(root, sandbox, "changed", targets, activities))
            print(f"    changed    {rows[-1]['wall_s']:8.1f} s  calls {rows[-1]['calls_total']}"
                  f"  min {rows[-1]['minimum_total']}", flush=True)
            rows.append(one_sync(root, sandbox, "echo", targets, activities))
        rows.append(one_sync(root, sandbox, "no-change", targets, activities))
        if quiet_after > 0:
            # kintone stamps minutes: reads re-read the newest minute until one read began
            # past it plus the overlap ("closing"); from then on a quiet app costs one call.
            print(f"    waiting {quiet_after:.0f} s for kintone's last minute to close",
                  flush=True)
            time.sleep(quiet_after)
            for label in ("closing", "quiet"):
                rows.append(one_sync(root, sandbox, label, targets, activities))
                print(f"    {label:<10} {rows[-1]['wall_s']:8.1f} s  "
                      f"calls {rows[-1]['calls_total']}", flush=True)
    return {"n": n, "salesforce_size": sf_size, "kintone_seeded": seeded, "targets": targets,
            "runs": rows}


def report(sizes: list[dict[str, Any]], targets: list[str]) -> dict[str, Any]:
    eff: list[list[Any]] = []
    thr: list[list[Any]] = []
    summary: dict[str, Any] = {}
    kintone = "kintone" in targets
    for res in sizes:
        n = res["n"]
        by: dict[str, list[dict[str, Any]]] = {}
        for r in res["runs"]:
            by.setdefault(r["phase"], []).append(r)
        for phase in ("initial", "settle", "changed", "echo", "no-change", "closing", "quiet"):
            rs = by.get(phase, [])
            if not rs:
                continue
            last = rs[-1]
            eff.append([f"{n:,}", phase, len(rs),
                        *(last["calls_ledger"].get(s, 0) for s in ("marketo", *targets)),
                        last["calls_total"],
                        "yes" if all(r["ledger_equals_emulator"] for r in rs) else "NO",
                        last["minimum_total"], median([r["ratio"] for r in rs]),
                        median([r["ratio_without_describe"] for r in rs]),
                        *([last["minimum_with_bulk_request"]] if kintone else []),
                        last["writes"]])
            if phase in ("initial", "changed"):
                wall = median([r["wall_s"] for r in rs])
                moved = [last["moved"].get(t, 0) for t in targets]
                share = ([last["moved"].get("kintone", 0) / max(1, last["marketo_read"])]
                         if kintone else [])
                thr.append([f"{n:,}", phase, len(rs), last["marketo_read"], *moved, *share,
                            wall, sum(moved) / wall,
                            median([r["http_s"] for r in rs]),
                            median([r["renkei_share"] for r in rs]),
                            median([r["renkei_cpu_share"] for r in rs]),
                            median([r["cpu_s"] for r in rs]),
                            median([r["emulator_cpu_s"] for r in rs])])
                summary[f"{phase} N={n} wall s"] = round(wall, 2)
                summary[f"{phase} N={n} records/s"] = round(sum(moved) / wall)
                for t, m in zip(targets, moved):
                    summary[f"{phase} N={n} to {t}"] = m
                if kintone:
                    summary[f"{phase} N={n} kintone share"] = round(share[0], 3)
                summary[f"{phase} N={n} renkei share"] = round(
                    median([r["renkei_share"] for r in rs]), 3)
                summary[f"{phase} N={n} renkei CPU/wall"] = round(
                    median([r["renkei_cpu_share"] for r in rs]), 3)
            if phase in ("changed", "no-change", "quiet"):
                summary[f"{phase} N={n} call ratio"] = round(median([r["ratio"] for r in rs]), 3)
                summary[f"{phase} N={n} calls"] = last["calls_total"]
    print("\nAPI calls (ledger; 'agree' = the emulators counted the same)")
    print(table(["N", "phase", "runs", "marketo", *targets, "total", "agree", "minimum",
                 "ratio", "ratio w/o describe",
                 *(["min w/ bulkRequest"] if kintone else []), "writes"], eff))
    names = {"salesforce": "to SF", "kintone": "to kintone"}
    print(f"\nThroughput Marketo → hub → {' + '.join(targets)} (medians; records/s = records "
          "written to the targets per wall second)")
    print(table(["N", "phase", "runs", "Marketo read", *(names[t] for t in targets),
                 *(["kintone share"] if kintone else []), "wall s", "records/s", "HTTP s",
                 "renkei share", "renkei CPU/wall", "renkei CPU s", "emulator CPU s"], thr))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--repeat", type=int, default=3, help="changed-lead runs per size")
    parser.add_argument("--salesforce-size", type=int, default=100)
    parser.add_argument("--quiet-after", type=float, default=0.0,
                        help="then wait this many seconds and sync twice more (kintone's "
                             "newest minute closes ~3 minutes after the last write: 185)")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS),
                        help="systems Marketo's leads go to through the hub (default: both)")
    parser.add_argument("--name", default="e2e",
                        help="result file bench/results/<name>.json (default: e2e)")
    args = parser.parse_args()
    targets = [t for t in TARGETS if t in args.targets]
    results = []
    for n in args.sizes:
        results.append(run_size(n, args.repeat, args.salesforce_size, targets,
                                args.quiet_after))
    summary = report(results, targets)
    write_result(args.name, vars(args), results, summary)


if __name__ == "__main__":
    main()
