"""Method registry."""

from __future__ import annotations

import pytest

from steerid.errors import DataError
from steerid.extract.base import Extractor
from steerid.extract.lda import LDA
from steerid.extract.mean_diff import MeanDiff
from steerid.extract.pca import PCA
from steerid.extract.probe import Probe
from steerid.extract.registry import EXTRACTORS, make_extractor


def test_registry_maps_names_to_classes():
    assert EXTRACTORS == {"mean_diff": MeanDiff, "pca": PCA, "probe": Probe, "lda": LDA}
    for name, cls in EXTRACTORS.items():
        assert issubclass(cls, Extractor) and cls.method == name
    assert PCA.paired and not (MeanDiff.paired or Probe.paired or LDA.paired)


@pytest.mark.parametrize("name", ["mean_diff", "pca", "probe", "lda"])
def test_make_extractor_builds_each_method(name):
    assert type(make_extractor(name)) is EXTRACTORS[name]


def test_make_extractor_passes_hyper_parameters():
    assert make_extractor("pca", centred=True).centred is True
    probe = make_extractor("probe", Cs=[0.1, 1.0], cv=3, seed=11)
    assert (probe.Cs, probe.cv, probe.seed) == ([0.1, 1.0], 3, 11)


def test_unknown_method_names_the_choices():
    with pytest.raises(DataError, match="unknown extraction method 'pcaa'") as err:
        make_extractor("pcaa")
    assert err.value.fix == "use one of: mean_diff, pca, probe, lda"


@pytest.mark.parametrize(
    ("name", "params"), [("pca", {"centered": True}), ("lda", {"shrinkage": 0.1})]
)
def test_unknown_hyper_parameter_is_a_data_error(name, params):
    with pytest.raises(DataError, match="has no parameter"):
        make_extractor(name, **params)
