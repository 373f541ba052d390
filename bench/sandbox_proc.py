"""The sandbox emulators in a process of their own, driven over stdin/stdout (not a test).

Benchmarks start this with :class:`bench.common.SandboxProcess` so that the emulators' CPU
time is not charged to renkei: the bench process measures itself, this process reports its
own CPU time. Vendor rate limits and quotas are lifted (unless ``--vendor-limits``),
because a benchmark of renkei's own cost must not measure Marketo's 100 calls per 20 s; the
reports say so.

Three emulators: Marketo, Salesforce (TLS) and kintone (plain HTTP, as
``sandbox.launcher`` serves it). kintone's リードマスタ (app 1) is seeded by the emulator
itself with every fifth person of the same seed (``--kintone`` is its ``size``, by default
Marketo's, so those people are Marketo leads too); the hello line gives app 1's API token.
kintone's limits (100 requests in flight per domain, 10,000 requests per app per day) are
lifted like the others unless ``--vendor-limits``.

Protocol: one JSON object per line on stdin, one JSON answer per line on stdout.
``{"cmd": "edit", "system": "marketo", "first": 1000, "changes": {...}}`` edits the first
1000 records as a user would (for kintone ``changes`` are field codes of リードマスタ:
``{"役職": "部長"}``); ``calls`` counts calls per system; ``count`` is the records per system
(Marketo leads, Salesforce Leads, リードマスタ records); ``activities`` is the length of
Marketo's activity log (for the API minimum: activity pages scan a bounded window);
``kintone`` is the kintone domain's open cursors and today's requests per app; ``cpu`` is
this process's CPU seconds; ``stop`` ends it.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from sandbox.core.server import EmulatorServer
from sandbox.core.tls import make_tls
from sandbox.kintone import API_TOKENS, KintoneEmulator, KintoneSettings
from sandbox.kintone.schema import LEADS
from sandbox.marketo.app import MarketoEmulator
from sandbox.marketo.config import MarketoConfig
from sandbox.marketo.limits import LimitConfig
from sandbox.salesforce import SalesforceEmulator, SalesforceSettings

OBJECT = {"marketo": "leads", "salesforce": "Lead", "kintone": str(LEADS.id)}
UNLIMITED = 1_000_000_000


def _record_id(system: str, record: dict[str, Any]) -> str:
    if system == "kintone":  # kintone's JSON: {"$id": {"type": "__ID__", "value": "12"}}
        return str(record["$id"]["value"])
    return str(record["id" if system == "marketo" else "Id"])


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--marketo", type=int, required=True)
    parser.add_argument("--salesforce", type=int, required=True)
    parser.add_argument("--kintone", type=int, default=None,
                        help="kintone's seed size (リードマスタ gets a fifth; default --marketo)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--vendor-limits", action="store_true",
                        help="keep the vendors' rate limits and quotas")
    args = parser.parse_args()
    limits = LimitConfig() if args.vendor_limits else LimitConfig(
        rate_calls=0, concurrency=0, daily_quota=0)
    apps: dict[str, Any] = {
        "marketo": MarketoEmulator(MarketoConfig(size=args.marketo, seed=args.seed,
                                                 limits=limits, munchkin_id="bench")),
        "salesforce": SalesforceEmulator(SalesforceSettings(
            size=args.salesforce, seed=args.seed, marketo_size=args.marketo,
            daily_api_limit=100_000 if args.vendor_limits else UNLIMITED)),
        "kintone": KintoneEmulator(KintoneSettings(
            size=args.marketo if args.kintone is None else args.kintone, seed=args.seed,
            concurrency_limit=100 if args.vendor_limits else UNLIMITED,
            daily_limit=10_000 if args.vendor_limits else UNLIMITED)),
    }
    workdir = Path(tempfile.mkdtemp(prefix="renkei-bench-sandbox-"))
    tls = make_tls(workdir / "tls")
    servers = {"marketo": EmulatorServer(apps["marketo"].asgi(), name="marketo"),
               "salesforce": EmulatorServer(apps["salesforce"].asgi(), name="salesforce", tls=tls),
               "kintone": EmulatorServer(apps["kintone"].asgi(), name="kintone")}
    for s in servers.values():
        s.start()
    credentials = {n: a.credentials() for n, a in apps.items()}
    credentials["kintone"] = {"api_token": API_TOKENS[LEADS.id], "app": str(LEADS.id)}
    hello = {"urls": {n: s.url for n, s in servers.items()}, "ca": str(tls.ca_path),
             "credentials": credentials}
    print(json.dumps(hello), flush=True)
    try:
        for line in sys.stdin:
            req = json.loads(line)
            cmd = req["cmd"]
            if cmd == "stop":
                break
            answer: dict[str, Any]
            if cmd == "edit":
                system = req["system"]
                app, obj = apps[system], OBJECT[system]
                records, _ = app.list_records(obj, offset=req.get("offset", 0), limit=req["first"])
                for r in records:
                    app.edit_record(obj, _record_id(system, r), req["changes"])
                answer = {"edited": len(records)}
            elif cmd == "calls":
                answer = {n: {"total": len(a.calls), "last_seq": a.calls.last_seq}
                          for n, a in apps.items()}
            elif cmd == "activities":
                answer = {"marketo": len(apps["marketo"].store.log),
                          "scan_limit": apps["marketo"].config.scan_limit}
            elif cmd == "count":
                answer = {n: a.list_records(OBJECT[n], offset=0, limit=1)[1]
                          for n, a in apps.items()}
            elif cmd == "kintone":
                kintone = apps["kintone"]
                answer = {"open_cursors": kintone.cursors.open_count(),
                          "usage": kintone.usage.snapshot()}
            elif cmd == "cpu":
                answer = {"cpu_s": _cpu()}
            else:
                answer = {"error": f"unknown command {cmd!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        for s in servers.values():
            s.stop()
        apps["kintone"].close()  # its webhook thread
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
