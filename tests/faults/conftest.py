"""Fixtures of the fault and crash suites, and their counts in pytest's terminal summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.support import TALLY, World, make_world


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[World]:
    """A fresh Marketo + Salesforce world on a SQLite hub."""
    world = make_world(tmp_path, f"sqlite:///{tmp_path / 'renkei.db'}")
    yield world
    world.close()


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[World]:
    """A fresh Marketo + Salesforce world on each hub backend (SQLite and PostgreSQL)."""
    w = make_world(tmp_path, db_url)
    yield w
    w.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = TALLY.counts
    if not counts:
        return
    terminalreporter.write_sep("-", "renkei fault and crash suites")
    terminalreporter.write_line(
        f"faults injected: {counts['faults_injected']}, runs killed: {counts['runs_killed']}, "
        f"records checked: {counts['records_checked']}, mismatches: {counts['mismatches']}")
