"""A config section may name the traits that run it: ``e6.traits`` and ``likelihood.farthest_traits``."""

import pytest

from steerid.audit.config import resolve, validate_config
from steerid.audit.grid import expand_grid
from steerid.errors import ConfigError

LIBRARY = ["sentiment", "formality", "politeness"]


def _units(data):
    return expand_grid(resolve(validate_config(data), n_layers=4, available_traits=LIBRARY))


def test_e6_traits_limits_e6_units_and_leaves_other_experiments_alone():
    units = _units({"traits": ["sentiment", "formality"], "experiments": ["e6", "likelihood"],
                    "e6": {"traits": ["formality"]}})
    assert sorted((u.experiment, u.trait) for u in units) == [
        ("e6", "formality"), ("likelihood", "formality"), ("likelihood", "sentiment")]


def test_e6_traits_null_runs_every_trait():
    units = _units({"traits": ["sentiment", "formality"], "experiments": ["e6"]})
    assert sorted(u.trait for u in units) == ["formality", "sentiment"]


@pytest.mark.parametrize("section", [{"e6": {"traits": ["politeness"]}},
                                     {"likelihood": {"farthest": True, "farthest_traits": ["politeness"]}}])
def test_a_section_trait_that_is_not_audited_is_refused(section):
    with pytest.raises(ConfigError, match="politeness"):
        _units({"traits": ["sentiment"], **section})


def test_farthest_traits_enter_the_likelihood_unit_spec():
    plain = _units({"traits": ["sentiment"], "experiments": ["likelihood"]})
    chosen = _units({"traits": ["sentiment"], "experiments": ["likelihood"],
                     "likelihood": {"farthest": True, "farthest_traits": ["sentiment"]}})
    assert plain[0].id != chosen[0].id
