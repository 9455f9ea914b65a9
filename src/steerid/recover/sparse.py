r"""Sparse direction recovery with stability selection.

Constraint: the trait direction is a combination of few atoms of a basis D = [a₁ … a_k]
(the neuron basis D = I, an orthonormal learned basis, or an overcomplete dictionary, each
atom scaled to unit norm): v = D c with ‖c‖₀ small. Among all v + v⊥ that steer alike, the
sparse one is unique when the support is identifiable.

1. Features z = Dᵀ h (inner products with the atoms), globally scaled by one σ (keeps the
   penalty isotropic across atoms, as in the probe).
2. An L1 model on the contrast:
   paired data, dᵢ = h₊ᵢ − h₋ᵢ: the symmetric design X = [Dᵀd; −Dᵀd] with labels (+, −)
   and no intercept; unpaired data: X = Dᵀ[h₊; h₋] centred, with intercept;
   ``"lasso"``: min (1/2N)‖y − Xc‖² + λ‖c‖₁, y = ±1;
   ``"logistic"``: min Σ log(1 + exp(−yᵢ xᵢᵀc)) + ‖c‖₁ / C (liblinear).
   λ is set relative to the smallest penalty that zeroes every coefficient:
   λ = ``penalty_ratio`` · λ_max (lasso: λ_max = max|Xᵀ(y − ȳ)|/N; logistic:
   C = C_min / ``penalty_ratio`` with C_min from ``sklearn.svm.l1_min_c``). Defaults: 0.25
   (lasso), 0.1 (logistic); with 4 planted atoms of 64 and 100–300 pairs both keep exactly the
   planted support in most seeds.
3. Stability selection (Meinshausen & Bühlmann 2010): refit on B random subsamples of
   ⌊``sample_fraction`` · n⌋ units (pairs, or per class) drawn without replacement; the
   selection frequency of atom j is πⱼ = (1/B) Σ_b 1[c_j^(b) ≠ 0] and the stable support is
   S = {j : πⱼ ≥ ``threshold``}.
4. The direction is the mean difference Δ projected onto span(D_S) (unshrunk, so the L1 only
   chooses the support): v = D_S (D_S⁺ Δ), and ``captured_ = ‖v‖² / ‖Δ‖²``.

Diagnostics (no ground truth needed): ``stability_`` is Nogueira et al.'s (JMLR 2018)
chance-corrected stability of the B selected supports,
φ = 1 − (1/k) Σⱼ sⱼ² / ((k̄/k)(1 − k̄/k)), with sⱼ² = B/(B−1)·πⱼ(1 − πⱼ) and k̄ = Σⱼ πⱼ the mean
support size (1 = the same atoms every time, ≈ 0 = no better than random supports of that
size); ``captured_`` is the share of the mean difference that lies on the stable support. A dense true direction shows up as a low
``captured_`` (the support holds a small share of Δ) or a low ``stability_`` (different atoms
win on different subsamples); ``reliable_`` requires both to pass their stated thresholds.
Under isotropic noise Δ estimates the direction itself; with anisotropic noise the projection
of Δ is what is returned (not Σ⁻¹Δ), so v is a steering displacement, not a classifier.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.svm import l1_min_c

from steerid.errors import DataError
from steerid.recover._common import (
    as_matrix,
    check_choice,
    check_fraction,
    check_int,
    check_pairs,
    check_seed,
    orthonormal_columns,
)

SparseModel = Literal["lasso", "logistic"]

DEFAULT_PENALTY_RATIO = {"lasso": 0.25, "logistic": 0.1}


class SparseDirection:
    """Sparse steering direction in a given basis, with stability selection.

    Args:
        model: ``"lasso"`` or ``"logistic"`` (L1-regularised).
        penalty_ratio: λ / λ_max in (0, 1); smaller keeps more atoms. ``None``: 0.25 for lasso,
            0.1 for logistic.
        n_resamples: Number of subsamples B.
        sample_fraction: Share of units in each subsample, in (0, 1).
        threshold: Selection frequency an atom needs to enter the stable support, in (0, 1].
        basis: ``None`` (neuron basis) or a (d, k) matrix of atoms as columns (orthonormal or a
            dictionary; columns are scaled to unit norm).
        paired: Treat row i of pos and neg as one pair (fit on differences).
        min_stability: ``stability_`` needed for ``reliable_``.
        min_captured: ``captured_`` needed for ``reliable_``.
        seed: Seed of the subsampling (and of liblinear).

    Attributes:
        direction_: Unit direction in activation space, shape (d,), positives higher.
        raw_norm_: ‖v‖, the norm of the projected mean difference.
        atoms_: The unit-norm atoms used, shape (d, k).
        frequency_: Selection frequency πⱼ of each atom, shape (k,).
        support_: Indices of the stable atoms (ascending).
        stability_: Nogueira's stability φ of the subsample supports.
        captured_: ‖v‖² / ‖Δ‖².
        penalty_: The λ (lasso) or C (logistic) used.
        reliable_: ``stability_ ≥ min_stability and captured_ ≥ min_captured`` (defaults 0.7 and
            0.5: over seeds with 100–300 pairs in d = 64, a 4-atom direction gave φ ≥ 0.66
            (mostly ≥ 0.72) and dense directions φ ≤ 0.64).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> w = np.zeros(20); w[[2, 7]] = [0.6, 0.8]
        >>> neg = rng.normal(size=(80, 20)); pos = neg + 2.0 * w + 0.3 * rng.normal(size=(80, 20))
        >>> est = SparseDirection(n_resamples=20).fit(pos, neg)
        >>> est.support_.tolist(), bool(est.direction_ @ w > 0.99)
        ([2, 7], True)
    """

    method = "sparse"

    direction_: np.ndarray
    raw_norm_: float
    atoms_: np.ndarray
    frequency_: np.ndarray
    support_: np.ndarray
    stability_: float
    captured_: float
    penalty_: float
    reliable_: bool

    def __init__(self, model: SparseModel = "lasso", penalty_ratio: float | None = None, n_resamples: int = 50,
                 sample_fraction: float = 0.5, threshold: float = 0.6, basis: np.ndarray | None = None,
                 paired: bool = True, min_stability: float = 0.7, min_captured: float = 0.5, seed: int = 0) -> None:
        self.model = model
        self.penalty_ratio = penalty_ratio
        self.n_resamples = n_resamples
        self.sample_fraction = sample_fraction
        self.threshold = threshold
        self.basis = basis
        self.paired = paired
        self.min_stability = min_stability
        self.min_captured = min_captured
        self.seed = seed

    def _check_params(self) -> None:
        check_choice(self.model, "sparse model", ("lasso", "logistic"))
        if self.penalty_ratio is not None:
            check_fraction(self.penalty_ratio, "penalty_ratio", high_open=True)
        check_int(self.n_resamples, "n_resamples", minimum=2)
        check_fraction(self.sample_fraction, "sample_fraction", high_open=True)
        check_fraction(self.threshold, "threshold")
        check_fraction(self.min_stability, "min_stability", low_open=False)
        check_fraction(self.min_captured, "min_captured", low_open=False)
        check_seed(self.seed)

    def _atoms(self, d: int) -> np.ndarray:
        if self.basis is None:
            return np.eye(d)
        atoms = as_matrix(self.basis, "basis", dim=None)
        if atoms.shape[0] != d:
            raise DataError(f"basis has {atoms.shape[0]} rows but activations have width {d}",
                            "pass atoms as the columns of a (d, k) matrix")
        norms = np.linalg.norm(atoms, axis=0)
        if np.any(norms == 0.0):
            raise DataError("basis has an all-zero atom", "drop zero columns from the basis")
        return atoms if orthonormal_columns(atoms) else atoms / norms

    def fit(self, pos: np.ndarray, neg: np.ndarray) -> "SparseDirection":
        """Select a stable sparse support and return the mean difference on it.

        Args:
            pos: Positive activations, shape (n₊, d).
            neg: Negative activations, shape (n₋, d) (n₋ = n₊ when ``paired``).

        Returns:
            ``self``.

        Raises:
            DataError: Bad hyper-parameters or data, too few units for a subsample, identical
                classes, or no atom selected in ≥ ``threshold`` of the subsamples (the direction
                is not sparse in this basis at this penalty).
        """
        self._check_params()
        pos, neg = check_pairs(pos, neg, paired=self.paired, min_rows=2)
        atoms = self._atoms(pos.shape[1])
        rng = np.random.default_rng(self.seed)
        if self.paired:
            diffs = (pos - neg) @ atoms
            delta = (pos - neg).mean(axis=0)
            units = [np.arange(pos.shape[0])]
        else:
            delta = pos.mean(axis=0) - neg.mean(axis=0)
            units = [np.arange(pos.shape[0]), pos.shape[0] + np.arange(neg.shape[0])]
        if not np.any(delta):
            raise DataError("sparse: positives and negatives have the same mean", "use pairs whose texts differ")
        sizes = [int(np.floor(self.sample_fraction * len(u))) for u in units]
        if min(sizes) < 1:
            raise DataError(f"sample_fraction {self.sample_fraction} leaves an empty subsample",
                            "add examples or raise sample_fraction")

        if self.paired:
            features = np.vstack([diffs, -diffs])
            labels = np.concatenate([np.ones(len(diffs)), np.zeros(len(diffs))])
        else:
            stacked = np.vstack([pos, neg]) @ atoms
            features = stacked - stacked.mean(axis=0)
            labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
        scale = float(np.sqrt(np.mean(features**2)))
        if scale == 0.0:
            raise DataError("sparse: every activation difference is zero", "use pairs whose texts differ")
        features = features / scale
        self.penalty_ = self._penalty(features, labels)

        n_units = len(units[0]) if self.paired else None
        supports = np.zeros((self.n_resamples, atoms.shape[1]), dtype=bool)
        for b in range(self.n_resamples):
            if self.paired:
                chosen = rng.choice(n_units, size=sizes[0], replace=False)
                rows = np.concatenate([chosen, chosen + n_units])
            else:
                rows = np.concatenate([rng.choice(u, size=s, replace=False) for u, s in zip(units, sizes)])
            supports[b] = self._fit_one(features[rows], labels[rows], b) != 0.0
        self.frequency_ = supports.mean(axis=0)
        self.stability_ = _nogueira(supports)
        support = np.flatnonzero(self.frequency_ >= self.threshold - 1e-12)
        if support.size == 0:
            raise DataError(
                f"sparse: no atom was selected in ≥ {self.threshold:.0%} of {self.n_resamples} subsamples "
                f"(max frequency {self.frequency_.max():.2f})",
                "lower threshold or penalty_ratio; the direction may not be sparse in this basis",
            )
        chosen_atoms = atoms[:, support]
        coef, *_ = np.linalg.lstsq(chosen_atoms, delta, rcond=None)
        projected = chosen_atoms @ coef
        norm = float(np.linalg.norm(projected))
        if norm == 0.0:
            raise DataError("sparse: the mean difference has no component on the stable support",
                            "lower threshold or use another basis")
        self.atoms_ = atoms
        self.support_ = support
        self.direction_ = projected / norm
        self.raw_norm_ = norm
        self.captured_ = float(norm**2 / (delta @ delta))
        self.reliable_ = bool(self.stability_ >= self.min_stability and self.captured_ >= self.min_captured)
        return self

    def _penalty(self, features: np.ndarray, labels: np.ndarray) -> float:
        intercept = not self.paired
        ratio = self.penalty_ratio if self.penalty_ratio is not None else DEFAULT_PENALTY_RATIO[self.model]
        if self.model == "lasso":
            target = 2.0 * labels - 1.0
            centred = target - target.mean() if intercept else target
            alpha_max = float(np.max(np.abs(features.T @ centred)) / features.shape[0])
            if alpha_max == 0.0:
                raise DataError("sparse: no atom correlates with the labels", "check the pairs")
            return ratio * alpha_max
        c_min = float(l1_min_c(features, labels, loss="log", fit_intercept=intercept))
        return c_min / ratio

    def _fit_one(self, features: np.ndarray, labels: np.ndarray, index: int) -> np.ndarray:
        intercept = not self.paired
        if self.model == "lasso":
            target = 2.0 * labels - 1.0
            fit = Lasso(alpha=self.penalty_, fit_intercept=intercept, max_iter=5000, tol=1e-6).fit(features, target)
            return fit.coef_
        fit = LogisticRegression(C=self.penalty_, l1_ratio=1.0, solver="liblinear", fit_intercept=intercept,
                                 max_iter=1000, random_state=self.seed + index).fit(features, labels)
        return fit.coef_[0]

    def params(self) -> dict[str, Any]:
        """Hyper-parameters and fitted diagnostics (JSON-safe; the basis is summarised by its shape)."""
        return {
            "model": self.model,
            "penalty_ratio": None if self.penalty_ratio is None else float(self.penalty_ratio),
            "penalty": getattr(self, "penalty_", None),
            "n_resamples": int(self.n_resamples),
            "sample_fraction": float(self.sample_fraction),
            "threshold": float(self.threshold),
            "basis": None if self.basis is None else list(np.shape(self.basis)),
            "paired": bool(self.paired),
            "seed": int(self.seed),
            "support": None if not hasattr(self, "support_") else self.support_.tolist(),
            "stability": getattr(self, "stability_", None),
            "captured": getattr(self, "captured_", None),
        }


def _nogueira(supports: np.ndarray) -> float:
    """Nogueira et al. (2018) stability φ = 1 − mean_j s_j² / ((k̄/p)(1 − k̄/p)), chance-corrected."""
    n, p = supports.shape
    freq = supports.mean(axis=0)
    mean_size = float(freq.sum())
    if mean_size in (0.0, float(p)):
        return 1.0
    var = n / (n - 1) * freq * (1.0 - freq)
    return float(1.0 - var.mean() / ((mean_size / p) * (1.0 - mean_size / p)))
