"""Statistics for steering audits: equivalence (TOST), effect sizes, bootstrap, corrections, power.

Everything works in float64 and raises :class:`steerid.errors.DataError` on unusable input
(fewer than 2 units, NaN/inf, mismatched pairs). Results are frozen dataclasses following
:mod:`steerid.results`: ``to_dict()`` (JSON-safe), a compact ``repr`` and a printable
``summary()`` (text, and an HTML table in notebooks).

See ``DESIGN.md`` ("The statistical protocol") for how these pieces are combined: show steering
first (:func:`power_paired_t`, paired t / d_z), plan n (:func:`tost_sample_size_paired`), test
equivalence per prompt (:func:`paired_tost`), report relative efficacy
(:func:`paired_ratio_ci`), the fraction of v⊥ draws passing (:func:`wilson_ci`), and correct
across the grid (:func:`holm`). Optional refinements: a group-sequential TOST that can stop
early (:func:`sequential_paired_tost`, :class:`SequentialTost`), whether the v⊥ draws differ
and the model-based share of equivalent directions (:func:`draw_heterogeneity`,
:func:`fraction_equivalent`), and the equivalence radius in ρ (:func:`equivalence_radius`).
"""

from steerid.stats.bootstrap import bootstrap_ci, cluster_bootstrap_ci, paired_ratio_ci
from steerid.stats.effect_size import EffectSize, cohens_d, cohens_dz, noncentrality_ci
from steerid.stats.heterogeneity import DrawHeterogeneity, FractionEquivalent, draw_heterogeneity, fraction_equivalent
from steerid.stats.interval import Interval, RatioInterval
from steerid.stats.multiple import MultipleTestResult, benjamini_hochberg, holm
from steerid.stats.plan import EquivalencePlan
from steerid.stats.power import (
    power_paired_t,
    sample_size_paired_t,
    tost_power_ind,
    tost_power_paired,
    tost_sample_size_ind,
    tost_sample_size_paired,
)
from steerid.stats.proportion import wilson_ci
from steerid.stats.radius import EquivalenceRadius, RadiusPoint, equivalence_radius
from steerid.stats.ratio_tost import RatioTostResult, ratio_tost_paired
from steerid.stats.sequential import (
    SequentialLook,
    SequentialOperatingCharacteristics,
    SequentialPlan,
    SequentialTost,
    SequentialTostResult,
    average_sample_number,
    planned_looks,
    sequential_paired_tost,
    sequential_plan,
)
from steerid.stats.tost import IndependentTostResult, TostResult, independent_tost, paired_tost

__all__ = [
    "DrawHeterogeneity",
    "EffectSize",
    "EquivalencePlan",
    "EquivalenceRadius",
    "FractionEquivalent",
    "IndependentTostResult",
    "Interval",
    "MultipleTestResult",
    "RatioInterval",
    "RadiusPoint",
    "RatioTostResult",
    "SequentialLook",
    "SequentialOperatingCharacteristics",
    "SequentialPlan",
    "SequentialTost",
    "SequentialTostResult",
    "TostResult",
    "average_sample_number",
    "benjamini_hochberg",
    "bootstrap_ci",
    "cluster_bootstrap_ci",
    "cohens_d",
    "cohens_dz",
    "draw_heterogeneity",
    "equivalence_radius",
    "fraction_equivalent",
    "holm",
    "independent_tost",
    "noncentrality_ci",
    "paired_ratio_ci",
    "paired_tost",
    "planned_looks",
    "ratio_tost_paired",
    "power_paired_t",
    "sample_size_paired_t",
    "sequential_paired_tost",
    "sequential_plan",
    "tost_power_ind",
    "tost_power_paired",
    "tost_sample_size_ind",
    "tost_sample_size_paired",
    "wilson_ci",
]
