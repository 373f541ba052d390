"""The pytest plug-in (entry point ``pytest11``): the ``--conformance-streams`` option.

The suite works without it; it only lets a partner narrow the streams from the command
line: ``pytest --conformance-streams contacts,deals``.
"""

from __future__ import annotations

import pytest

__all__ = ["pytest_addoption"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--conformance-streams``."""
    group = parser.getgroup("renkei-conformance", "renkei connector conformance")
    group.addoption("--conformance-streams", dest="conformance_streams", default=None,
                    help="comma-separated streams the conformance suite checks (default: all)")
