"""Runs one lead sync in its own process and kills itself with SIGKILL at a chosen point.

Usage: ``python -m tests.faults.crash_runner SETTINGS.json``, then one line per run on stdin:
``KIND:N`` (kill there) or ``-`` (run to the end). Each run is a child forked from this
already-imported process (imports cost more than a small sync), and this process answers one
line per run: ``killed`` when SIGKILL ended the child, ``exit N`` otherwise. Kinds, counted
over the whole run:

* ``page``: the Nth page a connector delivered (read done, nothing ingested yet);
* ``commit``: the Nth state-store transaction, after its work and before its commit
  (an inbound page with its cursor, a batch's baselines, dead letters, the ledger...);
* ``write``: the Nth batch a vendor accepted, before renkei stored the outcome (the
  window where a careless engine would create the same people again).

SIGKILL gives the process no chance to clean up: what survives is what a power cut leaves.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from connectors.sdk.types import Page, WriteOp, WriteResult
from renkei.engine.runner import SyncRunner
from renkei.project import Project
from renkei.store import Store, Tx

KINDS = ("page", "commit", "write")


class Trigger:
    """Counts hook points and kills the process at the chosen one."""

    def __init__(self, spec: str | None):
        self.kind, self.at = None, 0
        if spec:
            kind, _, n = spec.partition(":")
            if kind not in KINDS or not n.isdigit():
                raise SystemExit(f"RENKEI_CRASH_AT must be KIND:N with KIND in {KINDS}: {spec!r}")
            self.kind, self.at = kind, int(n)
        self.seen: Counter[str] = Counter()

    def tick(self, kind: str) -> None:
        self.seen[kind] += 1
        if kind == self.kind and self.seen[kind] == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


def _hook_store(store: Store, trigger: Trigger) -> None:
    original = store.transaction

    @contextmanager
    def transaction() -> Iterator[Tx]:
        with original() as tx:
            yield tx
            trigger.tick("commit")  # the work is done, the commit has not happened

    store.transaction = transaction  # type: ignore[method-assign]


def _hook_connector(project: Project, name: str, trigger: Trigger) -> None:
    connector = project.connector(name)
    read: Callable[[str, Mapping[str, Any] | None], Iterator[Page]] = connector.read
    write: Callable[[str, Sequence[WriteOp]], list[WriteResult]] = connector.write

    def hooked_read(stream: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        for page in read(stream, state):
            trigger.tick("page")
            yield page

    def hooked_write(stream: str, ops: Sequence[WriteOp]) -> list[WriteResult]:
        results = write(stream, ops)
        trigger.tick("write")
        return results

    connector.read = hooked_read  # type: ignore[method-assign]
    connector.write = hooked_write  # type: ignore[method-assign]


def run_once(settings: dict[str, Any], crash_at: str | None) -> None:
    """One sync in this process, killed at ``crash_at`` if the run gets that far."""
    trigger = Trigger(crash_at)
    project = Project(root=Path(settings["root"]), database_url=settings["db_url"],
                      mappings_dir=Path(settings["mappings_dir"]),
                      ca_bundle=settings["ca_bundle"], connections=settings["connections"])
    store = Store.open(settings["db_url"])
    try:
        _hook_store(store, trigger)
        for name in settings["connections"]:
            _hook_connector(project, name, trigger)
        summary = SyncRunner(project, store).sync("lead")
        print(json.dumps({"status": summary.status, "seen": dict(trigger.seen)}),
              file=sys.stderr)
    finally:
        store.close()
        project.close()


def main(argv: list[str]) -> int:
    settings = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    for line in sys.stdin:
        spec = line.strip()
        pid = os.fork()
        if pid == 0:  # the child: no threads were started before the fork
            code = 0
            try:
                run_once(settings, None if spec == "-" else spec)
            except BaseException:  # noqa: BLE001 - the child must report, then _exit
                traceback.print_exc()
                code = 1
            finally:
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        print("killed" if killed else f"exit {os.waitstatus_to_exitcode(status)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
