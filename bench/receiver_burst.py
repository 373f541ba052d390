"""Webhook receiver under a burst: N signed events on loopback, throughput and latency.

The receiver runs as `renkei serve --no-process` in its own process (as in production) on a
SQLite or PostgreSQL store; a client sends N HMAC-signed events with C in flight. Reported:
accepted events per second, p50/p99 latency, and a check that every event answered 200 is
in the inbox (the promise: stored before the answer).

    .venv/bin/python bench/receiver_burst.py --events 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-receiver-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _project(tmp: Path, db_url: str) -> None:
    (tmp / "mappings").mkdir()
    (tmp / "mappings" / "leads.yaml").write_text(
        "name: crm-leads\nconnection: crm\nstream: leads\nentity: lead\n"
        "match: [{name: email, fields: [email], normalize: email}]\n"
        "fields:\n  email: Email\n  last_name: LastName\n", encoding="utf-8")
    (tmp / "renkei.yaml").write_text(json.dumps({
        "database": db_url, "mappings": "mappings",
        "connections": {"crm": {"type": "memory", "config": {"dataset": "bench"}}},
        "webhooks": {"crm": {"verify": "hmac", "secret": "${BENCH_HOOK_SECRET}",
                             "mapping": "crm-leads", "records": "record"}}}), encoding="utf-8")


def _event(i: int) -> bytes:
    return json.dumps({"id": f"evt-{i}", "type": "UPDATE_RECORD", "record": {
        "id": f"lea-{i}", "Email": f"person{i}@example.co.jp", "LastName": "山田"}},
        ensure_ascii=False).encode()


def _burst(url: str, n: int, concurrency: int) -> tuple[list[float], int]:
    """Send n events from ``concurrency`` threads, each with its own keep-alive client.

    (Threads, not one asyncio client: httpx's async pool is the bottleneck above a few
    dozen connections and would measure the client instead of the receiver.)
    """
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    oks = [0] * concurrency

    def worker(k: int) -> None:
        with httpx.Client(timeout=30) as client:
            for i in range(k, n, concurrency):
                body = _event(i)
                ts = str(int(time.time()))  # signed when sent, as a vendor does
                sig = hmac.new(SECRET.encode(), ts.encode() + b"." + body,
                               hashlib.sha256).hexdigest()
                t0 = time.perf_counter()
                r = client.post(url, content=body, headers={
                    "x-renkei-timestamp": ts, "x-renkei-signature": "sha256=" + sig})
                latencies[k].append(time.perf_counter() - t0)
                oks[k] += r.status_code == 200

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return [x for lat in latencies for x in lat], sum(oks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--db", default="", help="store URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        db = args.db or f"sqlite:///{tmp / 'hub.db'}"
        _project(tmp, db)
        port = _free_port()
        env = {**os.environ, "BENCH_HOOK_SECRET": SECRET, "DO_NOT_TRACK": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "renkei.cli", "--project", str(tmp),
                                 "serve", "--no-process", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            started = time.perf_counter()
            lat, ok = _burst(f"http://127.0.0.1:{port}/webhooks/crm", args.events,
                             args.concurrency)
            wall = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        from renkei.store import Store
        store = Store.open(db)
        with store.transaction() as tx:
            stored = tx.inbox.counts().get("pending", 0)
        store.close()
    lat.sort()
    result = {
        "benchmark": "receiver_burst", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                 capture_output=True, text=True, check=False).stdout.strip(),
        "store": "postgresql" if db.startswith("postgresql") else "sqlite",
        "events": args.events, "concurrency": args.concurrency, "accepted": ok,
        "in_inbox": stored, "wall_s": round(wall, 2),
        "events_per_s": round(ok / wall), "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1),
    }
    print("| events | concurrency | store | accepted | in inbox | events/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.events:,} | {args.concurrency} | {result['store']} | {ok:,} | {stored:,} | "
          f"{result['events_per_s']:,} | {result['p50_ms']} | {result['p99_ms']} |")
    out = ROOT / "bench" / "results" / "receiver_burst.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if ok != stored:
        sys.exit(f"MISMATCH: {ok} accepted but {stored} in the inbox")


if __name__ == "__main__":
    main()
