"""Child process of the Marketo activities crash test: one outbound pass, SIGKILLed after the
Nth ``Add Custom Activities`` batch Marketo accepted and before renkei stored the outcome.

Usage: ``python -m tests.e2e.marketo_activities_crash SETTINGS.json N``. The settings name
the database, the mappings directory and the ``marketo`` connection; the hub already holds
the leads (linked) and the activities, so this process only writes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from connectors.sdk.types import WriteOp, WriteResult
from renkei.engine.runner import SyncRunner
from renkei.project import Project
from renkei.store import Store


def main(argv: list[str]) -> int:
    settings = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    kill_at = int(argv[2])
    project = Project(root=Path(settings["root"]), database_url=settings["db_url"],
                      mappings_dir=Path(settings["mappings_dir"]),
                      connections=settings["connections"])
    store = Store.open(settings["db_url"])
    connector = project.connector("marketo")
    write = connector.write
    seen = 0

    def write_then_die(stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        nonlocal seen
        results = write(stream, ops)
        seen += 1
        if seen == kill_at:  # Marketo has the activities; the links are not stored yet
            os.kill(os.getpid(), signal.SIGKILL)
        return results

    connector.write = write_then_die  # type: ignore[method-assign]
    try:
        SyncRunner(project, store).sync("activity", mappings=["marketo-activities"])
    finally:
        store.close()
        project.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
