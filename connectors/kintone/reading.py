"""Incremental reads of one app, ordered by 更新日時 then ``$id``, resumable after any page.

Two ways through the records, both oldest change first:

* **cursor** (a full read, when there is no state): one cursor over
  ``order by 更新日時 asc, $id asc`` read 500 at a time. kintone frees a cursor read to the
  end; one abandoned (the consumer stopped, or a call failed) is deleted in a ``finally``,
  since only 10 may be open per domain; when all 10 are taken (429 GAIA_TM12) the read
  seeks instead.
* **seek** (every later read): ``更新日時 >= "since - overlap" order by 更新日時 asc, $id asc
  limit 500``. After a full page ending at ``(t, id)`` the rest of ``t`` is drained with
  ``更新日時 = "t" and $id > id order by $id asc`` and the read goes on with
  ``更新日時 > "t"``: no ``offset`` at all, so the 10,000 offset cap never bites, and many
  records sharing one timestamp (kintone keeps minutes; a bulk write stamps 100 at once)
  can neither loop nor be skipped.

The state after each page is ``{"since": newest 更新日時 delivered, "seen": {更新日時:
{$id: $revision}}}`` for the records of the last ``overlap_s`` seconds. The next read starts
``overlap_s`` before ``since`` (a change committed late under an earlier timestamp is still
found) and skips what ``seen`` says it already delivered: ``($id, $revision)`` identifies
one version of a record, so a record edited again is delivered again, an unchanged one
never twice.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.kintone.api import MAX_READ, KintoneApi
from connectors.kintone.errors import CURSOR_LIMIT, KintoneApiError
from connectors.kintone.schema import ID, REVISION, decode_record
from connectors.sdk import ConnectorError, Page, ProtocolError

__all__ = ["ReadPlan", "read_app"]

log = logging.getLogger("renkei.connectors.kintone")


@dataclass(frozen=True)
class ReadPlan:
    """How to read one app.

    Attributes:
        app: The app id.
        cursor_field: Field code of the app's UPDATED_TIME field.
        page_size: Records per call (at most 500).
        overlap_s: How far before ``since`` a read starts again.
        cursor_for_full_read: Use the cursor API when there is no state.
    """

    app: int
    cursor_field: str
    page_size: int = MAX_READ
    overlap_s: float = 60.0
    cursor_for_full_read: bool = True


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Progress:
    """What has been delivered: the newest timestamp and the versions near it."""

    since: datetime | None = None
    seen: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, state: Mapping[str, Any] | None) -> _Progress:
        if not state:
            return cls()
        since = _when(state.get("since"))
        if state.get("since") and since is None:
            raise ProtocolError(f"kintone read state has an unreadable since: {state['since']!r}")
        raw = state.get("seen")
        seen = {str(t): {str(i): str(r) for i, r in ids.items()}
                for t, ids in (raw.items() if isinstance(raw, Mapping) else ())
                if isinstance(ids, Mapping)}
        return cls(since, seen)

    def delivered(self, stamp: str, record_id: str, revision: str) -> bool:
        return self.seen.get(stamp, {}).get(record_id) == revision

    def take(self, records: list[dict[str, Any]], cursor_field: str, overlap: timedelta
             ) -> list[dict[str, Any]]:
        """The records not delivered yet; remembers them."""
        fresh = []
        for record in records:
            stamp = str(record.get(cursor_field) or "")
            rid, rev = str(record.get(ID)), str(record.get(REVISION))
            when = _when(stamp)
            if when is None:
                raise ProtocolError(f"kintone record {rid} has no readable {cursor_field}")
            if self.delivered(stamp, rid, rev):
                continue
            fresh.append(record)
            self.seen.setdefault(stamp, {})[rid] = rev
            if self.since is None or when > self.since:
                self.since = when
        if self.since is not None:
            floor = self.since - overlap
            self.seen = {t: ids for t, ids in self.seen.items()
                         if (w := _when(t)) is not None and w >= floor}
        return fresh

    def state(self) -> dict[str, Any]:
        if self.since is None:
            return {}
        return {"since": _stamp(self.since),
                "seen": {t: dict(ids) for t, ids in sorted(self.seen.items())}}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_app(api: KintoneApi, plan: ReadPlan, state: Mapping[str, Any] | None
             ) -> Generator[Page, None, None]:
    """Pages of the app's records changed since ``state`` (everything when ``None``).

    A generator: closing it early (or an error inside) deletes an open cursor.
    """
    progress = _Progress.load(state)
    if progress.since is None and plan.cursor_for_full_read:
        order = f"order by {plan.cursor_field} asc, {ID} asc"
        try:
            cursor = api.create_cursor(plan.app, order, plan.page_size)
        except KintoneApiError as exc:
            if exc.code != CURSOR_LIMIT:
                raise
            log.warning("kintone app %s: the domain's 10 cursors are in use; reading by seek",
                        plan.app)
        else:
            yield from _read_by_cursor(api, plan, progress, cursor)
            return
    yield from _read_by_seek(api, plan, progress)


def _page(raw: list[dict[str, Any]], plan: ReadPlan, progress: _Progress) -> Page | None:
    records = [decode_record(r) for r in raw]
    fresh = progress.take(records, plan.cursor_field, timedelta(seconds=plan.overlap_s))
    return Page(records=fresh, state=progress.state()) if fresh else None


def _read_by_cursor(api: KintoneApi, plan: ReadPlan, progress: _Progress, cursor: str
                    ) -> Iterator[Page]:
    finished = False
    try:
        more = True
        while more:
            raw, more = api.cursor_page(plan.app, cursor)
            finished = not more  # kintone freed it with the last page
            page = _page(raw, plan, progress)
            if page is not None:
                yield page
    finally:
        if not finished:
            try:
                api.delete_cursor(plan.app, cursor)
            except ConnectorError as exc:  # it expires in 10 min; the first error matters more
                log.warning("kintone app %s: could not delete an abandoned cursor: %s",
                            plan.app, exc)


def _read_by_seek(api: KintoneApi, plan: ReadPlan, progress: _Progress) -> Iterator[Page]:
    field_ = plan.cursor_field
    order = f"order by {field_} asc, {ID} asc limit {plan.page_size}"
    if progress.since is None:
        query = order
    else:
        start = progress.since - timedelta(seconds=plan.overlap_s)
        query = f"{field_} >= {_quote(_stamp(start))} {order}"
    while True:
        raw = api.records(plan.app, query)
        page = _page(raw, plan, progress)
        if page is not None:
            yield page
        if len(raw) < plan.page_size:
            return
        last = raw[-1]
        stamp = str(last.get(field_, {}).get("value", ""))
        last_id = str(last.get(ID, {}).get("value", ""))
        if _when(stamp) is None or not last_id.isdigit():
            raise ProtocolError(f"kintone app {plan.app}: a record without {field_} or $id")
        # The rest of this timestamp first, by id; then what came after it.
        while True:
            raw = api.records(plan.app, f"{field_} = {_quote(stamp)} and {ID} > {last_id} "
                                        f"order by {ID} asc limit {plan.page_size}")
            page = _page(raw, plan, progress)
            if page is not None:
                yield page
            if len(raw) < plan.page_size:
                break
            last_id = str(raw[-1].get(ID, {}).get("value", ""))
        query = f"{field_} > {_quote(stamp)} {order}"
