r"""Sparse direction recovery with stability selection.

Constraint: the trait direction is a combination of few atoms of a basis D = [a₁ … a_k]
(the neuron basis D = I, an orthonormal learned basis, or an overcomplete dictionary; atoms
scaled to unit norm): v = D c with ‖c‖₀ small. Among all v + v⊥ that steer alike, the sparse
one is unique when its support is identifiable; a dense v⊥ is removed when its coefficients
fall below the penalty.

1. An L1 model of the contrast, with Δ̂ the mean difference (paired: mean of dᵢ = h₊ᵢ − h₋ᵢ):

   ``"lasso"`` (default) — the lasso on paired differences,
       ĉ = argmin_c (1/2n) Σᵢ ‖dᵢ − D c‖² + λ‖c‖₁ = argmin_c ½‖Δ̂ − D c‖² + λ‖c‖₁
   (the two objectives differ by a constant). For an orthonormal D it is soft-thresholding,
   ĉⱼ = sign(aⱼ·Δ̂) max(|aⱼ·Δ̂| − λ, 0); for a dictionary it is solved by coordinate descent
   (``sklearn.linear_model.Lasso``). λ = ``penalty_ratio`` · λ_max, λ_max = max_j |aⱼ·Δ̂| on all
   the data, so an atom survives when its coefficient exceeds that share of the largest one.
   Unpaired data use Δ̂ = μ̂₊ − μ̂₋.

   ``"logistic"`` — an L1 logistic probe (liblinear) on the features z = Dᵀh globally scaled
   by one σ: paired data use the symmetric design [Dᵀd; −Dᵀd] with labels (+, −) and no
   intercept, unpaired data the centred Dᵀ[h₊; h₋] with an intercept;
   C = C_min / ``penalty_ratio`` with C_min from ``sklearn.svm.l1_min_c``. It estimates the
   classifier's support, which follows Σ⁻¹Δ rather than Δ.

2. Stability selection (Meinshausen & Bühlmann 2010): refit on B random subsamples of
   ⌊``sample_fraction`` · n⌋ units (pairs, or per class) drawn without replacement; the
   selection frequency of atom j is πⱼ = (1/B) Σ_b 1[ĉⱼ^(b) ≠ 0] and the stable support is
   S = {j : πⱼ ≥ ``threshold``}.
3. The direction is Δ̂ projected onto span(D_S) (unshrunk, so the L1 only chooses the
   support): v = D_S (D_S⁺ Δ̂).

Diagnostics (no ground truth needed):

- ``stability_``: Nogueira et al.'s (JMLR 2018) chance-corrected stability of the B supports,
  φ = 1 − (1/k) Σⱼ sⱼ² / ((k̄/k)(1 − k̄/k)), sⱼ² = B/(B−1)·πⱼ(1 − πⱼ), k̄ = Σⱼ πⱼ (1 = the
  same atoms every time, ≈ 0 = no better than random supports of that size);
- ``captured_ = ‖v‖² / ‖Δ̂‖²``: the share of the mean difference on the stable support;
- ``support_fraction_ = |S| / k``: whether the answer is sparse at all.

A dense true direction shows up as a support that is not sparse, an unstable one, or one that
captures little of Δ̂; ``reliable_`` requires all three to pass their stated thresholds and
``diagnosis_`` names the ones that failed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.svm import l1_min_c

from steerid.errors import DataError
from steerid.extract.base import Estimator
from steerid.recover._common import orthonormal_columns
from steerid.validation import (
    as_matrix,
    check_activations,
    check_choice,
    check_fraction,
    check_int,
    check_seed,
)

SparseModel = Literal["lasso", "logistic"]

DEFAULT_PENALTY_RATIO = {"lasso": 0.3, "logistic": 0.07}


class SparseDirection(Estimator):
    """Sparse steering direction in a given basis, with stability selection.

    Args:
        model: ``"lasso"`` (on paired differences) or ``"logistic"`` (L1 probe).
        penalty_ratio: λ / λ_max in (0, 1); smaller keeps more atoms. ``None``: 0.3 for lasso
            (an atom must carry 30 % of the largest coefficient; a dense v⊥ is removed only where
            its coordinates stay below that, so larger values remove more of v⊥ and risk
            dropping weak atoms of v), 0.07 for logistic.
        n_resamples: Number of subsamples B.
        sample_fraction: Share of units in each subsample, in (0, 1).
        threshold: Selection frequency an atom needs to enter the stable support, in (0, 1].
        basis: ``None`` (neuron basis) or a (d, k) matrix of atoms as columns (orthonormal, or a
            dictionary whose columns are scaled to unit norm).
        paired: Row i of pos and neg come from pair i (resample pairs; fit on differences).
        min_stability: ``stability_`` needed for ``reliable_``.
        min_captured: ``captured_`` needed for ``reliable_``.
        max_support_fraction: ``support_fraction_`` allowed for ``reliable_``.
        seed: Seed of the subsampling (and of liblinear).

    Attributes:
        direction_: Unit direction in activation space, shape (d,), positives higher.
        raw_norm_: ‖v‖, the norm of the projected mean difference.
        atoms_: The unit-norm atoms used, shape (d, k).
        frequency_: Selection frequency πⱼ of each atom, shape (k,).
        support_: Indices of the stable atoms (ascending).
        stability_: Nogueira's φ of the subsample supports.
        captured_: ‖v‖² / ‖Δ̂‖².
        support_fraction_: |S| / k.
        penalty_: The λ (lasso, in activation units) or C (logistic) used.
        reliable_: All three diagnostics pass.
        diagnosis_: The failed checks, in words (empty when reliable).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> w = np.zeros(20); w[[2, 7]] = [0.6, 0.8]
        >>> neg = rng.normal(size=(80, 20)); pos = neg + 2.0 * w + 0.3 * rng.normal(size=(80, 20))
        >>> est = SparseDirection(n_resamples=20).fit(pos, neg)
        >>> est.support_.tolist(), bool(est.direction_ @ w > 0.99), est.reliable_
        ([2, 7], True, True)
    """

    method = "sparse"
    _recorded = {"penalty": "penalty_", "support": "support_", "stability": "stability_", "captured": "captured_",
                 "support_fraction": "support_fraction_"}

    direction_: np.ndarray
    raw_norm_: float
    atoms_: np.ndarray
    frequency_: np.ndarray
    support_: np.ndarray
    stability_: float
    captured_: float
    support_fraction_: float
    penalty_: float
    reliable_: bool
    diagnosis_: list[str]

    def __init__(self, model: SparseModel = "lasso", penalty_ratio: float | None = None, n_resamples: int = 50,
                 sample_fraction: float = 0.5, threshold: float = 0.6, basis: np.ndarray | None = None,
                 paired: bool = True, min_stability: float = 0.7, min_captured: float = 0.5,
                 max_support_fraction: float = 0.25, seed: int = 0) -> None:
        self.model = model
        self.penalty_ratio = penalty_ratio
        self.n_resamples = n_resamples
        self.sample_fraction = sample_fraction
        self.threshold = threshold
        self.basis = basis
        self.paired = paired
        self.min_stability = min_stability
        self.min_captured = min_captured
        self.max_support_fraction = max_support_fraction
        self.seed = seed

    def _check_params(self) -> float:
        check_choice(self.model, "sparse model", ("lasso", "logistic"))
        ratio = DEFAULT_PENALTY_RATIO[self.model] if self.penalty_ratio is None else self.penalty_ratio
        check_fraction(ratio, "penalty_ratio", high_open=True)
        check_int(self.n_resamples, "n_resamples", minimum=2)
        check_fraction(self.sample_fraction, "sample_fraction", high_open=True)
        check_fraction(self.threshold, "threshold")
        check_fraction(self.min_stability, "min_stability", low_open=False)
        check_fraction(self.min_captured, "min_captured", low_open=False)
        check_fraction(self.max_support_fraction, "max_support_fraction")
        check_seed(self.seed)
        return float(ratio)

    def _atoms(self, d: int) -> tuple[np.ndarray, bool]:
        if self.basis is None:
            return np.eye(d), True
        atoms = as_matrix(self.basis, "basis")
        if atoms.shape[0] != d:
            raise DataError(f"basis has {atoms.shape[0]} rows but activations have width {d}",
                            "pass atoms as the columns of a (d, k) matrix")
        norms = np.linalg.norm(atoms, axis=0)
        if np.any(norms == 0.0):
            raise DataError("basis has an all-zero atom", "drop zero columns from the basis")
        if orthonormal_columns(atoms):
            return atoms, True
        return atoms / norms, False

    def fit(self, pos: np.ndarray, neg: np.ndarray) -> "SparseDirection":
        """Select a stable sparse support and return the mean difference on it.

        Args:
            pos: Positive activations, shape (n₊, d).
            neg: Negative activations, shape (n₋, d) (n₋ = n₊ when ``paired``).

        Returns:
            ``self``.

        Raises:
            DataError: Bad hyper-parameters or data, too few units for a subsample, equal class
                means, or no atom selected in ≥ ``threshold`` of the subsamples (the direction
                is not sparse in this basis at this penalty).
        """
        ratio = self._check_params()
        pos, neg = check_activations(pos, neg, paired=self.paired, min_rows=2)
        atoms, orthonormal = self._atoms(pos.shape[1])
        delta = pos.mean(axis=0) - neg.mean(axis=0)
        if not np.any(delta):
            raise DataError("sparse: positives and negatives have the same mean", "use pairs whose texts differ")
        units = [np.arange(pos.shape[0])] if self.paired else [np.arange(pos.shape[0]), np.arange(neg.shape[0])]
        sizes = [int(np.floor(self.sample_fraction * len(u))) for u in units]
        if min(sizes) < 1:
            raise DataError(f"sample_fraction {self.sample_fraction} leaves an empty subsample",
                            "add examples or raise sample_fraction")
        rng = np.random.default_rng(self.seed)
        select = self._lasso_selector(atoms, orthonormal, delta, ratio) if self.model == "lasso" else \
            self._logistic_selector(pos, neg, atoms, ratio)
        supports = np.zeros((self.n_resamples, atoms.shape[1]), dtype=bool)
        for b in range(self.n_resamples):
            rows = [np.sort(rng.choice(u, size=s, replace=False)) for u, s in zip(units, sizes)]
            pos_rows, neg_rows = (rows[0], rows[0]) if self.paired else (rows[0], rows[1])
            supports[b] = select(pos[pos_rows], neg[neg_rows], b)
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
        self.atoms_, self.support_ = atoms, support
        self.direction_, self.raw_norm_ = projected / norm, norm
        self.captured_ = float(norm**2 / (delta @ delta))
        self.support_fraction_ = float(support.size / atoms.shape[1])
        self.diagnosis_ = []
        if self.stability_ < self.min_stability:
            self.diagnosis_.append(f"unstable selection (φ = {self.stability_:.2f} < {self.min_stability})")
        if self.captured_ < self.min_captured:
            self.diagnosis_.append(
                f"support holds {self.captured_:.0%} of the mean difference (< {self.min_captured:.0%})")
        if self.support_fraction_ > self.max_support_fraction:
            self.diagnosis_.append(f"not sparse ({support.size} of {atoms.shape[1]} atoms)")
        self.reliable_ = not self.diagnosis_
        return self

    def _lasso_selector(self, atoms: np.ndarray, orthonormal: bool, delta: np.ndarray, ratio: float):
        lam_max = float(np.max(np.abs(atoms.T @ delta)))
        self.penalty_ = ratio * lam_max
        d = atoms.shape[0]

        def select(pos: np.ndarray, neg: np.ndarray, _: int) -> np.ndarray:
            target = pos.mean(axis=0) - neg.mean(axis=0)
            if orthonormal:
                return np.abs(atoms.T @ target) > self.penalty_
            # sklearn's objective is (1/2d)‖y − Xc‖² + α‖c‖₁, so α = λ / d.
            fit = Lasso(alpha=self.penalty_ / d, fit_intercept=False, max_iter=10000, tol=1e-8).fit(atoms, target)
            return fit.coef_ != 0.0

        return select

    def _logistic_selector(self, pos: np.ndarray, neg: np.ndarray, atoms: np.ndarray, ratio: float):
        features, labels = self._design(pos, neg, atoms)
        scale = float(np.sqrt(np.mean(features**2)))
        if scale == 0.0:
            raise DataError("sparse: every activation difference is zero", "use pairs whose texts differ")
        intercept = not self.paired
        self.penalty_ = float(l1_min_c(features / scale, labels, loss="log", fit_intercept=intercept)) / ratio

        def select(sub_pos: np.ndarray, sub_neg: np.ndarray, index: int) -> np.ndarray:
            x, y = self._design(sub_pos, sub_neg, atoms)
            fit = LogisticRegression(C=self.penalty_, l1_ratio=1.0, solver="liblinear", fit_intercept=intercept,
                                     max_iter=1000, random_state=self.seed + index).fit(x / scale, y)
            return fit.coef_[0] != 0.0

        return select

    def _design(self, pos: np.ndarray, neg: np.ndarray, atoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.paired:
            diffs = (pos - neg) @ atoms
            return np.vstack([diffs, -diffs]), np.concatenate([np.ones(len(diffs)), np.zeros(len(diffs))])
        stacked = np.vstack([pos, neg]) @ atoms
        return stacked - stacked.mean(axis=0), np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])


def _nogueira(supports: np.ndarray) -> float:
    """Nogueira et al. (2018) stability φ = 1 − mean_j s_j² / ((k̄/p)(1 − k̄/p)), chance-corrected."""
    n, p = supports.shape
    freq = supports.mean(axis=0)
    mean_size = float(freq.sum())
    if mean_size in (0.0, float(p)):
        return 1.0
    var = n / (n - 1) * freq * (1.0 - freq)
    return float(1.0 - var.mean() / ((mean_size / p) * (1.0 - mean_size / p)))
