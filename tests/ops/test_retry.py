"""Selective failed-record replay: only the chosen dead letters are retried (issue #8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sdk.types import ErrorCategory, RecordError
from renkei.ops.retry import retry_failed
from renkei.store import Store
from tests.engine.harness import World, make_world


@pytest.fixture
def world(tmp_path: Path, store: Store) -> Iterator[World]:
    w = make_world(tmp_path, store)
    yield w
    w.close()


def _reject(values: dict[str, object]) -> RecordError | None:
    name = values.get("LastName")
    if name == "NoAccess":
        return RecordError(ErrorCategory.PERMISSION, "INSUFFICIENT_ACCESS on owner",
                           "INSUFFICIENT_ACCESS")
    if name == "Busy":
        return RecordError(ErrorCategory.RATE_LIMIT, "row lock", "UNABLE_TO_LOCK_ROW",
                           retriable=True)
    return None


def _open(w: World) -> dict[tuple[str, str], int]:
    with w.store.transaction() as tx:
        return {(d.mapping, d.category): d.attempts for d in tx.dead_letters.all_open()}


def seed_failures(w: World) -> str:
    """One run leaving three open dead letters: permission and rate limit (out), validation
    (in); returns that run's id."""
    w.crm.reject = _reject
    for name in ("NoAccess", "Busy", "Fine"):
        w.ma.create({"email": f"{name.lower()}@example.co.jp", "last_name": name, "company": "C"})
    w.ma.create({"email": "bad@example.co.jp", "last_name": "X", "stage": "hot"})
    run_id = w.sync().run_id
    assert _open(w) == {("crm-leads", "permission"): 1, ("crm-leads", "rate_limit"): 1,
                        ("ma-contacts", "validation"): 1}
    w.crm.reject = None  # the operator fixed the cause on the CRM side
    return run_id


def test_retry_by_category_touches_only_that_category(world: World) -> None:
    seed_failures(world)
    report = retry_failed(world.project, world.store, category="permission")
    assert (report.recovered, report.still_failing) == (1, 0)
    assert report.by_category() == [{"category": "permission", "selected": 1, "recovered": 1,
                                     "still_failing": 0, "failing_now_as": ""}]
    assert sorted(r["LastName"] for r in world.crm.records.values()) == ["Fine", "NoAccess"]
    # the other letters were neither retried nor counted as another attempt
    assert _open(world) == {("crm-leads", "rate_limit"): 1, ("ma-contacts", "validation"): 1}


def test_retry_by_run_reports_recovered_and_still_failing(world: World) -> None:
    run_id = seed_failures(world)
    report = retry_failed(world.project, world.store, run=run_id)
    rows = {r["category"]: r for r in report.by_category()}
    assert rows["permission"]["recovered"] == 1 and rows["rate_limit"]["recovered"] == 1
    # the stored inbound payload is still invalid: it fails again, for the same reason
    assert rows["validation"] == {"category": "validation", "selected": 1, "recovered": 0,
                                  "still_failing": 1, "failing_now_as": "validation 1"}
    [detail] = report.detail()
    assert detail["record"] and "lifecycle_stage" in detail["reason"]
    assert _open(world) == {("ma-contacts", "validation"): 2}
    assert len(world.crm.records) == 3


def test_retry_by_mapping_and_unknown_run_select_nothing_else(world: World) -> None:
    seed_failures(world)
    assert retry_failed(world.project, world.store, run="no-such-run").outcomes == []
    report = retry_failed(world.project, world.store, mapping="ma-contacts")
    assert [(o.letter.mapping, o.recovered) for o in report.outcomes] == [("ma-contacts", False)]
    assert ("crm-leads", "permission") in _open(world)


def test_retry_of_a_still_rejected_record_says_why(world: World) -> None:
    seed_failures(world)
    world.crm.reject = _reject  # not fixed after all
    report = retry_failed(world.project, world.store, category="permission")
    assert report.by_category()[0]["failing_now_as"] == "permission 1"
    assert report.detail()[0]["reason"] == "INSUFFICIENT_ACCESS on owner"
