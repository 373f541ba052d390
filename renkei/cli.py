"""The ``renkei`` command line (names fixed by DESIGN.md "Interface")."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
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


def cmd_status(args: argparse.Namespace) -> int:
    from renkei.store import Store

    proj = _project(args)
    store = Store.open(proj.database_url)
    try:
        with store.transaction() as tx:
            runs = tx.runs.recent(args.runs)
            letters = tx.dead_letters.all_open()
            conflicts = tx.conflicts.list(status="open")
            since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
            usage = tx.ledger.usage(since=since)
            backlog = {}
            for m in proj.mappings():
                if m.outbound_fields:
                    cursor = int((tx.cursors.get(m.name, "out") or {}).get("seq", 0))
                    backlog[m.name] = max(tx.journal.head(m.entity) - cursor, 0)
        print("Last runs:")
        for r in runs:
            print(f"  {r.started_at[:19]}  {r.kind:<6} {r.entity or '-':<8} {r.status:<10} {r.id}")
        if not runs:
            print("  (none yet: renkei sync)")
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
        print("\nAPI calls in the last 24 h:")
        for name in sorted(set(proj.connections) | set(usage)):
            kinds = usage.get(name, {})
            quota = (proj.connections.get(name, {}).get("config") or {}).get("daily_quota")
            total = sum(kinds.values())
            share = f" of {quota} ({100 * total / int(quota):.1f}%)" if quota else ""
            detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
            print(f"  {name:<16} {total}{share}  {detail}")
    finally:
        store.close()
    return 0


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
                print(resolve_conflict(store, args.id, take=take, value=value))
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
    from renkei.webhooks import WebhookConfigError
    from renkei.webhooks.serve import serve

    try:
        serve(_project(args), host=args.host, port=args.port, public_url=args.public_url,
              process_every=None if args.no_process else args.every)
    except WebhookConfigError as exc:
        print(f"renkei serve: {exc}", file=sys.stderr)
        return 1
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

    s = sub.add_parser("status", help="last runs, backlog, dead letters, conflicts, API use")
    s.add_argument("--runs", type=int, default=10)
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
    s.set_defaults(fn=cmd_serve)

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
