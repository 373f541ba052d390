"""Closed minutes of the kintone incremental read (issue #10), over HTTP against the emulator.

A read re-reads the last ``overlap_s`` before ``since`` to find late commits; once a read
began at a server time at or after ``since`` + 1 minute + ``overlap_s`` it records the
minute as ``closed`` and later reads seek past it (:mod:`connectors.kintone.reading`).

The server time is the ``Date`` header. uvicorn stamps it from the machine's clock while the
emulator stamps 更新日時 from ``KintoneSettings.clock``, so here uvicorn's header is turned
off and a thin ASGI wrapper sends ``Date`` from the same test clock (or a missing,
unreadable, repeated or lagging one). The emulator itself is unchanged.
"""

from __future__ import annotations

import email.utils
import functools
import itertools
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn

from connectors.kintone import KintoneConnector
from connectors.sdk import ConnectorContext, MemoryLedger, ProtocolError, WriteMode, WriteOp
from sandbox.core.server import EmulatorServer
from sandbox.kintone import API_TOKENS, KintoneEmulator, KintoneSettings

_domains = itertools.count()
_emails = itertools.count()
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGI = Callable[[Message, Receive, Send], Awaitable[None]]

MINUTE = datetime(2030, 4, 1, 9, 0, tzinfo=UTC)  # after every seeded 更新日時
T = "2030-04-01T09:00:00Z"


class Clock:
    """The kintone server's clock: 更新日時 of writes and the ``Date`` of every answer.

    ``date`` says what the ``Date`` header carries: ``"clock"``, ``"missing"``,
    ``"unreadable"``, ``"repeated"`` (two headers) or ``"behind"`` (a day slow); ``tick``
    moves the clock on after every answer.
    """

    def __init__(self) -> None:
        self.now = MINUTE
        self.date = "clock"
        self.tick = timedelta(0)

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: int, seconds: int = 0) -> None:
        self.now = MINUTE + timedelta(minutes=minutes, seconds=seconds)

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = self._headers()
        self.now += self.tick
        return headers

    def _headers(self) -> list[tuple[bytes, bytes]]:
        def http_date(when: datetime) -> bytes:
            return email.utils.format_datetime(when, usegmt=True).encode()

        if self.date == "missing":
            return []
        if self.date == "unreadable":
            return [(b"date", b"yesterday at nine")]
        if self.date == "repeated":
            return [(b"date", http_date(self.now)), (b"date", http_date(self.now))]
        if self.date == "behind":
            return [(b"date", http_date(self.now - timedelta(days=1)))]
        return [(b"date", http_date(self.now))]


def dated(app: ASGI, clock: Clock) -> ASGI:
    """``app`` answering with the ``Date`` header(s) of ``clock``."""
    async def wrapped(scope: Message, receive: Receive, send: Send) -> None:
        async def send_dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  *clock.headers()]}
            await send(message)

        await app(scope, receive, send_dated)
    return wrapped


@dataclass
class World:
    emulator: KintoneEmulator
    server: EmulatorServer
    clock: Clock

    def connector(self, **overrides: Any) -> KintoneConnector:
        config = {"base_url": self.server.url, "api_token": API_TOKENS[1],
                  "apps": {"leads": 1}, "retry_base_delay_s": 0.01, "timeout_s": 10,
                  **overrides}
        return KintoneConnector(config, context=ConnectorContext(
            f"kintone-closed-{next(_domains)}", ledger=MemoryLedger()))

    def read(self, connector: KintoneConnector, state: dict[str, Any] | None
             ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, list[str]]:
        """Records delivered, the state to save next, and the queries of the calls made."""
        since = self.emulator.calls.last_seq
        records: list[dict[str, Any]] = []
        for page in connector.read("leads", state):
            records += page.records
            state = page.state
        queries = [c.query.get("query", "") for c in self.emulator.calls.list(since=since)]
        return records, state, queries


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # uvicorn would add a Date of its own (the machine's clock) before ours.
    monkeypatch.setattr(uvicorn, "Config", functools.partial(uvicorn.Config, date_header=False))
    clock = Clock()
    emulator = KintoneEmulator(KintoneSettings(size=25, clock=clock))  # 5 lead-master records
    try:
        with EmulatorServer(dated(emulator.asgi(), clock), name="kintone", port=0) as server:
            yield World(emulator, server, clock)
    finally:
        emulator.close()


def _creates(n: int) -> list[WriteOp]:
    ops = []
    for _ in range(n):
        i = next(_emails)
        ops.append(WriteOp(WriteMode.CREATE, {"姓": f"一括{i}", "メールアドレス":
                                              f"bulk{i}@renkei.example.jp"}, ref=f"lead:{i}"))
    return ops


def _bulk_minute(world: World, connector: KintoneConnector, n: int
                 ) -> tuple[dict[str, Any], list[str]]:
    """Read everything, write ``n`` records at 09:00 and read them right away (09:00:40)."""
    world.clock.at(0, 5)
    _, state, _ = world.read(connector, None)
    world.clock.at(0, 20)
    assert all(r.ok for r in connector.write("leads", _creates(n)))
    world.clock.at(0, 40)
    records, state, queries = world.read(connector, state)
    assert len(records) == n and state is not None
    return state, queries


