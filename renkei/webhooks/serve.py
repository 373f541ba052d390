"""``renkei serve``: the webhook receiver and renkei's scheduled flows, in one process.

The receiver answers vendors. With ``flows=True`` (the CLI's default) the deployments of
prefect.yaml are served locally with their schedules (Prefect's ``serve()``: no work pool, no
worker), the receiver runs in a thread, and the ``webhook-inbox`` deployment applies the inbox.
With ``flows=False`` a background thread applies the inbox every few seconds instead
(:func:`renkei.webhooks.process.process_inbox`). Stopping the process at any moment loses no
accepted event and applies none twice: see the receiver and processor modules.

Schedules need a Prefect server (``PREFECT_API_URL``); the temporary one Prefect starts
without it never fires them.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import uvicorn

from renkei.project import Project
from renkei.store import Store
from renkei.webhooks.process import process_inbox, routes
from renkei.webhooks.receiver import create_receiver
from renkei.webhooks.sources import WebhookConfigError, make_source

log = logging.getLogger("renkei.webhooks")


def serve(project: Project, *, host: str = "127.0.0.1", port: int = 8787,
          process_every: float | None = 5.0, public_url: str | None = None,
          flows: bool = False, prefect_file: Path | None = None,
          interval: float | None = None) -> None:
    """Run the receiver (and the scheduled flows) until interrupted.

    Args:
        project: The project (its ``webhooks:`` sources and mappings).
        host: Interface to listen on.
        port: TCP port.
        process_every: Seconds between inbox passes; ``None`` only receives (another
            process, e.g. the Prefect deployment, applies the inbox).
        public_url: The URL vendors call, when a proxy sits in front (HubSpot signs it).
        flows: Also serve prefect.yaml's deployments with their schedules.
        prefect_file: The deployments (default: the project's prefect.yaml, else renkei's).
        interval: Replace every interval schedule (seconds; for trials and tests).

    Raises:
        WebhookConfigError: the project has no webhook sources (and no flows are served),
            or a source is wrong.
    """
    if flows:
        _serve_with_flows(project, host=host, port=port, public_url=public_url,
                          prefect_file=prefect_file, interval=interval)
        return
    if not project.webhooks:
        raise WebhookConfigError("the project has no `webhooks:` sources to receive")
    sources = {name: make_source(name, project.webhook_settings(name))
               for name in project.webhooks}
    routes(project)  # a wrong mapping or jmespath fails now, not at the first event
    store = Store.open(project.database_url)
    stop = threading.Event()
    worker = None
    if process_every is not None:
        worker = threading.Thread(target=_process_loop, name="inbox-processor", daemon=True,
                                  args=(project, store, process_every, stop))
        worker.start()
    app = create_receiver(store, sources, public_url=public_url)
    print(f"renkei receiver on http://{host}:{port}/webhooks/{{source}} "
          f"(sources: {', '.join(sorted(sources))})", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        stop.set()
        if worker is not None:
            worker.join(timeout=30)
        store.close()


def default_prefect_file(project: Project) -> Path:
    """The project's own prefect.yaml if it has one, else the one shipped with renkei."""
    own = project.root / "prefect.yaml"
    if own.is_file():
        return own
    import flows as renkei_flows

    return Path(renkei_flows.__file__).resolve().parent.parent / "prefect.yaml"


def _serve_with_flows(project: Project, *, host: str, port: int, public_url: str | None,
                      prefect_file: Path | None, interval: float | None) -> None:
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL

    from renkei.ops.deploy import ensure_limits, sync_limits
    from renkei.ops.deployments import available, build, load_specs

    path = prefect_file or default_prefect_file(project)
    specs, skipped = available(load_specs(path), path.parent)
    for name in skipped:
        log.warning("deployment %s not served: its flow module is not installed", name)
    if not PREFECT_API_URL.value():
        log.warning("no PREFECT_API_URL: schedules only fire on a Prefect server "
                    "(prefect server start)")
    ensure_limits(sync_limits(specs))  # the sync flow takes them strictly
    deployments = [build(s, path.parent, project=str(project.root), interval=interval)
                   for s in specs]
    receiver = _start_receiver(project, host, port, public_url) if project.webhooks else None
    print(f"renkei serving {len(deployments)} deployment(s): "
          f"{', '.join(d.name for d in deployments)}", flush=True)
    try:
        prefect_serve(*deployments, limit=int(os.environ.get("RENKEI_SERVE_LIMIT", "4")))
    finally:
        if receiver is not None:
            server, thread, store = receiver
            server.should_exit = True
            thread.join(timeout=10)
            store.close()


def _start_receiver(project: Project, host: str, port: int,
                    public_url: str | None) -> tuple[Any, threading.Thread, Store]:
    """The receiver on a thread (the main thread belongs to Prefect's runner and signals)."""
    sources = {name: make_source(name, project.webhook_settings(name))
               for name in project.webhooks}
    routes(project)
    store = Store.open(project.database_url)
    app = create_receiver(store, sources, public_url=public_url)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="webhook-receiver", daemon=True)
    thread.start()
    print(f"renkei receiver on http://{host}:{port}/webhooks/{{source}} "
          f"(sources: {', '.join(sorted(sources))})", flush=True)
    return server, thread, store


def _process_loop(project: Project, store: Store, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            report = process_inbox(project, store)
        except Exception as exc:  # noqa: BLE001 — logged; events stay pending
            log.error("inbox pass failed: %s: %s", type(exc).__name__, exc)
            continue
        if report.processed or report.failed:
            log.info("inbox: %d events applied (%d records), %d ignored, %d failed",
                     report.processed, report.records, report.ignored, report.failed)


__all__ = ["serve"]
