"""The examples in the extraction and vector docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["steerid.extract.base", "steerid.extract.mean_diff", "steerid.extract.pca", "steerid.extract.probe",
           "steerid.extract.lda", "steerid.extract.registry", "steerid.extract.pipeline",
           "steerid.vector"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