def test_a_bulk_minute_is_reread_until_closed_and_then_costs_one_call(world: World) -> None:
    with world.connector() as connector:
        state, _ = _bulk_minute(world, connector, 1200)
        assert state["since"] == T and state.get("closed") != T
        assert len(state["seen"][T]) == 1200
        # Right away, and one second short of 09:00 + 1 min + overlap (60 s): not closed.
        for minutes, seconds in ((0, 50), (1, 59)):
            world.clock.at(minutes, seconds)
            records, after, queries = world.read(connector, state)
            assert records == [] and after == state
            assert len(queries) == 4  # 500, drain 500, drain 200, after 09:00: none
            assert queries[0].startswith('更新日時 >= "2030-04-01T08:59:00Z"')
        # At 09:02:00 every record stamped 09:00 has committed: this read re-reads the
        # minute once more (a late commit may have landed since 09:01:59) and closes it.
        world.clock.at(2)
        records, closed, queries = world.read(connector, state)
        assert records == [] and len(queries) == 4
        assert closed == {"since": T, "seen": {}, "closed": T}
        for minutes in (3, 60 * 24):
            world.clock.at(minutes)
            records, after, queries = world.read(connector, closed)
            assert records == [] and after == closed
            assert queries == [f'更新日時 > "{T}" order by 更新日時 asc, $id asc limit 500']


def test_a_record_edited_after_the_minute_closed_is_delivered_once(world: World) -> None:
    with world.connector(page_size=100) as connector:
        state, _ = _bulk_minute(world, connector, 150)
        world.clock.at(2, 30)
        _, closed, _ = world.read(connector, state)
        assert closed is not None and closed["closed"] == T
        edited_id = sorted(state["seen"][T])[7]
        world.clock.at(5, 10)
        world.emulator.edit_record("1", edited_id, {"姓": "更新後"})
        records, after, queries = world.read(connector, closed)
        assert [(r["$id"], r["姓"], r["更新日時"]) for r in records] == [
            (edited_id, "更新後", "2030-04-01T09:05:00Z")]
        assert after is not None and len(queries) == 1
        assert after["since"] == "2030-04-01T09:05:00Z" and after["closed"] == T
        revision = records[0]["$revision"]
        assert revision != state["seen"][T][edited_id]
        assert after["seen"] == {"2030-04-01T09:05:00Z": {edited_id: revision}}
        world.clock.at(5, 30)
        assert world.read(connector, after)[0] == []


def test_a_late_commit_in_the_bulk_minute_is_delivered_by_the_closing_read(
        world: World) -> None:
    with world.connector(page_size=100) as connector:
        state, _ = _bulk_minute(world, connector, 150)
        world.clock.at(1, 30)
        assert world.read(connector, state)[:2] == ([], state)  # not closed yet
        # A record of 09:00:59 whose commit only shows at 09:01:45: stamped 09:00.
        world.clock.at(0, 59)
        late = world.emulator.create_record("1", {"姓": "遅延", "メールアドレス":
                                                  "late@renkei.example.jp"})
        assert late["更新日時"]["value"] == T
        world.clock.at(2)
        records, closed, _ = world.read(connector, state)
        assert [r["$id"] for r in records] == [late["$id"]["value"]]
        assert closed is not None and closed["closed"] == T and closed["seen"] == {}
        world.clock.at(3)
        records, _, queries = world.read(connector, closed)
        assert records == [] and len(queries) == 1


def test_a_state_saved_before_closed_existed_reads_as_before_then_closes(
        world: World) -> None:
    with world.connector(page_size=100) as connector:
        state, _ = _bulk_minute(world, connector, 150)
        old = {"since": state["since"], "seen": state["seen"]}  # no "closed" key at all
        forgotten = sorted(old["seen"][T])[3]
        old["seen"][T] = {i: r for i, r in old["seen"][T].items() if i != forgotten}
        world.clock.at(1)
        records, after, queries = world.read(connector, old)
        assert [r["$id"] for r in records] == [forgotten]
        assert after is not None and "closed" not in after and len(after["seen"][T]) == 150
        assert queries[0].startswith('更新日時 >= "2030-04-01T08:59:00Z"')
        world.clock.at(2, 10)
        records, closed, queries = world.read(connector, after)
        assert records == [] and len(queries) == 3  # 100, drain 50, after 09:00: none
        assert closed == {"since": T, "seen": {}, "closed": T}


def test_a_read_that_began_before_the_boundary_does_not_close_it(world: World) -> None:
    with world.connector(page_size=100) as connector:
        state, _ = _bulk_minute(world, connector, 150)
        # Answers at 09:01:59, 09:02:00 and 09:02:01: a commit late by 59 s may have landed
        # behind the first page of this read, so it proves nothing about 09:00.
        world.clock.at(1, 59)
        world.clock.tick = timedelta(seconds=1)
        records, after, queries = world.read(connector, state)
        assert records == [] and after == state and len(queries) == 3


@pytest.mark.parametrize("date", ["missing", "unreadable", "repeated", "behind"])
def test_without_a_trustworthy_server_time_the_minute_stays_open(
        world: World, date: str) -> None:
    with world.connector(page_size=100) as connector:
        state, _ = _bulk_minute(world, connector, 150)
        world.clock.at(30)
        world.clock.date = date
        for _ in range(2):
            records, after, queries = world.read(connector, state)
            assert records == [] and after == state and len(queries) == 3
            assert "closed" not in after or after["closed"] != T
        world.clock.date = "clock"
        assert world.read(connector, state)[1] == {"since": T, "seen": {}, "closed": T}


def test_a_closed_past_since_is_not_trusted_and_an_unreadable_one_is_refused(
        world: World) -> None:
    with world.connector(page_size=100) as connector:
        _bulk_minute(world, connector, 150)
        world.clock.at(0, 50)
        odd = {"since": "2030-04-01T08:30:00Z", "seen": {}, "closed": "2030-04-01T09:30:00Z"}
        records, _, queries = world.read(connector, odd)
        assert len(records) == 150
        assert queries[0].startswith('更新日時 > "2030-04-01T08:30:00Z"')
        with pytest.raises(ProtocolError, match="unreadable closed: 'soon'"):
            world.read(connector, {"since": T, "seen": {}, "closed": "soon"})
