"""One sync process for the quota-budget tests: syncs ``lead`` for the given mappings of a
project, capturing the Prefect events it emits with Prefect's own asserting client, and
prints what happened as one JSON line."""

from __future__ import annotations

import json
import sys
from typing import Any


def main(project_path: str, mappings: list[str]) -> None:
    from prefect.events.clients import AssertingEventsClient
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from renkei.engine.runner import SyncRunner
    from renkei.project import Project
    from renkei.store import Store

    EventsWorker.set_client_override(AssertingEventsClient)
    project = Project.load(project_path)
    store = Store.open(project.database_url)
    try:
        # The events go to Prefect's asserting client; the URL only says "Prefect is there".
        with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
            summary = SyncRunner(project, store).sync("lead", mappings=mappings)
            EventsWorker.drain_all()
    finally:
        store.close()
        project.close()
    events: list[dict[str, Any]] = [
        {"event": e.event, "resource": e.resource.id, "payload": e.payload}
        for client in AssertingEventsClient.all for e in getattr(client, "events", [])]
    print(json.dumps({"status": summary.status, "events": events,
                      "stats": [s.as_row() for s in summary.stats]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
