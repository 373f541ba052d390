"""The cursor API's cursors: at most 10 per domain, 10 minutes of life after last use.

Facts [C: cybozu.dev "カーソルを作成する" and "カーソルAPIを使ってレコードを一括取得する"]:
``size`` 1..500, default 100; ``query`` may not hold ``limit``/``offset``; a cursor is freed
when its last records are read; 10 cursors per domain; a cursor lives 10 minutes after it was
created or last read. Errors [S]: creating an 11th → 429 GAIA_TM12 (measured by a public
project); an unknown or expired id → GAIA_CU01, here with 404 [U: status].
Records are the snapshot taken at creation [U].
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.kintone.errors import KintoneError
from sandbox.kintone.store import StoredRecord

__all__ = ["Cursor", "CursorRegistry"]


@dataclass
class Cursor:
    """One open cursor."""

    id: str
    app_id: int
    fields: list[str] | None
    records: list[StoredRecord]
    size: int
    position: int = 0
    last_used: float = field(default=0.0)


class CursorRegistry:
    """The domain's open cursors.

    Args:
        max_cursors: How many may be open at once (kintone: 10).
        ttl_s: Idle seconds before a cursor expires (kintone: 600).
        clock: Monotonic clock, replaceable in tests.
    """

    def __init__(self, max_cursors: int = 10, ttl_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_cursors = max_cursors
        self.ttl_s = ttl_s
        self._clock = clock
        self._cursors: dict[str, Cursor] = {}
        self._lock = threading.Lock()

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, c in self._cursors.items() if now - c.last_used >= self.ttl_s]:
            del self._cursors[key]

    def open_count(self) -> int:
        """Cursors currently open (expired ones dropped first)."""
        with self._lock:
            self._expire()
            return len(self._cursors)

    def create(self, app_id: int, fields: list[str] | None, records: list[StoredRecord],
               size: int) -> Cursor:
        """Open a cursor over ``records``.

        Raises:
            KintoneError: 429 GAIA_TM12 when the domain already has ``max_cursors``.
        """
        with self._lock:
            self._expire()
            if len(self._cursors) >= self.max_cursors:
                raise KintoneError(
                    429, "GAIA_TM12",
                    "作成できるカーソルの上限に達しているため、カーソルを作成できません。"
                    "不要なカーソルを削除するか、しばらく経ってから再実行してください。",
                )
            cursor = Cursor(str(uuid.uuid4()), app_id, fields, records, size,
                            last_used=self._clock())
            self._cursors[cursor.id] = cursor
            return cursor

    def _find(self, cursor_id: str) -> Cursor:
        self._expire()
        cursor = self._cursors.get(cursor_id)
        if cursor is None:
            raise KintoneError(404, "GAIA_CU01", f"指定したカーソル（id: {cursor_id}）が見つかりません。")
        return cursor

    def read(self, cursor_id: str) -> tuple[Cursor, list[StoredRecord], bool]:
        """The next ``size`` records and whether more remain; the last read frees the cursor."""
        with self._lock:
            cursor = self._find(cursor_id)
            page = cursor.records[cursor.position:cursor.position + cursor.size]
            cursor.position += len(page)
            more = cursor.position < len(cursor.records)
            cursor.last_used = self._clock()
            if not more:
                del self._cursors[cursor_id]
            return cursor, page, more

    def delete(self, cursor_id: str) -> None:
        """Close a cursor (GAIA_CU01 if it is not open)."""
        with self._lock:
            self._find(cursor_id)
            del self._cursors[cursor_id]

    def clear(self) -> None:
        """Close every cursor."""
        with self._lock:
            self._cursors.clear()
