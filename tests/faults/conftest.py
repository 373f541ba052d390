"""Fixtures of the fault and crash suites (their counts are printed by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.support import World, make_world


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
