"""``steerid.validation``: every check returns canonical values or raises one family with one line."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import torch

from steerid import validation as v
from steerid.errors import DataError, ScorerError, VectorError
from steerid.provenance import Provenance
from steerid.vector import SteeringVector


def _one_line_with_fix(error: Exception) -> None:
    text = str(error)
    assert "\n" not in text and " — fix: " in text


@pytest.mark.parametrize(("call", "family"), [
    (lambda: v.as_sample([1.0], "x"), DataError),
    (lambda: v.as_sample([[1.0, 2.0]], "x"), DataError),
    (lambda: v.as_sample([1.0, math.nan], "x"), DataError),
    (lambda: v.as_sample(["a", "b"], "x"), DataError),
    (lambda: v.check_paired(np.ones(3), np.ones(4)), DataError),
    (lambda: v.as_matrix(np.ones(3), "acts"), DataError),
    (lambda: v.as_matrix(np.ones((0, 3)), "acts"), DataError),
    (lambda: v.as_matrix(np.ones((2, 3)), "acts", dim=4), DataError),
    (lambda: v.as_matrix([[1.0, math.inf]], "acts"), DataError),
    (lambda: v.check_activations(np.ones((3, 2)), np.ones((2, 2)), paired=True), DataError),
    (lambda: v.check_activations(np.ones((3, 2)), np.ones((3, 3)), paired=False), DataError),
    (lambda: v.check_vector(np.zeros(3)), VectorError),
    (lambda: v.check_vector([1.0, math.nan]), VectorError),
    (lambda: v.check_vector(np.ones((2, 2))), VectorError),
    (lambda: v.check_vector(["a"]), VectorError),
    (lambda: v.check_vector(np.ones(3), dim=4), VectorError),
    (lambda: v.check_texts("one string"), DataError),
    (lambda: v.check_texts([]), DataError),
    (lambda: v.check_texts(["ok", "  "]), DataError),
    (lambda: v.check_texts(["ok", 3]), DataError),
    (lambda: v.check_texts(42), DataError),
    (lambda: v.check_texts(["a", None], error=ScorerError), ScorerError),
    (lambda: v.check_probability(1.0, "alpha"), DataError),
    (lambda: v.check_probability("0.05", "alpha"), DataError),
    (lambda: v.check_probability(True, "alpha"), DataError),
    (lambda: v.check_positive(0.0, "margin"), DataError),
    (lambda: v.check_finite(math.inf, "x"), DataError),
    (lambda: v.check_fraction(0.0, "share"), DataError),
    (lambda: v.check_int(2.0, "n", minimum=1), DataError),
    (lambda: v.check_int(True, "n", minimum=0), DataError),
    (lambda: v.check_count(2.5, "n", minimum=1), DataError),
    (lambda: v.check_count(1, "n", minimum=2), DataError),
    (lambda: v.check_seed(-1), DataError),
    (lambda: v.check_seed(1.0), DataError),
    (lambda: v.check_bool(1, "flag"), DataError),
    (lambda: v.check_choice("x", "mode", ("a", "b")), DataError),
    (lambda: v.require_fitted(object(), "coef_", "Thing"), DataError),
])
def test_bad_input_raises_its_family_with_one_line_and_a_fix(call, family):
    with pytest.raises(family) as info:
        call()
    _one_line_with_fix(info.value)


def test_good_input_comes_back_canonical():
    assert v.as_sample([1, 2, 3], "x").dtype == np.float64
    pos, neg = v.check_activations([[1, 2]], [[3, 4], [5, 6]], paired=False)
    assert pos.dtype == neg.dtype == np.float64 and neg.shape == (2, 2)
    assert v.check_count(30.0, "n", minimum=2) == 30 and isinstance(v.check_count(np.int64(3), "n", minimum=2), int)
    assert v.check_fraction(1.0, "share") == 1.0  # (0, 1] by default
    assert v.check_range(0.0, "x", low=0.0, high=1.0, low_open=False) == 0.0
    assert v.check_probability(np.float32(0.25), "alpha") == 0.25
    assert v.check_seed(np.int64(7)) == 7 and v.check_bool(np.bool_(True), "flag") is True
    assert v.check_texts(t for t in ["a", "b"]) == ["a", "b"]
    assert v.check_texts([], allow_empty=True) == [] and v.check_texts([""], allow_blank=True) == [""]


def test_check_vector_reads_tensors_and_steering_vectors():
    np.testing.assert_array_equal(v.check_vector(torch.tensor([1.0, 2.0])), [1.0, 2.0])
    sv = SteeringVector.from_array(np.array([3.0, 4.0]), Provenance("m", "m", "", "in:1", "mean_diff"))
    np.testing.assert_allclose(v.check_vector(sv, dim=2), [3.0, 4.0])


def test_messages_name_the_argument_and_the_interval():
    with pytest.raises(DataError, match=r"alpha = 0.7 is outside \(0, 0.5\)"):
        v.check_probability(0.7, "alpha", upper=0.5)
    with pytest.raises(DataError, match=r"share = 2 is outside \(0, 1\]"):
        v.check_fraction(2, "share")
    with pytest.raises(DataError, match="prompts #2 is empty"):
        v.check_texts(["a", ""], "prompts")


def test_docstring_examples():
    assert doctest.testmod(v, optionflags=doctest.ELLIPSIS).failed == 0
