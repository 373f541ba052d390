"""Incremental reads of one app, ordered by 更新日時 then ``$id``, resumable after any page.

Two ways through the records, both oldest change first:

* **cursor** (a full read, when there is no state): one cursor over
  ``order by 更新日時 asc, $id asc`` read 500 at a time. kintone frees a cursor read to the
  end; one abandoned (the consumer stopped, or a call failed) is deleted in a ``finally``,
  since only 10 may be open per domain; when all 10 are taken (429 GAIA_TM12) the read
  seeks instead.
* **seek** (every later read): ``更新日時 >= "since - overlap" order by 更新日時 asc, $id asc
  limit 500`` (or ``更新日時 > "closed"``, below). After a full page ending at ``(t, id)``
  the rest of ``t`` is drained with ``更新日時 = "t" and $id > id order by $id asc`` and the
  read goes on with ``更新日時 > "t"``: no ``offset`` at all, so the 10,000 offset cap never
  bites, and many records sharing one timestamp (kintone keeps minutes; a bulk write stamps
  thousands at once) can neither loop nor be skipped.

The state after each page is ``{"since": newest 更新日時 delivered, "seen": {更新日時:
{$id: $revision}}, "closed": 更新日時?}``. The next read starts ``overlap_s`` before
``since`` (a change committed late under an earlier timestamp is still found) and skips
what ``seen`` says it already delivered: ``($id, $revision)`` identifies one version of a
record, so a record edited again is delivered again, an unchanged one never twice.

**Closed minutes.** Re-reading the overlap costs a call per 500 records stamped in it: after
a bulk write of K records in one minute, ``ceil(K/500)`` calls on every read until a newer
change comes, in a quiet app forever. So a read that ran to its end records ``"closed":
since`` when its first call was answered at a *server* time (the ``Date`` header,
:func:`.api.server_time`: the clock that stamps 更新日時, not ours) at or after ``since``
+ 1 minute + ``overlap_s``: by then every record stamped at or before ``since`` had
committed (a commit lands within ``overlap_s`` of its minute: the overlap's own premise),
so this read saw them all. The *first* answer counts: a commit landing during the read may
sit behind pages already passed. A later read then seeks ``更新日時 > "closed"`` (when that
is later than ``since - overlap``) and ``seen`` keeps nothing at or before ``closed``. The
new state comes in an empty page at the end of the read (a read stopped early closes
nothing). The read that closes a minute still re-reads it (a late commit may have landed
since the read before); every read after it costs one call. Not closed (the read a few
seconds after the write; a missing, repeated or unreadable ``Date``; a server clock behind
``since``; a state saved before ``closed`` existed): exactly the overlap read above.
``closed`` never exceeds ``since``. A server clock running *ahead* cannot be told apart
from a real one and would close a minute early.
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

_STAMP = timedelta(minutes=1)
"""The resolution of 更新日時: a record stamped ``t`` was written within ``[t, t + 1 min)``."""


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
    """What has been delivered: the newest timestamp, the versions near it, and the newest
    timestamp up to which everything is known delivered (``closed``).

    ``started_at`` is the server time of this read's first answer (not saved).
    """

    overlap: timedelta
    since: datetime | None = None
    seen: dict[str, dict[str, str]] = field(default_factory=dict)
    closed: datetime | None = None
    started_at: datetime | None = None
    started: bool = False

    @classmethod
    def load(cls, state: Mapping[str, Any] | None, overlap: timedelta) -> _Progress:
        if not state:
            return cls(overlap)
        since = _when(state.get("since"))
        if state.get("since") and since is None:
            raise ProtocolError(f"kintone read state has an unreadable since: {state['since']!r}")
        raw = state.get("seen")
        seen = {str(t): {str(i): str(r) for i, r in ids.items()}
                for t, ids in (raw.items() if isinstance(raw, Mapping) else ())
                if isinstance(ids, Mapping)}
        closed = _when(state.get("closed"))
        if state.get("closed") is not None and closed is None:
            raise ProtocolError(
                f"kintone read state has an unreadable closed: {state['closed']!r}")
        if closed is not None and (since is None or closed > since):
            closed = since  # never past what was delivered
        return cls(overlap, since, seen, closed)

    def start(self) -> tuple[str, datetime] | None:
        """Where a seek read starts: ``(">", closed)`` or ``(">=", since - overlap)``."""
        if self.since is None:
            return None
        floor = self.since - self.overlap
        if self.closed is not None and self.closed >= floor:
            return ">", self.closed
        return ">=", floor

    def answered(self, when: datetime | None) -> None:
        """Note the server time of an answer; only the read's first one counts."""
        if not self.started:
            self.started, self.started_at = True, when

    def close(self) -> bool:
        """Close ``since`` when this read began late enough after it (server time) for
        every record stamped at or before it to have committed; True if the state changed."""
        if (self.since is None or self.started_at is None
                or self.started_at < self.since + _STAMP + self.overlap
                or (self.closed is not None and self.closed >= self.since)):
            return False
        self.closed = self.since
        self._prune()
        return True

    def _prune(self) -> None:
        if self.since is None:
            return
        floor, closed = self.since - self.overlap, self.closed
        self.seen = {t: ids for t, ids in self.seen.items()
                     if (w := _when(t)) is not None and w >= floor
                     and (closed is None or w > closed)}

    def delivered(self, stamp: str, record_id: str, revision: str) -> bool:
        return self.seen.get(stamp, {}).get(record_id) == revision

    def take(self, records: list[dict[str, Any]], cursor_field: str) -> list[dict[str, Any]]:
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
        self._prune()
        return fresh

    def state(self) -> dict[str, Any]:
        if self.since is None:
            return {}
        state: dict[str, Any] = {
            "since": _stamp(self.since),
            "seen": {t: dict(ids) for t, ids in sorted(self.seen.items())}}
        if self.closed is not None:
            state["closed"] = _stamp(self.closed)
        return state


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_app(api: KintoneApi, plan: ReadPlan, state: Mapping[str, Any] | None
             ) -> Generator[Page, None, None]:
    """Pages of the app's records changed since ``state`` (everything when ``None``).

    A generator: closing it early (or an error inside) deletes an open cursor.
    """
    progress = _Progress.load(state, timedelta(seconds=plan.overlap_s))
    yield from _read(api, plan, progress)
    # Only a read that ran to its end may close: it has seen every record up to `since`.
    if progress.close():
        yield Page(records=[], state=progress.state())


