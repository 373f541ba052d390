"""One sync worker process for the scale-out test: syncs ``lead`` until a run finds every
partition free and nothing left to write, then prints what it did as one JSON line."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from renkei.engine.runner import SyncRunner
from renkei.project import Project
from renkei.store import Store
from renkei.store.locks import PartitionLocks


def main(config_path: str, name: str) -> None:
    cfg = json.loads(Path(config_path).read_text())
    logging.basicConfig(level=logging.WARNING)
    project = Project(root=Path(cfg["root"]), database_url=cfg["db_url"],
                      mappings_dir=Path(cfg["mappings_dir"]), ca_bundle=cfg["ca_bundle"],
                      connections=cfg["connections"])
    store = Store.open(cfg["db_url"])
    runs = []
    try:
        for _ in range(8):
            locks = PartitionLocks(store, ttl_s=30.0, wait_s=float(cfg["wait_s"]),
                                   holder=f"{name}")
            summary = SyncRunner(project, store, locks=locks).sync("lead")
            written = {f"{s.mapping}:{s.direction}": s.created + s.updated
                       for s in summary.stats if s.direction == "out"}
            runs.append({"status": summary.status,
                         "errors": [s.error for s in summary.stats if s.error],
                         "read": {f"{s.mapping}:{s.direction}": s.read for s in summary.stats},
                         "written": written,
                         "locks": [{"name": e.name, "acquired": e.acquired,
                                    "waited_s": e.waited_s, "other": e.other_holder}
                                   for e in locks.events]})
            if all(e.acquired for e in locks.events) and not any(written.values()):
                break
            time.sleep(0.3)  # let the other worker finish what it holds
    finally:
        store.close()
        project.close()
    print(json.dumps({"worker": name, "runs": runs}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
