"""A fresh SQLite hub per test and the demo rule files (modules may override ``rules``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from renkei.rules import RuleSet
from renkei.store import Store

from .support import load, sqlite_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with sqlite_store(tmp_path) as s:
        yield s


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    return load(tmp_path_factory.mktemp("rules"))