def _read(api: KintoneApi, plan: ReadPlan, progress: _Progress) -> Iterator[Page]:
    if progress.since is None and plan.cursor_for_full_read:
        order = f"order by {plan.cursor_field} asc, {ID} asc"
        try:
            cursor, at = api.create_cursor(plan.app, order, plan.page_size)
        except KintoneApiError as exc:
            if exc.code != CURSOR_LIMIT:
                raise
            log.warning("kintone app %s: the domain's 10 cursors are in use; reading by seek",
                        plan.app)
        else:
            progress.answered(at)
            yield from _read_by_cursor(api, plan, progress, cursor)
            return
    yield from _read_by_seek(api, plan, progress)


def _page(raw: list[dict[str, Any]], plan: ReadPlan, progress: _Progress) -> Page | None:
    records = [decode_record(r) for r in raw]
    fresh = progress.take(records, plan.cursor_field)
    return Page(records=fresh, state=progress.state()) if fresh else None


def _records(api: KintoneApi, plan: ReadPlan, progress: _Progress, query: str
             ) -> list[dict[str, Any]]:
    raw, at = api.read_records(plan.app, query)
    progress.answered(at)
    return raw


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
    start = progress.start()
    if start is None:
        query = order
    else:
        query = f"{field_} {start[0]} {_quote(_stamp(start[1]))} {order}"
    while True:
        raw = _records(api, plan, progress, query)
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
            raw = _records(api, plan, progress,
                           f"{field_} = {_quote(stamp)} and {ID} > {last_id} "
                           f"order by {ID} asc limit {plan.page_size}")
            page = _page(raw, plan, progress)
            if page is not None:
                yield page
            if len(raw) < plan.page_size:
                break
            last_id = str(raw[-1].get(ID, {}).get("value", ""))
        query = f"{field_} > {_quote(stamp)} {order}"
