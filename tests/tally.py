"""Counts the fault, crash and inbox suites report at the end of a run (issue #9).

Tests add to :data:`TALLY`; under pytest-xdist each worker sends its counts to the controller
(``tests/conftest.py``), which prints one line for the whole run.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping


class Tally:
    """Named counts, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, **amounts: int) -> None:
        with self._lock:
            self.counts.update(amounts)

    def merge(self, counts: Mapping[str, int]) -> None:
        with self._lock:
            self.counts.update(counts)


TALLY = Tally()
