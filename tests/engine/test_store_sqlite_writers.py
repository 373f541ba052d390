"""SQLite: a transaction that reads before it writes is not refused because another
connection committed in between (a lease renewal, the webhook receiver, a second worker)."""

from __future__ import annotations

import threading
from pathlib import Path

from renkei.store import Store


def test_a_reader_turned_writer_waits_its_turn_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'renkei.db'}"
    a, b = Store.open(url), Store.open(url)
    errors: list[BaseException] = []
    other_done = threading.Event()

    def other_writer() -> None:  # what the lease-renewal thread does every 20 s
        try:
            with b.transaction() as tx:
                tx.cursors.set("leases", "renew", {"at": 1})
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            other_done.set()

    try:
        with a.transaction() as tx:
            assert tx.cursors.get("m", "in") is None          # read first ...
            thread = threading.Thread(target=other_writer)
            thread.start()
            other_done.wait(0.5)                              # ... another commits meanwhile
            tx.cursors.set("m", "in", {"page": 1})            # ... then write
        thread.join(10)
        assert not errors
        with a.transaction() as tx:
            assert tx.cursors.get("m", "in") == {"page": 1}
            assert tx.cursors.get("leases", "renew") == {"at": 1}
    finally:
        a.close()
        b.close()
