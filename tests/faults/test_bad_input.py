"""Hostile inbound records: each one syncs or lands in a dead letter with a reason; a batch
never crashes, and nothing else on the page is lost (issue #9).

Mapping-file fuzzing lives in tests/mapping/test_mapping_fuzz.py; this is about data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renkei.store import Store
from tests.engine.harness import World, make_world

GOOD = {"email": "good@example.jp", "last_name": "善良", "company": "正常商事"}

# Text as it arrives from forms and CSV imports: control characters, lone surrogates
# (broken UTF-16), mojibake, emoji, full-width forms, NULs, very long values.
hostile_text = st.one_of(
    st.text(st.characters(codec=None), max_size=40),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "ｆｕｌｌ＠ｗｉｄｔｈ．ｊｐ", "👩‍💻🎉",
                     "ãƒ†ã‚¹ãƒˆ", "\u202etxt.exe", "x" * 70_000, " ", "", "\r\n\t"]),
)
hostile_value = st.one_of(
    hostile_text, st.none(), st.booleans(), st.integers(), st.floats(),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2))
hostile_record = st.fixed_dictionaries({}, optional={
    k: hostile_value for k in ("email", "last_name", "company", "stage", "note", "phone", "score")})


def _sync_and_account(world: World, created: list[str]) -> None:
    summary = world.sync()
    assert summary.status == "completed", [s.error for s in summary.stats]
    with world.store.transaction() as tx:
        linked = set(tx.links.by_system_ids("ma-contacts", created))
        letters = {d.item_key: d for d in tx.dead_letters.open("ma-contacts", "in")}
    for rid in created:
        assert (rid in linked) != (rid in letters), f"{rid}: synced and dead, or neither"
        if rid in letters:
            assert letters[rid].message and letters[rid].category == "validation"
    # the well-formed neighbour on the same page always gets through
    assert world.crm.find(Email=GOOD["email"]), "a bad record took its page down with it"


def _world(tmp: Path, store: Store) -> World:
    return make_world(tmp, store, page_size=4, batch=3)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=st.lists(hostile_record, min_size=1, max_size=6))
def test_hostile_records_sync_or_dead_letter_never_crash(records: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/renkei.db")
        world = _world(Path(tmp), store)
        try:
            created = [world.ma.create(r) for r in records]
            created.append(world.ma.create(GOOD))
            _sync_and_account(world, created)
        finally:
            world.close()
            store.close()


FIXED: list[dict[str, Any]] = [
    {"email": "nul\x00@example.jp", "last_name": "a\x00b", "company": "x"},
    {"email": "surrogate@example.jp", "last_name": "\ud800", "company": "x"},
    {"email": "big@example.jp", "last_name": "長" * 70_000, "company": "x"},
    {"email": "not-an-email", "last_name": "x", "company": "x"},
    {"email": 12345, "last_name": ["list"], "company": {"a": 1}},
    {"email": "ｆｕｌｌ＠ｗｉｄｔｈ．ｊｐ", "last_name": "👩‍💻", "company": "ﾊﾝｶｸ(株)"},
    {"email": "bell\x07@example.jp", "last_name": "\u202eevil", "company": "ãƒ†ã‚¹ãƒˆ"},
    {"email": "score@example.jp", "last_name": "x", "company": "x", "score": "12abc"},
    {"email": "float@example.jp", "last_name": "x", "company": "x", "score": float("nan")},
]


def test_fixed_hostile_batch_on_each_backend(tmp_path: Path, store: Store) -> None:
    """The worst values once more, on SQLite and PostgreSQL (whose text columns refuse NUL
    and whose JSON refuses lone surrogates)."""
    world = _world(tmp_path, store)
    try:
        created = [world.ma.create(r) for r in FIXED]
        created.append(world.ma.create(GOOD))
        _sync_and_account(world, created)
    finally:
        world.close()


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_hostile_records_do_not_block_later_pages(tmp_path: Path, store: Store,
                                                   bad: str) -> None:
    """A page with an unstorable value must not pin the read cursor: the next sync still
    moves on to records created after it."""
    world = _world(tmp_path, store)
    try:
        first = [world.ma.create({"email": f"p{i}@example.jp", "last_name": f"n{bad}",
                                  "company": "c"}) for i in range(3)]
        first.append(world.ma.create(GOOD))
        _sync_and_account(world, first)
        later = world.ma.create({"email": "later@example.jp", "last_name": "後", "company": "c"})
        _sync_and_account(world, [*first, later])
    finally:
        world.close()
