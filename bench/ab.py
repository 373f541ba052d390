"""Interleaved before/after runs of the engine benchmark on two commits (not a test).

Run: ``.venv/bin/python -m bench.ab --base fee89cc --size 10000 --db sqlite --repeat 5``

The machine is shared, so a "before" measured on another day says little. This checks out
``--base`` and ``--head`` (default HEAD) as git worktrees in a temporary directory and runs
``bench.engine --child`` on each in turn, ``--repeat`` times, so both see the same load;
each child is a fresh process on a fresh database (PostgreSQL: a fresh database in one
private cluster, as ``bench.engine`` starts it). Prints medians per CPU second and writes
``bench/results/<name>.json`` with every run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import REPO, median, table, write_result
from bench.engine import _fresh_pg_db, _nothing, postgres_cluster


def _worktree(commit: str, where: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(where), commit], cwd=REPO,
                   check=True, capture_output=True)
    return where


def _child(tree: Path, size: int, url: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "BENCH_PG_DATA")}
    env["DO_NOT_TRACK"] = "1"
    proc = subprocess.run([sys.executable, "-m", "bench.engine", "--child", str(size), url],
                          cwd=tree, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{tree.name}: bench.engine failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the 'before' commit")
    parser.add_argument("--head", default="HEAD", help="the 'after' commit")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--name", default=None, help="result file (default engine-ab-<db>)")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="renkei-bench-ab-") as tmp:
        trees = {"before": _worktree(args.base, Path(tmp) / "before"),
                 "after": _worktree(args.head, Path(tmp) / "after")}
        try:
            with postgres_cluster() if args.db == "postgres" else _nothing() as server:
                for i in range(args.repeat):
                    for label, tree in trees.items():
                        url = _fresh_pg_db(server) if args.db == "postgres" else "sqlite"
                        runs[label].append(_child(tree, args.size, url))
                        print(f"  run {i + 1}/{args.repeat} {label} done", flush=True)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO,
                               check=False, capture_output=True)
    rows, summary = [], {}
    for label, rs in runs.items():
        for k, phase in enumerate(("initial", "changed")):
            merge = median([r["phases"][k]["in_rate"] for r in rs])
            whole = median([r["phases"][k]["engine_rate"] for r in rs])
            server_s = median([r["phases"][k]["db_server_cpu_s"] for r in rs])
            rows.append([label, phase, len(rs), merge, whole, server_s,
                         median([r["peak_rss_mb"] for r in rs])])
            summary[f"{label} {phase} merge records/s"] = round(merge)
            summary[f"{label} {phase} engine records/s"] = round(whole)
    print(f"\n{args.db}, {args.size:,} leads, {args.base} (before) vs {args.head} (after), "
          "medians of interleaved runs")
    print(table(["tree", "phase", "runs", "merge rec/CPU s", "in+out rec/CPU s",
                 "db server CPU s", "peak RSS MB"], rows))
    write_result(args.name or f"engine-ab-{args.db}", vars(args), runs, summary)


if __name__ == "__main__":
    main()
