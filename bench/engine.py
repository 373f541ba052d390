"""The engine alone: merge rate, peak memory and state-store cost, without HTTP.

Run: ``.venv/bin/python -m bench.engine --sizes 10000 100000 1000000 --db sqlite postgres``

Each (size, database) runs in a fresh child process with the in-process connectors of
:mod:`bench.engine_io` (Marketo-shaped leads generated from the sandbox seed, a
Salesforce-shaped sink that acknowledges writes) and the real mapping files:

* ``initial``: N leads into an empty hub (creates, match keys, links, journal), then N
  creates out to the sink;
* ``changed``: the same N leads with a new title and a later ``updatedAt`` (N field merges),
  then N updates out.

Rates are per CPU second of the child (the machine is shared; wall time would measure the
neighbours): *merge* counts the page ingests (projection, validation, identity, merge, hub
writes), *outbound* the rest of the sync (journal, diff, batches, results, links), and the
source's own record generation is left out. Peak RSS is the child's ``ru_maxrss`` after both
syncs. With PostgreSQL the server's CPU is read from /proc and shown beside the child's
(SQLite works inside the child). ``--tracemalloc`` adds the top allocation sites at the peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import cpu_self, mappings_snapshot, median, run_child, table, write_result

MAPPINGS = ["marketo-leads", "salesforce-leads"]


def child(size: int, db: str, trace: bool, phases: int = 2) -> dict[str, Any]:
    """One size on one database, in this (fresh) process."""
    from bench.engine_io import AckSink, SeededSource
    from connectors.sdk.base import ConnectorContext
    from renkei.engine.runner import SyncRunner
    from renkei.project import Project
    from renkei.store import Store
    from renkei.store.locks import PartitionLocks

    if os.environ.get("BENCH_FULL_VALIDATION"):
        # "before" of the validation fast path: every record takes the full JSON Schema walk
        import renkei.entities

        renkei.entities._fast_accept = lambda entity, partial: None  # type: ignore[assignment]
    if trace:
        import tracemalloc

        tracemalloc.start(8)
    out: dict[str, Any] = {"size": size, "db": db.split(":", 1)[0], "phases": []}
    with tempfile.TemporaryDirectory(prefix="renkei-bench-engine-") as tmp, _database(db, tmp) as url:
        project = Project(root=Path(tmp), database_url=url,
                          mappings_dir=mappings_snapshot(Path(tmp) / "mappings"),
                          connections={"marketo": {"type": "memory"},
                                       "salesforce": {"type": "memory"}})
        store = Store.open(url)
        sink = AckSink({}, context=ConnectorContext(connection="salesforce", ledger=project.ledger))
        for rnd, phase in ((0, "initial"), (1, "changed"))[:phases]:
            source = SeededSource({"size": size, "round": rnd},
                                  context=ConnectorContext(connection="marketo",
                                                           ledger=project.ledger))
            project._connectors.update(marketo=source, salesforce=sink)
            written = sink.written
            ingest_cpu = [0.0]

            def step(name: str, fn: Callable[[], Any], acc: list[float] = ingest_cpu) -> Any:
                if not name.startswith("ingest"):
                    return fn()
                started = cpu_self()
                try:
                    return fn()
                finally:
                    acc[0] += cpu_self() - started

            on_pg = url.startswith("postgres")
            wall, cpu, db_cpu = time.perf_counter(), cpu_self(), server_cpu() if on_pg else 0.0
            # One worker: a lease that outlives the run, so no renewal commits mid-phase (on
            # SQLite one can refuse a page's write as "database is locked"; see README).
            locks = PartitionLocks(store, ttl_s=24 * 3600.0)
            summary = SyncRunner(project, store, step=step, locks=locks).sync(
                "lead", mappings=MAPPINGS)
            wall, cpu = time.perf_counter() - wall, cpu_self() - cpu
            db_cpu = server_cpu() - db_cpu if on_pg else 0.0
            assert summary.status == "completed", [s.error for s in summary.stats]
            ins = summary.get("marketo-leads", "in")
            engine_cpu = cpu - source.generate_s
            in_cpu = ingest_cpu[0]
            out_cpu = engine_cpu - in_cpu
            n_out = sink.written - written
            out["phases"].append({
                "phase": phase, "wall_s": wall, "cpu_s": cpu, "generate_cpu_s": source.generate_s,
                "db_server_cpu_s": db_cpu,
                "total_rate": size / (engine_cpu + db_cpu),
                "engine_cpu_s": engine_cpu, "read": ins.read, "ingest_cpu_s": in_cpu,
                "written": n_out, "rest_cpu_s": out_cpu,
                "in_rate": ins.read / in_cpu, "out_rate": n_out / out_cpu,
                "engine_rate": size / engine_cpu,
                "stats": [s.as_row() for s in summary.stats]})
        store.close()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        import tracemalloc

        snap = tracemalloc.take_snapshot()
        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        out["top_allocations"] = [f"{s.size / 2**20:.1f} MiB {s.traceback.format()[-1].strip()}"
                                  for s in snap.statistics("lineno")[:10]]
    return out


@contextmanager
def _database(db: str, tmp: str) -> Iterator[str]:
    if db == "sqlite":
        yield f"sqlite:///{tmp}/renkei.db"
    elif db.startswith("postgres"):
        yield db
    else:
        raise SystemExit(f"--db: sqlite or a postgresql:// URL, not {db!r}")


def server_cpu() -> float:
    """CPU seconds of the PostgreSQL cluster named by ``BENCH_PG_DATA`` (0 for SQLite): the
    postmaster, its live children (our backend among them) and the children it reaped."""
    data = os.environ.get("BENCH_PG_DATA")
    if not data:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pm = int((Path(data) / "postmaster.pid").read_text().split()[0])
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == pm:
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        elif ppid == pm:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A private PostgreSQL cluster in /tmp (as tests/conftest.py starts one)."""
    import glob
    import socket

    bindir = max(glob.glob("/usr/lib/postgresql/*/bin"))
    # The server runs as postgres: a root-only /tmp (0700 on some machines) is out of reach.
    reachable = [d for d in (tempfile.gettempdir(), "/var/tmp")
                 if os.path.isdir(d) and os.stat(d).st_mode & 0o001]
    base = Path(tempfile.mkdtemp(prefix="renkei-bench-pg-",
                                 dir=reachable[0] if reachable else None))
    (base / "sock").mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(base / "sock", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(_as_postgres([f"{bindir}/initdb", "-D", str(base / "data"), "-A", "trust",
                                 "-U", "postgres", "--no-sync"]), check=True, capture_output=True)
    # Durable settings (fsync on), unlike the tests: a benchmark should pay for commits.
    subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", str(base / "data"), "-w", "-l",
                                 str(base / "log"), "-o",
                                 f"-p {port} -k {base / 'sock'} -c listen_addresses=127.0.0.1",
                                 "start"]), check=True, capture_output=True)
    os.environ["BENCH_PG_DATA"] = str(base / "data")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        os.environ.pop("BENCH_PG_DATA", None)
        subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", str(base / "data"), "-m", "fast",
                                     "stop"]), check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _fresh_pg_db(server: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server.rsplit('/', 1)[0]}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--db", nargs="+", default=["sqlite"], choices=["sqlite", "postgres"])
    parser.add_argument("--repeat", type=int, default=1, help="runs per size and database")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--name", default="engine", help="result file name")
    parser.add_argument("--full-validation", action="store_true",
                        help="turn the validation fast path off (its 'before')")
    parser.add_argument("--initial-only", action="store_true",
                        help="only the initial load (for the largest sizes)")
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1], args.tracemalloc,
                               1 if args.initial_only else 2)))
        return
    if args.full_validation:
        os.environ["BENCH_FULL_VALIDATION"] = "1"
    results: list[dict[str, Any]] = []
    with postgres_cluster() if "postgres" in args.db else _nothing() as server:
        for size in args.sizes:
            for db in args.db:
                for _ in range(args.repeat):
                    url = _fresh_pg_db(server) if db == "postgres" else "sqlite"
                    extra = ["--tracemalloc"] if args.tracemalloc else []
                    extra += ["--initial-only"] if args.initial_only else []
                    r = run_child("bench.engine", ["--child", str(size), url, *extra])
                    r["db"] = db
                    results.append(r)
                    p = {ph["phase"]: ph for ph in r["phases"]}
                    times = ", ".join(f"{k} {v['wall_s']:.1f} s" for k, v in p.items())
                    print(f"  {size:>9,} {db:<8} {times}, peak RSS {r['peak_rss_mb']:,.0f} MB",
                          flush=True)
    rows: list[list[Any]] = []
    summary: dict[str, Any] = {}
    for size in args.sizes:
        for db in args.db:
            rs = [r for r in results if r["size"] == size and r["db"] == db]
            for phase in ("initial", "changed"):
                ph = [p for r in rs for p in r["phases"] if p["phase"] == phase]
                if not ph:
                    continue
                rows.append([f"{size:,}", db, phase, len(rs), median([p["wall_s"] for p in ph]),
                             median([p["cpu_s"] for p in ph]),
                             median([p["generate_cpu_s"] for p in ph]),
                             median([p["in_rate"] for p in ph]),
                             median([p["out_rate"] for p in ph]),
                             median([p["engine_rate"] for p in ph]),
                             median([p["db_server_cpu_s"] for p in ph]),
                             median([p["total_rate"] for p in ph]),
                             median([r["peak_rss_mb"] for r in rs])])
                summary[f"{db} N={size} {phase} merge records/s"] = round(
                    median([p["in_rate"] for p in ph]))
                summary[f"{db} N={size} {phase} engine records/s"] = round(
                    median([p["engine_rate"] for p in ph]))
                summary[f"{db} N={size} {phase} wall s"] = round(
                    median([p["wall_s"] for p in ph]), 1)
            summary[f"{db} N={size} peak RSS MB"] = round(median([r["peak_rss_mb"] for r in rs]))
    print("\nEngine alone, in process, no HTTP (medians)")
    print(table(["N", "db", "phase", "runs", "wall s", "CPU s", "source gen CPU s",
                 "merge rec/CPU s",
                 "outbound rec/CPU s", "in+out rec/CPU s", "db server CPU s",
                 "rec/CPU s incl. db server", "peak RSS MB"], rows))
    for r in results:
        for line in r.get("top_allocations", []):
            print(f"  {r['size']:,} {r['db']}: {line}")
    write_result(args.name, vars(args), results, summary)


@contextmanager
def _nothing() -> Iterator[str]:
    yield ""


if __name__ == "__main__":
    main()
    sys.exit(0)
