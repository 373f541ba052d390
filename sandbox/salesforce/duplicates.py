"""The duplicate rule's index: which leads hold an email, compared case-insensitively.

Salesforce's standard lead duplicate rule matches on email among other fields and answers
DUPLICATES_DETECTED [S]; this org's rule matches email alone, ignoring case and surrounding
spaces [U: the fuzzy name/company matching is not emulated].
"""

from __future__ import annotations

import threading
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterator

from sandbox.salesforce.store import ObjectStore, email_key

__all__ = ["EmailIndex"]


class EmailIndex:
    """Which leads hold an email, case-insensitively, without keeping seeded emails as text.

    Seeded emails are kept as sorted 64-bit hashes (8 bytes each) plus the seeded index; a
    hash hit is confirmed against the regenerated record, so collisions cannot misfire.
    Building it regenerates every seeded lead once (about 40 s for a million), so a large
    org builds it in the background from the start.
    """

    BACKGROUND_FROM = 50_000

    def __init__(self, store: ObjectStore):
        self.store = store
        self._hashes: array[int] = array("Q")  # unsigned 64-bit, sorted
        self._indices: array[int] = array("q")
        self._ready = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        if store.seeded >= self.BACKGROUND_FROM:
            self.start()
        elif store.seed is None:
            self._started = True
            self._ready.set()

    def start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            self._started = True
        if self.store.seeded >= self.BACKGROUND_FROM:
            threading.Thread(target=self._build, name="sf-email-index", daemon=True).start()
        else:
            self._build()

    @staticmethod
    def _hash(email: str) -> int:
        data = email.strip().casefold().encode()
        return (zlib.crc32(data) << 32) | zlib.adler32(data)

    def _build(self) -> None:
        # Seeded records only, straight from the seed: live edits are checked separately.
        pairs = []
        store = self.store
        assert store.seed is not None
        for start in range(0, store.seeded, store.CHUNK):
            for offset, row in enumerate(store.seed.rows(start, min(start + store.CHUNK,
                                                                    store.seeded))):
                if row.get("Email"):
                    pairs.append((self._hash(row["Email"]), start + offset))
        pairs.sort()
        self._hashes = array("Q", (h for h, _ in pairs))
        self._indices = array("q", (i for _, i in pairs))
        self._ready.set()

    def holders(self, email: str) -> Iterator[str]:
        """Ids of live (not deleted) leads whose email equals ``email`` ignoring case."""
        self.start()
        self._ready.wait()
        want = email_key(email)
        h = self._hash(email)
        pos = bisect_left(self._hashes, h)
        while pos < len(self._hashes) and self._hashes[pos] == h:
            index = self._indices[pos]
            # Only while untouched: an edited or deleted seeded lead is a live record now.
            untouched = self.store.key_of(self.store.seeded_id(index)) == index
            if untouched and email_key(self.store.by_key(index).get("Email")) == want:
                yield self.store.seeded_id(index)
            pos += 1
        for record in self.store.live_with_email(want):
            if not record["IsDeleted"]:
                yield record["Id"]
