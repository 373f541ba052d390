"""One throw-away virtualenv for the scaffold and CONTRIBUTING tests."""

from __future__ import annotations

import pytest

from tests.scaffold.venv import ThrowawayVenv


@pytest.fixture(scope="session")
def throwaway_venv(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayVenv:
    return ThrowawayVenv.create(tmp_path_factory.mktemp("venv") / "venv")
