"""A sync restarted after its worker was SIGKILLed takes the dead worker's lease over at
once instead of skipping the partition for a whole lease (found by the crash suite, #9)."""

from __future__ import annotations

import socket
import subprocess
import sys

from renkei.store import Store
from renkei.store.locks import PartitionLocks, is_dead_local_holder


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_dead_local_holder_is_taken_over_a_live_or_remote_one_is_not(store: Store) -> None:
    dead = f"{socket.gethostname()}:{_dead_pid()}:dead0000"
    remote = "another-host:1:remote00"
    with store.transaction() as tx:
        assert tx.locks.acquire("sync:a:in", dead, 60)
        assert tx.locks.acquire("sync:b:in", remote, 60)
    assert is_dead_local_holder(dead) and not is_dead_local_holder(remote)

    locks = PartitionLocks(store)
    with locks.hold("sync:a:in") as mine:
        assert mine
    with locks.hold("sync:b:in") as mine:
        assert not mine  # a live lease elsewhere is respected until it expires
    with store.transaction() as tx:
        lease = tx.locks.get("sync:b:in")
    assert lease is not None and lease.holder == remote
