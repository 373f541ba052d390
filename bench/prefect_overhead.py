"""What running a sync as the Prefect flow costs over calling the engine directly.

Run: ``.venv/bin/python -m bench.prefect_overhead --size 10000 --repeat 3``

A Prefect server (``prefect server start``, state in a temporary ``PREFECT_HOME``, started
as ``renkei demo`` starts it) and a sandbox child process. After an initial load, each round
edits N Marketo leads and syncs them once as a bare :class:`SyncRunner` call and once as the
flow :func:`flows.sync.sync_entity` (one task per page ingest and per write batch, progress
and summary artifacts), alternating, each followed by an unmeasured settle sync. The first
flow run of the process (client start-up, flow registration) is measured separately and not
in the medians.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    SandboxProcess,
    mappings_snapshot,
    median,
    project_settings,
    table,
    write_result,
)

MAPPINGS = ["marketo-leads", "salesforce-leads"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="renkei-bench-prefect-") as tmp:
        root = Path(tmp)
        os.environ.update(PREFECT_HOME=str(root / "prefect"), PREFECT_LOGGING_LEVEL="WARNING",
                          PREFECT_LOGGING_TO_API_ENABLED="true")
        from renkei.demo import PrefectServer, _pick_port

        server = PrefectServer(root / "prefect", _pick_port(18700))
        started = time.perf_counter()
        url = server.start()
        server_s = time.perf_counter() - started
        os.environ["PREFECT_API_URL"] = f"{url}/api"
        print(f"  Prefect server up in {server_s:.1f} s", flush=True)
        try:
            results = _rounds(root, args.size, args.repeat)
        finally:
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)
            server.stop()
    results["server_start_s"] = server_s
    bare = median([r["wall_s"] for r in results["bare"]])
    flow = median([r["wall_s"] for r in results["flow"]])
    tasks = results["flow"][-1]["steps"]
    rows = [["bare SyncRunner", len(results["bare"]), bare, "", ""],
            ["Prefect flow", len(results["flow"]), flow, flow / bare, (flow - bare) / tasks],
            ["first flow run (settle)", 1, results["first_flow_s"], "", ""]]
    print(f"\n{args.size:,} changed leads, Marketo → hub → Salesforce; {tasks} tasks per flow run")
    print(table(["how", "runs", "wall s", "× bare", "overhead s per task"], rows))
    write_result("prefect_overhead", vars(args), results, {
        "bare s": round(bare, 2), "flow s": round(flow, 2), "flow/bare": round(flow / bare, 2),
        "overhead per task s": round((flow - bare) / tasks, 3)})


def _rounds(root: Path, n: int, repeat: int) -> dict[str, Any]:
    from flows.sync import sync_entity
    from renkei.engine.runner import SyncRunner
    from renkei.project import Project, write_project
    from renkei.store import Store

    def bare() -> int:
        steps = [0]
        project = Project.load(root)
        store = Store.open(project.database_url)
        try:
            SyncRunner(project, store, progress=lambda done, _m: steps.__setitem__(0, done)
                       ).sync("lead", mappings=MAPPINGS)
        finally:
            store.close()
            project.close()
        return steps[0]

    def flow() -> int:
        result = sync_entity(entity="lead", project=str(root), mappings=MAPPINGS)
        assert result["status"] == "completed", result
        return -1

    out: dict[str, Any] = {"bare": [], "flow": []}
    with SandboxProcess(n, 100) as sandbox:
        write_project(root / "renkei.yaml",
                      project_settings(sandbox, f"sqlite:///{root / 'renkei.db'}",
                                       mappings_snapshot(root / "mappings")))
        bare()
        started = time.perf_counter()
        flow()  # the first flow run of the process: settles the initial load's echo
        out["first_flow_s"] = time.perf_counter() - started
        for i in range(repeat):
            for how, fn in (("bare", bare), ("flow", flow)):
                sandbox.edit("marketo", n, {"title": f"{how}{i}"})
                started = time.perf_counter()
                steps = fn()
                wall = time.perf_counter() - started
                out[how].append({"wall_s": wall, "steps": steps})
                print(f"  {how:<5} {wall:6.1f} s", flush=True)
                bare()  # settle the echo, unmeasured
    # the flow runs the same steps as the bare runner did, one task each
    for r in out["flow"]:
        r["steps"] = out["bare"][0]["steps"]
    return out


if __name__ == "__main__":
    main()
