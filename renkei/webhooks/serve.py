"""``renkei serve``: the webhook receiver, with the inbox applied in the background.

The receiver answers vendors; a background thread applies the inbox to the hub every few
seconds (:func:`renkei.webhooks.process.process_inbox`). Stopping the process at any moment
loses no accepted event and applies none twice: see the receiver and processor modules.
"""

from __future__ import annotations

import logging
import threading

import uvicorn

from renkei.project import Project
from renkei.store import Store
from renkei.webhooks.process import process_inbox, routes
from renkei.webhooks.receiver import create_receiver
from renkei.webhooks.sources import WebhookConfigError, make_source

log = logging.getLogger("renkei.webhooks")


def serve(project: Project, *, host: str = "127.0.0.1", port: int = 8787,
          process_every: float | None = 5.0, public_url: str | None = None) -> None:
    """Run the receiver until interrupted.

    Args:
        project: The project (its ``webhooks:`` sources and mappings).
        host: Interface to listen on.
        port: TCP port.
        process_every: Seconds between inbox passes; ``None`` only receives (another
            process, e.g. the Prefect deployment, applies the inbox).
        public_url: The URL vendors call, when a proxy sits in front (HubSpot signs it).

    Raises:
        WebhookConfigError: the project has no webhook sources, or one is wrong.
    """
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
