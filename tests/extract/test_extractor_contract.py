"""Every extraction method follows the scikit-learn estimator contract (see ``sklearn_contract``)."""

from __future__ import annotations

import pytest

from _extract_data import isotropic, paired
from steerid.extract.lda import LDA
from steerid.extract.mean_diff import MeanDiff
from steerid.extract.pca import PCA
from steerid.extract.probe import Probe
from steerid.extract.registry import EXTRACTORS, make_extractor

CASES = {
    "mean_diff": (MeanDiff, isotropic),
    "pca": (lambda: PCA(centred=True), paired),
    "probe": (lambda: Probe(Cs=[0.1, 1.0], cv=3, seed=4), isotropic),
    "lda": (LDA, isotropic),
}


def test_every_registered_method_is_covered():
    assert set(CASES) == set(EXTRACTORS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_extractor_contract(name, sklearn_contract):
    make, data = CASES[name]
    pos, neg, _ = data(40)
    sklearn_contract(make, lambda est: est.fit(pos, neg))


def test_repr_get_and_set_params():
    probe = make_extractor("probe", cv=3)
    assert repr(probe) == "Probe(cv=3)"
    assert probe.get_params() == {"Cs": 10, "cv": 3, "seed": 0}
    assert probe.set_params(seed=2) is probe and repr(probe) == "Probe(cv=3, seed=2)"
    assert probe.params()["seed"] == 2 and probe.params()["C"] is None
