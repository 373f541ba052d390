"""The runnable examples in the mapping modules' docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["renkei.entities", "renkei.mapping.diagnostics", "renkei.mapping.loader",
           "renkei.mapping.normalize", "renkei.mapping.canonical", "renkei.mapping"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
