"""The ``renkei`` command line (names fixed by DESIGN.md "Interface")."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

for _k, _v in (("DO_NOT_TRACK", "1"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false")):
    os.environ.setdefault(_k, _v)


def _project(args: argparse.Namespace) -> Any:
    from renkei.project import Project

    return Project.load(args.project)


def cmd_validate(args: argparse.Namespace) -> int:
    from renkei.mapping import validate_paths

    paths = [Path(p) for p in args.files]
    lookup = None
    if not paths:
        try:
            proj = _project(args)
            paths = [proj.mappings_dir]
            if proj.rules_dir is not None and proj.rules_dir.is_dir():
                paths.append(proj.rules_dir)
            if args.online:
                lookup = proj.stream_lookup
        except Exception:  # noqa: BLE001 — no project: validate the default directory
            paths = [Path("mappings")]
    diags = validate_paths(paths, streams=lookup)
    for d in diags:
        print(d.format())
    errors = sum(1 for d in diags if d.severity == "error")
    warnings = len(diags) - errors
    if errors:
        print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
        return 1
    print(f"ok: {', '.join(str(p) for p in paths)} ({warnings} warning(s))", file=sys.stderr)
    return 0


def _fmt(value: Any, show_pii: bool) -> str:
    from renkei.redact import mask_text

    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if show_pii else mask_text(text)


def cmd_plan(args: argparse.Namespace) -> int:
    from renkei.engine.outbound import PlannedWrite
    from renkei.engine.runner import SyncRunner
    from renkei.store import Store

    proj = _project(args)
    store = Store.open(proj.database_url, dry_run=True)
    plan: dict[str, list[PlannedWrite]] = {}
    try:
        for entity in ([args.entity] if args.entity else proj.entities()):
            summary = SyncRunner(proj, store, plan=plan).sync(entity)
            for s in summary.stats:
                if s.direction == "in":
                    print(f"{s.mapping} → hub: read {s.read}, would create {s.created}, "
                          f"update {s.updated}, conflicts {s.conflicts}, fail {s.failed}")
        for mapping, writes in plan.items():
            creates = sum(1 for w in writes if w.mode.value == "create")
            print(f"\nhub → {mapping}: {creates} create(s), {len(writes) - creates} update(s)")
            for w in writes[: args.limit]:
                target = w.system_id or "(new)"
                print(f"  {w.mode.value} {target} (hub {w.record_id})")
                for f, v in w.hub_values.items():
                    if w.mode.value == "create" and v is None:
                        continue
                    before = _fmt(w.before.get(f), args.show_pii) if w.before else "∅"
                    print(f"      {f}: {before} → {_fmt(v, args.show_pii)}")
            if len(writes) > args.limit:
                print(f"  ... and {len(writes) - args.limit} more (--limit)")
    finally:
        store.close()
        proj.close()
    print("\n(dry run: nothing was written anywhere)")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    proj = _project(args)
    entities = [args.entity] if args.entity else proj.entities()
    from flows.sync import sync_entity

    status = 0
    for entity in entities:
        result = sync_entity(entity=entity, project=str(proj.root))
        print(f"{entity}: {result['status']} (run {result['run_id']})")
        for row in result["mappings"]:
            print("  {mapping:<24} {direction:<3} read {read:>6} created {created:>6} "
                  "updated {updated:>6} unchanged {unchanged:>6} conflicts {conflicts:>4} "
                  "failed {failed:>5} api {api_calls:>5} {error}".format(**row))
        if result["status"] != "completed":
            status = 1
    return status


def cmd_reconcile(args: argparse.Namespace) -> int:
    from renkei.reconcile import ReconcileError, reconcile, render_markdown
    from renkei.store import Store

    proj = _project(args)
    names = [args.mapping] if args.mapping else [m.name for m in proj.mappings()
                                                 if m.inbound_fields]
    store = Store.open(proj.database_url)
    try:
        reports = [reconcile(proj, store, name, sample_size=args.sample) for name in names]
    except ReconcileError as exc:
        print(f"renkei reconcile: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
        proj.close()
    print(render_markdown(reports), end="")
    return 1 if any(r.has_drift for r in reports) else 0


#: Recent runs searched for each mapping's last run.
_STATUS_RUN_SCAN = 200


def _mapping_rows(proj: Any, tx: Any, letters: list[Any]) -> list[dict[str, Any]]:
    """Per mapping and direction: its last run (from the run summaries), its cursor and
    its open failed records (dead letters)."""
    from renkei.redact import mask_text

    runs = tx.runs.recent(_STATUS_RUN_SCAN)
    failed = Counter((d.mapping, d.direction) for d in letters)
    rows = []
    for m in proj.mappings():
        for direction in [d for d, f in (("in", m.inbound_fields), ("out", m.outbound_fields))
                          if f]:
            last = next(({"run_id": r.id, "started_at": r.started_at, "run_status": r.status,
                          **row, "error": mask_text(row.get("error") or "")}
                         for r in runs for row in (r.summary or {}).get("mappings", [])
                         if row.get("mapping") == m.name and row.get("direction") == direction),
                        None)
            rows.append({"mapping": m.name, "direction": direction, "entity": m.entity,
                         "connection": m.connection, "last_run": last,
                         "cursor": tx.cursors.get(m.name, direction),
                         "failed_records_open": failed[(m.name, direction)]})
    return rows


def _status_json(proj: Any, store: Any, runs: list[Any], rows: list[dict[str, Any]],
                 letters: list[Any], conflicts: list[Any], backlog: dict[str, int]) -> str:
    import dataclasses

    from renkei.ops.quota import quota_status

    quota = [{**dataclasses.asdict(q), "remaining": getattr(q, "remaining", None)}
             for q in quota_status(proj, store)]
    return json.dumps({
        "runs": [{"id": r.id, "kind": r.kind, "entity": r.entity, "status": r.status,
                  "started_at": r.started_at, "finished_at": r.finished_at,
                  "flow_run_id": r.flow_run_id} for r in runs],
        "mappings": rows, "outbound_backlog": backlog,
        "unconnected_mappings": proj.unconnected_mappings(),
        "dead_letters_open": len(letters), "conflicts_open": len(conflicts),
        "quota": quota}, ensure_ascii=False, indent=2, default=str)


def cmd_status(args: argparse.Namespace) -> int:
    from renkei.store import Store

    proj = _project(args)
    store = Store.open(proj.database_url)
    try:
        with store.transaction() as tx:
            runs = tx.runs.recent(args.runs)
            letters = tx.dead_letters.all_open()
            conflicts = tx.conflicts.list(status="open")
            mapping_rows = _mapping_rows(proj, tx, letters)
            backlog = {}
            for m in proj.mappings():
                if m.outbound_fields:
                    cursor = int((tx.cursors.get(m.name, "out") or {}).get("seq", 0))
                    backlog[m.name] = max(tx.journal.head(m.entity) - cursor, 0)
        if args.json:
            print(_status_json(proj, store, runs, mapping_rows, letters, conflicts, backlog))
            return 0
        print("Last runs:")
        for r in runs:
            print(f"  {r.started_at[:19]}  {r.kind:<6} {r.entity or '-':<8} {r.status:<10} {r.id}")
        if not runs:
            print("  (none yet: renkei sync)")
        print("\nMappings (last run, failed records open, cursor):")
        for row in mapping_rows:
            last, state = row["last_run"], json.dumps(row["cursor"], ensure_ascii=False)
            seen = (f"{last['started_at'][:19]} {last['run_status']:<9} read {last['read']} "
                    f"created {last['created']} updated {last['updated']} failed "
                    f"{last['failed']}" + (f" stopped: {last['error']}" if last["error"] else "")
                    if last else "never run")
            print(f"  {row['mapping']:<28} {row['direction']:<3} {seen}; failed open "
                  f"{row['failed_records_open']}; cursor {state[:80]}")
        print("\nOutbound backlog (journal entries not yet pushed):")
        for name, n in backlog.items():
            print(f"  {name:<28} {n}")
        if proj.unconnected_mappings():
            print("\nMappings not run (their connection is not in renkei.yaml): "
                  + ", ".join(proj.unconnected_mappings()))
        print(f"\nDead letters open: {len(letters)}")
        by = Counter((d.mapping, d.direction, d.category, "permanent" if d.permanent else "retrying")
                     for d in letters)
        for (mapping, direction, cat, state), n in sorted(by.items()):
            print(f"  {mapping:<28} {direction:<3} {cat:<14} {state:<9} {n}")
        print(f"\nConflicts open: {len(conflicts)} (renkei conflicts)")
        from renkei.ops.quota import quota_status

        print("\nAPI calls in the last 24 h against each connection's daily quota:")
        for q in quota_status(proj, store):
            detail = ", ".join(f"{k} {v}" for k, v in sorted(q.by_kind.items()))
            print(f"  {q.connection:<16} {q.describe()}" + (f"  ({detail})" if detail else ""))
        _print_budgets(proj, store)
    finally:
        store.close()
    return 0


def _print_budgets(proj: Any, store: Any) -> None:
    """Per account: use / quota / %, each mapping's use against its allocation, and which
    mappings the shared budget pauses now."""
    from renkei.ops.budget import budget_status

    budgets = [b for b in budget_status(proj, store) if b.quota or b.mappings]
    if not budgets:
        return
    print("\nAPI budget per account (every worker's calls; paused mappings resume on their "
          "own once the window rolls on):")
    for b in budgets:
        if b.quota:
            head = (f"{b.used:,} / {b.quota:,} ({b.percent}%) since {b.window_start}; "
                    f"low priority pauses at {round(100 * b.pause_low_at)}%, normal at "
                    f"{round(100 * b.pause_normal_at)}%, high at 100%")
        else:
            head = f"{b.used:,} (no quota)"
        print(f"  {b.account:<16} {head}")
        for m in b.mappings:
            alloc = (f" of {m.allocation:,} allocated ({100 * m.used // m.allocation}%)"
                     if m.allocation else "")
            state = f"  PAUSED ({m.paused.removeprefix('paused: ')})" if m.paused else ""
            print(f"    {m.mapping:<26} {m.priority:<6} {m.used:>7,} calls{alloc}{state}")


def cmd_conflicts(args: argparse.Namespace) -> int:
    from renkei.engine.conflicts import ConflictResolutionError, resolve_conflict
    from renkei.store import Store

    proj = _project(args)
    store = Store.open(proj.database_url)
    try:
        if args.action == "resolve":
            if args.id is None:
                print("renkei conflicts resolve: give the conflict ID", file=sys.stderr)
                return 2
            value = json.loads(args.value) if args.value is not None else None
            take = "value" if args.value is not None else args.take
            try:
                print(resolve_conflict(store, args.id, take=take, value=value,
                                       mappings=proj.mappings()))
            except ConflictResolutionError as exc:
                print(f"renkei conflicts resolve: {exc}", file=sys.stderr)
                return 1
            return 0
        with store.transaction() as tx:
            items = tx.conflicts.list(status=None if args.all else "open")
        if not items:
            print("no open conflicts")
        for c in items:
            print(f"#{c.id} {c.status:<8} {c.entity} {c.record_id} {c.field} ({c.mapping}): "
                  f"hub {_fmt(c.hub_value, args.show_pii)} vs system "
                  f"{_fmt(c.system_value, args.show_pii)} (was {_fmt(c.baseline_value, args.show_pii)})")
    finally:
        store.close()
    return 0


def cmd_route(args: argparse.Namespace) -> int:
    from renkei.clock import utcnow
    from renkei.rules import LeadNotFoundError, explain_route, reroute
    from renkei.store import Store

    proj = _project(args)
    rules = proj.rules()
    if rules is None or rules.routing is None:
        print(f"renkei route: no routing rules in {proj.rules_dir}", file=sys.stderr)
        return 1
    store = Store.open(proj.database_url)
    try:
        with store.transaction() as tx:
            if args.reroute:
                outcome = reroute(rules, tx, args.email, utcnow())
                print(f"re-routed {len(outcome.routed)} lead(s); the next sync sends the change")
            for line in explain_route(rules, tx, args.email).lines:
                print(line)
    except LeadNotFoundError as exc:
        print(f"renkei route: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def cmd_connectors(args: argparse.Namespace) -> int:
    from connectors.sdk.registry import discover

    for name, info in sorted(discover().items()):
        if info.connector is None:
            print(f"{name:<14} BROKEN  {info.target}: {info.error}")
        else:
            streams = ", ".join(getattr(info.connector, "stream_names", ())) or "(set by the connection)"
            print(f"{name:<14} {info.connector.version:<8} {info.target}  streams: {streams}")
    return 0


def cmd_connector_new(args: argparse.Namespace) -> int:
    from renkei.scaffold import ScaffoldError, new_connector

    try:
        root = new_connector(args.name, Path(args.dir))
    except ScaffoldError as exc:
        print(f"renkei connector new: {exc}", file=sys.stderr)
        return 1
    print(f"created {root}\nnext: cd {root} && pip install -e . && pytest  (see CONTRIBUTING.md)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from renkei.ops.deployments import DeploymentFileError
    from renkei.webhooks import WebhookConfigError
    from renkei.webhooks.serve import serve

    try:
        serve(_project(args), host=args.host, port=args.port, public_url=args.public_url,
              process_every=None if args.no_process else args.every, flows=not args.no_flows,
              prefect_file=Path(args.prefect_file) if args.prefect_file else None,
              interval=args.interval)
    except (WebhookConfigError, DeploymentFileError) as exc:
        print(f"renkei serve: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from renkei.ops.deploy import PrefectServerError, deploy
    from renkei.ops.deployments import DeploymentFileError
    from renkei.webhooks.serve import default_prefect_file

    proj = _project(args)
    path = Path(args.prefect_file) if args.prefect_file else default_prefect_file(proj)
    try:
        report = deploy(path.parent, prefect_file=path, pool=args.pool,
                        project=str(proj.root), notify_block=args.notify)
    except (DeploymentFileError, PrefectServerError) as exc:
        print(f"renkei deploy: {exc}", file=sys.stderr)
        return 1
    finally:
        proj.close()
    print("\n".join(report.lines()))
    print(f"start a worker: prefect worker start --pool {report.pool}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from renkei.ops.retry import retry_failed
    from renkei.store import Store

    proj = _project(args)
    store = Store.open(proj.database_url)
    try:
        report = retry_failed(proj, store, run=args.run, category=args.category,
                              mapping=args.mapping)
    finally:
        store.close()
        proj.close()
    if not report.outcomes:
        print("no open dead letters match" + (f" (not in this project: "
              f"{', '.join(report.skipped_mappings)})" if report.skipped_mappings else ""))
        return 0
    print(f"retried {len(report.outcomes)}: {report.recovered} recovered, "
          f"{report.still_failing} still failing")
    for row in report.by_category():
        now = f"  (now {row['failing_now_as']})" if row["failing_now_as"] else ""
        print(f"  {row['category']:<14} recovered {row['recovered']:>5}  "
              f"still failing {row['still_failing']:>5}{now}")
    for d in report.detail(limit=args.limit):
        print(f"  ✗ {d['mapping']} {d['direction']} {d['record']}: {d['now']}: {d['reason']}")
    return 1 if report.still_failing else 0


def cmd_report(args: argparse.Namespace) -> int:
    from renkei.report import (
        DEFAULT_BANDS,
        ReportConfig,
        ReportConfigError,
        build_report,
        parse_bands,
        parse_date,
        write_outputs,
    )
    from renkei.store import Store

    proj = _project(args)
    try:
        config = ReportConfig(since=parse_date(args.since) if args.since else None,
                              bands=parse_bands(args.bands) if args.bands else DEFAULT_BANDS)
    except ReportConfigError as exc:
        print(f"renkei report: {exc}", file=sys.stderr)
        return 2
    store = Store.open(proj.database_url, create=False)
    try:
        report = build_report(store, config)
    finally:
        store.close()
    out = Path(args.out) if args.out else proj.root / ".renkei" / "reports"
    for path in write_outputs(report, out):
        print(path)
    s = report.summary
    print(f"{s.leads} leads, {s.mql} MQL, {s.sql} SQL, {s.won_leads} won leads; "
          f"{s.won_deals} won deals ¥{s.won_amount:,}, {s.lost_deals} lost", file=sys.stderr)
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.launcher import main as sandbox_main

    return sandbox_main([*args.names, "--size", str(args.size), "--seed", str(args.seed),
                         "--workdir", str(Path(args.workdir).resolve())])


def cmd_demo(args: argparse.Namespace) -> int:
    from renkei.demo import run_demo

    return run_demo(workdir=Path(args.workdir), exit_when_done=args.exit, ui=not args.no_ui,
                    port=args.port)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="renkei", description="連携 renkei — integration hub")
    p.add_argument("--project", help="renkei.yaml or its directory (default: RENKEI_PROJECT or .)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("validate", help="check mapping and rule files")
    s.add_argument("files", nargs="*", help="files or directories (default: the project's mappings)")
    s.add_argument("--online", action="store_true",
                   help="also check system fields against the live stream schemas")
    s.set_defaults(fn=cmd_validate)

    s = sub.add_parser("plan", help="dry run: what each system would receive, field by field")
    s.add_argument("entity", nargs="?")
    s.add_argument("--limit", type=int, default=20, help="records shown per mapping")
    s.add_argument("--show-pii", action="store_true", help="do not mask e-mails and phones")
    s.set_defaults(fn=cmd_plan)

    s = sub.add_parser("sync", help="run the sync flow(s) now")
    s.add_argument("entity", nargs="?")
    s.set_defaults(fn=cmd_sync)

    s = sub.add_parser("reconcile", help="compare a system with the hub: missing, "
                       "never-ingested and drifted records (exit 1 on drift)")
    s.add_argument("mapping", nargs="?", help="one mapping (default: every inbound mapping)")
    s.add_argument("--sample", type=int, default=20, help="drifted records listed per mapping")
    s.set_defaults(fn=cmd_reconcile)

    s = sub.add_parser("status", help="last runs, backlog, dead letters, conflicts, API use")
    s.add_argument("--runs", type=int, default=10)
    s.add_argument("--json", action="store_true", help="machine-readable output (for scripts)")
    s.set_defaults(fn=cmd_status)

    s = sub.add_parser("conflicts", help="list or resolve conflicts held for a person")
    s.add_argument("action", nargs="?", choices=["list", "resolve"], default="list")
    s.add_argument("id", nargs="?", type=int)
    s.add_argument("--take", choices=["hub", "system"], default="system")
    s.add_argument("--value", help="set this value instead (JSON, e.g. '\"MQL\"' or 42)")
    s.add_argument("--all", action="store_true", help="include resolved conflicts")
    s.add_argument("--show-pii", action="store_true")
    s.set_defaults(fn=cmd_conflicts)

    s = sub.add_parser("route", help="explain (or redo) the routing of one hub lead")
    s.add_argument("email", help="the lead's e-mail address")
    s.add_argument("--explain", action="store_true",
                   help="each rule in order, matched or not and why (the default)")
    s.add_argument("--reroute", action="store_true",
                   help="route it again even though it has an owner (journalled for the next sync)")
    s.set_defaults(fn=cmd_route)

    s = sub.add_parser("connectors", help="installed connector plug-ins")
    s.set_defaults(fn=cmd_connectors)

    s = sub.add_parser("connector", help="write a connector: `connector new NAME` scaffolds one")
    verbs = s.add_subparsers(dest="connector_command", required=True)
    s = verbs.add_parser("new", help="generate the package renkei-NAME (see CONTRIBUTING.md)")
    s.add_argument("name", help="connector type name: a lower-case Python identifier")
    s.add_argument("--dir", default=".", help="where to create the package (default: .)")
    s.set_defaults(fn=cmd_connector_new)

    s = sub.add_parser("serve", help="receive vendor webhooks into the inbox and apply them")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8787)
    s.add_argument("--public-url", help="the URL vendors call, if a proxy is in front")
    s.add_argument("--every", type=float, default=5.0, help="seconds between inbox passes")
    s.add_argument("--no-process", action="store_true",
                   help="only receive; another process applies the inbox")
    s.add_argument("--no-flows", action="store_true",
                   help="only the webhook receiver (no scheduled flows)")
    s.add_argument("--prefect-file", help="deployments to serve (default: prefect.yaml)")
    s.add_argument("--interval", type=float,
                   help="replace every interval schedule (seconds; for trials)")
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("deploy", help="register deployments, work pool, concurrency limits "
                                      "and automations on the Prefect server (PREFECT_API_URL)")
    s.add_argument("--prefect-file", help="deployments to register (default: prefect.yaml)")
    s.add_argument("--pool", help="process work pool (default: prefect.yaml's, created if missing)")
    s.add_argument("--notify", metavar="TYPE/NAME",
                   help="notification block the automations send to, e.g. slack-webhook/ops")
    s.set_defaults(fn=cmd_deploy)

    s = sub.add_parser("retry", help="retry open dead letters now; shows which recovered")
    s.add_argument("--run", help="only records that failed in this run (renkei or flow-run id)")
    s.add_argument("--category", help="only this category (authentication, permission, "
                   "validation, duplicate, not_found, rate_limit, vendor_outage, conflict)")
    s.add_argument("--mapping", help="only this mapping")
    s.add_argument("--limit", type=int, default=20, help="still-failing records listed")
    s.set_defaults(fn=cmd_retry)

    s = sub.add_parser("report", help="closed-loop report: funnel and won amount by channel, "
                       "campaign, score band, owner (CSV + SVG)")
    s.add_argument("--out", help="directory for the files (default: .renkei/reports in the project)")
    s.add_argument("--since", help="only leads captured on or after this date (YYYY-MM-DD)")
    s.add_argument("--bands", help="score bands (default: 0-29,30-59,60-89,90+)")
    s.set_defaults(fn=cmd_report)

    s = sub.add_parser("sandbox", help="start all vendor emulators with demo data")
    s.add_argument("names", nargs="*", help="emulators to start (default: all)")
    s.add_argument("--size", type=int, default=2000)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--workdir", default=".renkei/sandbox")
    s.set_defaults(fn=cmd_sandbox)

    s = sub.add_parser("demo", help="the whole loop on the embedded defaults")
    s.add_argument("--exit", action="store_true", help="exit when done instead of keeping the UI up")
    s.add_argument("--no-ui", action="store_true", help="use a temporary Prefect server (no UI)")
    s.add_argument("--port", type=int, default=4200, help="Prefect UI port")
    s.add_argument("--workdir", default=".renkei/demo")
    s.set_defaults(fn=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from connectors.sdk.errors import ConnectorError
    from renkei.project import ProjectError
    from renkei.store import StoreError

    try:
        return int(args.fn(args))
    except (ProjectError, StoreError, ConnectorError) as exc:
        print(f"renkei {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
