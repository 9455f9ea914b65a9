"""The examples in the recovery docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["__init__", "gauge", "sparse", "multienv", "crosslayer", "ica", "stability", "benchmark.run"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module("steerid.recover" if name == "__init__" else f"steerid.recover.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
