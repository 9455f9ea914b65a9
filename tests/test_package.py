"""Top-level re-exports: the names a notebook needs, loaded on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import steerid


def test_import_steerid_loads_no_heavy_dependency():
    heavy = ("torch", "transformers", "sklearn", "numpy")
    code = f"import sys, steerid; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_exports_resolve_to_their_definitions():
    from steerid.extract.pipeline import extract_vector
    from steerid.models import Site, load_model
    from steerid.engine.steer import steering
    from steerid.vector import SteeringVector

    assert steerid.extract_vector is extract_vector and steerid.load_model is load_model
    assert steerid.SteeringVector is SteeringVector and steerid.Site is Site and steerid.steering is steering
    for name in steerid._EXPORTS:
        assert getattr(steerid, name) is not None and name in dir(steerid) and name in steerid.__all__


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        steerid.no_such_name  # noqa: B018
