"""A page's frozen heap is thawed whatever happens, and a caller's own freeze is left alone."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from renkei.engine.inbound import old_objects_frozen


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    assert gc.get_freeze_count() == 0
    yield
    gc.unfreeze()


def test_the_heap_is_frozen_during_the_page_and_thawed_after() -> None:
    with old_objects_frozen():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_a_failing_page_thaws_the_heap_too() -> None:
    with pytest.raises(RuntimeError), old_objects_frozen():
        raise RuntimeError("page failed")
    assert gc.get_freeze_count() == 0


def test_garbage_from_before_the_page_is_collected_after_it() -> None:
    class Node:
        ref: object = None

    a, b = Node(), Node()
    a.ref, b.ref = b, a  # a cycle only the cyclic collector frees
    watch = weakref.ref(a)
    alive = [a]
    del a, b
    with old_objects_frozen():
        alive.clear()
        gc.collect()
        assert watch() is not None  # the frozen cycle is skipped, not freed early
    gc.collect()
    assert watch() is None


def test_a_callers_freeze_is_not_undone() -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    with old_objects_frozen():
        pass
    assert gc.get_freeze_count() == frozen


def test_nothing_changes_while_collection_is_disabled() -> None:
    gc.disable()
    try:
        with old_objects_frozen():
            assert gc.get_freeze_count() == 0
    finally:
        gc.enable()
