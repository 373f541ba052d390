"""What every benchmark shares: result files, tables, medians, the sandbox process, projects.

Result files (``bench/results/<name>.json``) carry the machine, the git commit (and whether
the tree had uncommitted changes), the date and the parameters, so a later run can be put
next to this one; :func:`write_result` prints the previous file's medians beside the new.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
_LOAD_AT_START = [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """Where the numbers come from: CPU, cores, memory, Python, load at the start and end."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            # 1, 5, 15-minute load averages: the machine is shared, so say how busy it was
            "load_avg_at_start": _LOAD_AT_START,
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]}


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def cpu_self() -> float:
    """CPU seconds of this process (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table; numbers right-aligned with thousands separators."""
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)
    cells = [[cell(v) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    for r, raw in zip(cells, rows):
        lines.append("  ".join(c.rjust(w) if isinstance(v, (int, float)) else c.ljust(w)
                               for c, v, w in zip(r, raw, widths)))
    return "\n".join(lines)


def write_result(name: str, params: dict[str, Any], results: Any,
                 summary: dict[str, Any] | None = None) -> Path:
    """Write ``bench/results/<name>.json``; print the previous run's summary beside this one."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    if path.exists() and summary:
        try:
            old = json.loads(path.read_text())
            before = old.get("summary") or {}
            print(f"\ncompared with the previous run ({old.get('date')}, "
                  f"{str(old.get('git', {}).get('commit', ''))[:10]}):")
            for k, v in summary.items():
                print(f"  {k:<48} {before.get(k, '-')!s:>14} -> {v!s:>14}")
        except (OSError, ValueError):
            pass
    doc = {"benchmark": name, "date": datetime.now(UTC).isoformat(timespec="seconds"),
           "git": git_commit(), "machine": machine(), "argv": sys.argv[1:],
           "parameters": params, "summary": summary or {}, "results": results}
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nwrote {path.relative_to(REPO)}")
    return path


def run_child(module: str, args: Sequence[str], timeout: float = 3600) -> dict[str, Any]:
    """Run ``python -m module args`` in a fresh process; its last stdout line is JSON."""
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


class SandboxProcess:
    """The Marketo, Salesforce and kintone emulators in a child process (``bench.sandbox_proc``).

    Args:
        marketo: Seeded Marketo leads.
        salesforce: Seeded Salesforce leads (40% of them Marketo people too).
        kintone: kintone's seed size; its リードマスタ holds every fifth person of it, who
            are Marketo leads too (default: ``marketo``).
        vendor_limits: Keep Marketo's 100 calls / 20 s, kintone's concurrency and the daily
            quotas.
    """

    def __init__(self, marketo: int, salesforce: int, *, kintone: int | None = None,
                 vendor_limits: bool = False):
        args = [sys.executable, "-m", "bench.sandbox_proc", "--marketo", str(marketo),
                "--salesforce", str(salesforce)]
        if kintone is not None:
            args += ["--kintone", str(kintone)]
        if vendor_limits:
            args.append("--vendor-limits")
        self.proc = subprocess.Popen(args, cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        hello = self._read()
        self.urls: dict[str, str] = hello["urls"]
        self.ca: str = hello["ca"]
        self.credentials: dict[str, dict[str, str]] = hello["credentials"]

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process ended")
        return dict(json.loads(line))

    def ask(self, cmd: str, **kw: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def calls(self) -> dict[str, int]:
        """Vendor API calls each emulator has received so far."""
        return {n: int(v["total"]) for n, v in self.ask("calls").items()}

    def cpu(self) -> float:
        return float(self.ask("cpu")["cpu_s"])

    def edit(self, system: str, first: int, changes: dict[str, Any], offset: int = 0) -> int:
        return int(self.ask("edit", system=system, first=first, changes=changes,
                            offset=offset)["edited"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("stop")
            except (RuntimeError, BrokenPipeError):
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


MAPPING_FILES = ("marketo-leads.yaml", "salesforce-leads.yaml", "kintone-leads.yaml")


def mappings_snapshot(dest: Path) -> Path:
    """The lead mappings as committed at HEAD, copied to ``dest`` (no rule files).

    A project runs only the mappings whose connection it names, so a project without a
    ``kintone`` connection (``bench.engine``'s) leaves kintone-leads out. No ``rules``
    directory is copied: benchmarked syncs have no rules phase.

    The checkout is shared with people editing mapping files and entity schemas; a run that
    read a half-edited file would fail or measure something else than the commit it names.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in MAPPING_FILES:
        text = subprocess.run(["git", "show", f"HEAD:mappings/{name}"], cwd=REPO, check=True,
                              capture_output=True, text=True).stdout
        (dest / name).write_text(text, encoding="utf-8")
    return dest


def project_settings(sandbox: SandboxProcess, database_url: str, mappings: Path, *,
                     vendor_limits: bool = False) -> dict[str, Any]:
    """``renkei.yaml`` settings for the sandbox; client-side rate limits off unless kept.

    The ``kintone`` connection reaches リードマスタ only (stream ``leads``, app 1), with that
    app's API token. Its daily quota is off too: with any quota set the project's shared
    budget (renkei/ops/budget.py) checks the store before every phase, for every mapping.
    """
    mk, sf = sandbox.credentials["marketo"], sandbox.credentials["salesforce"]
    kn = sandbox.credentials["kintone"]
    marketo: dict[str, Any] = {"base_url": sandbox.urls["marketo"], "client_id": mk["client_id"],
                               "client_secret": mk["client_secret"], "munchkin_id": "bench"}
    kintone: dict[str, Any] = {"base_url": sandbox.urls["kintone"], "api_token": kn["api_token"],
                               "apps": {"leads": int(kn["app"])}}
    if not vendor_limits:
        marketo.update(rate_limit_calls=0, concurrency=0, daily_quota=0)
        kintone.update(concurrency=0, daily_quota=0)
    return {
        "database": database_url,
        "mappings": str(mappings),
        "ca_bundle": sandbox.ca,
        "connections": {
            "marketo": {"type": "marketo", "config": marketo},
            "salesforce": {"type": "salesforce", "config": {
                "login_url": sandbox.urls["salesforce"], "client_id": sf["client_id"],
                "client_secret": sf["client_secret"], "external_id_field": "Renkei_Id__c"}},
            "kintone": {"type": "kintone", "config": kintone},
        },
    }


class Timer:
    """Wall and CPU time of a block."""

    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    t = Timer()
    w, c = time.perf_counter(), cpu_self()
    try:
        yield t
    finally:
        t.wall, t.cpu = time.perf_counter() - w, cpu_self() - c


def repeat(n: int, fn: Callable[[], float]) -> list[float]:
    return [fn() for _ in range(n)]
