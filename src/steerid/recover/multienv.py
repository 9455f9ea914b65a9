r"""Multi-environment invariance: the steering direction shared by every environment.

Constraint: the trait moves activations along the same direction w in every environment
(topic, genre, prompt format), while environment e may add its own spurious shift sₑ. Each
environment gives a difference subspace Bₑ ∈ ℝ^{d×k} (orthonormal columns) and the shared
direction is their intersection in the principal-angle sense:

    P̄ = (1/E) Σₑ Bₑ Bₑᵀ,     ŵ = top eigenvector of P̄,     λ₁ = ``explained_`` ∈ [1/E, 1],

signed so that ŵ·Σₑ mₑ > 0 (mₑ = μ₊ₑ − μ₋ₑ). λ₁ = (1/E) Σₑ cos² θₑ with θₑ the principal angle
between ŵ and span(Bₑ); λ₁ = 1 exactly when ŵ lies in every subspace.

- ``subspace_dim = k ≥ 2`` (paired data): Bₑ = top-k eigenvectors of the *uncentred* second
  moment of environment e's pair differences, Σᵢ dᵢdᵢᵀ, dᵢ = h₊ᵢ − h₋ᵢ. When
  dᵢ = αᵢ w + βᵢ sₑ + noise with pair-to-pair variation in αᵢ and βᵢ above the noise level,
  span(Bₑ) = span{w, sₑ} for k = 2, so w is in every subspace (cos θₑ = 1) while each sₑ is in
  one only (weight 1/E in P̄): ŵ = w, the spurious parts removed.
- ``subspace_dim = 1`` (works unpaired): Bₑ = uₑ = mₑ/‖mₑ‖ and ŵ is the top right singular
  vector of the stacked unit mean differences. Limitation, stated: with uₑ ∝ a·w + b·sₑ and
  mutually orthogonal sₑ ⊥ w, P̄ is rank one on span{w, Σsₑ} and ŵ ∝ w + (b/aE) Σₑ sₑ — the
  same as the pooled mean difference. One vector per environment cannot separate w from the
  spurious parts; it only averages them down by 1/E.

Departure test, per environment e: H₀ "environment e shifts along the direction shared by the
others", i.e. the population mₑ = t·w₋ₑ for some t, with w₋ₑ fitted without e. The statistic is
the squared norm of the part of mₑ off that direction,

    Tₑ = ‖(I − ŵ₋ₑŵ₋ₑᵀ) mₑ‖²,

whose null distribution does not depend on t (it is sampling noise only). A parametric
bootstrap builds data under H₀ — environment e's resampled residuals around the mean difference
(mₑ·ŵ₋ₑ) ŵ₋ₑ, the other environments resampled as observed and w₋ₑ refitted each time, so the
uncertainty of w₋ₑ is included — and p = (1 + #{T* ≥ Tₑ}) / (B + 1). p-values are
Holm-adjusted across environments; the smallest attainable p is 1/(B + 1), so rejecting at α
after Holm over E environments needs B ≥ E/α − 1 (80 for E = 4, α = 0.05). A rejection says
the environment's mean shift has a component off the shared direction (a spurious part), not
that ŵ is wrong.

A second bootstrap (every environment resampled, ŵ refitted) gives ``bootstrap_cosines_``,
cos(ŵ*, ŵ): the sampling stability of the shared direction.

``shared_`` holds when every cos θₑ reaches ``min_cosine``. Two environments always have a
bisector close to both, so with E = 2 a shared direction is weak evidence; use E ≥ 3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from steerid.errors import DataError
from steerid.extract.base import Estimator
from steerid.recover._common import unit
from steerid.stats.multiple import holm
from steerid.validation import check_activations, check_fraction, check_int, check_seed

Environment = tuple[np.ndarray, np.ndarray]


def _off_axis(vector: np.ndarray, axis: np.ndarray) -> float:
    """‖(I − aaᵀ) x‖² for a unit axis a."""
    residual = vector - (vector @ axis) * axis
    return float(residual @ residual)


def _intersect(bases: list[np.ndarray], means: np.ndarray) -> tuple[np.ndarray, float]:
    """Top eigenvector of the mean projector (signed along Σ means) and its eigenvalue."""
    stacked = np.hstack(bases)  # P̄ = (1/E) S Sᵀ with S the concatenated bases
    _, sing, vt = np.linalg.svd(stacked.T, full_matrices=False)
    w = vt[0]
    if means.sum(axis=0) @ w < 0:
        w = -w
    return w, float(sing[0] ** 2 / len(bases))


class _Env:
    """One environment's data reduced to what resampling needs."""

    def __init__(self, pos: np.ndarray, neg: np.ndarray, paired: bool) -> None:
        self.paired = paired
        if paired:
            self.diffs = pos - neg
            self.mean = self.diffs.mean(axis=0)
        else:
            self.pos, self.neg = pos, neg
            self.mean = pos.mean(axis=0) - neg.mean(axis=0)

    def resample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """Bootstrap (mean difference, pair-difference weights or None)."""
        if self.paired:
            n = self.diffs.shape[0]
            weights = np.bincount(rng.integers(0, n, size=n), minlength=n).astype(np.float64)
            return weights @ self.diffs / n, weights
        boot = self.pos[rng.integers(0, len(self.pos), size=len(self.pos))].mean(axis=0) - \
            self.neg[rng.integers(0, len(self.neg), size=len(self.neg))].mean(axis=0)
        return boot, None

    def basis(self, k: int, mean: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """(d, k) orthonormal difference subspace: unit mean (k = 1) or top-k uncentred eigenvectors."""
        if k == 1:
            norm = np.linalg.norm(mean)
            return (mean / norm if norm > 0 else mean)[:, None]
        w = np.ones(self.diffs.shape[0]) if weights is None else weights
        second = (self.diffs * w[:, None]).T @ self.diffs
        _, vectors = np.linalg.eigh(second)
        return vectors[:, ::-1][:, :k]


class MultiEnvInvariance(Estimator):
    """Direction shared across environments, with a per-environment departure test.

    Args:
        subspace_dim: k, dimension of each environment's difference subspace. 1 uses unit mean
            differences (cannot remove spurious parts, see above); k ≥ 2 needs paired data.
        paired: Row i of pos and neg come from pair i: resample pairs jointly (keeps a nuisance
            shared within a pair out of the bootstrap). ``False`` resamples each class on its own
            and is allowed only with ``subspace_dim = 1``.
        n_bootstrap: Resamples B for the departure test and the stability bootstrap.
        alpha: Family-wise error rate of the Holm-adjusted departure tests.
        min_cosine: cos θₑ every environment needs for ``shared_``.
        seed: Seed of the resampling.

    Attributes:
        direction_: ŵ, unit vector (d,).
        names_: Environment names (``env0``… for a sequence).
        explained_: λ₁ of the mean projector.
        subspace_cosines_: cos θₑ = ‖Bₑᵀŵ‖ per environment.
        cosines_: cos(mₑ, ŵ) per environment (signed, mean differences).
        loo_cosines_: cos(mₑ, ŵ₋ₑ), environment e against the direction fitted without it.
        departure_: Tₑ = ‖(I − ŵ₋ₑŵ₋ₑᵀ) mₑ‖², the departure statistic (activation units²).
        spurious_: Unit environment-specific parts of the mean differences (mₑ minus its ŵ
            component, normalised; zero rows when mₑ is exactly along ŵ), shape (E, d).
        spurious_share_: 1 − cosines_², the share of ‖mₑ‖² off the shared direction.
        pooled_direction_: Unit mean of the mₑ (the unconstrained estimate, for comparison).
        p_values_ / p_adjusted_ / departs_: Departure test (raw, Holm, rejected at ``alpha``).
        bootstrap_cosines_: cos(ŵ*, ŵ) over B resamples of every environment.
        shared_: ``min(subspace_cosines_) ≥ min_cosine``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> eye = np.eye(16)
        >>> def env(e):
        ...     neg = rng.normal(size=(80, 16))
        ...     a, b = rng.uniform(1, 3, size=(2, 80, 1))
        ...     return neg + a * eye[0] + b * eye[e + 1] + 0.1 * rng.normal(size=(80, 16)), neg
        >>> est = MultiEnvInvariance(n_bootstrap=20).fit([env(e) for e in range(4)])
        >>> bool(est.direction_[0] > 0.99), bool(est.pooled_direction_[0] < 0.9)
        (True, True)
    """

    method = "multienv"

    direction_: np.ndarray
    names_: list[str]
    explained_: float
    subspace_cosines_: np.ndarray
    cosines_: np.ndarray
    loo_cosines_: np.ndarray
    departure_: np.ndarray
    spurious_: np.ndarray
    spurious_share_: np.ndarray
    pooled_direction_: np.ndarray
    p_values_: np.ndarray
    p_adjusted_: np.ndarray
    departs_: np.ndarray
    bootstrap_cosines_: np.ndarray
    shared_: bool

    def __init__(self, subspace_dim: int = 2, paired: bool = True, n_bootstrap: int = 200, alpha: float = 0.05,
                 min_cosine: float = 0.9, seed: int = 0) -> None:
        self.subspace_dim = subspace_dim
        self.paired = paired
        self.n_bootstrap = n_bootstrap
        self.alpha = alpha
        self.min_cosine = min_cosine
        self.seed = seed

    def _environments(self, environments: object) -> tuple[list[str], list[_Env]]:
        if isinstance(environments, Mapping):
            names, items = [str(k) for k in environments], list(environments.values())
        elif isinstance(environments, Sequence) and not isinstance(environments, (str, bytes)):
            items = list(environments)
            names = [f"env{i}" for i in range(len(items))]
        else:
            raise DataError("environments must be a sequence or mapping of (pos, neg) pairs",
                            "pass [(pos_0, neg_0), (pos_1, neg_1), ...]")
        if len(items) < 2:
            raise DataError(f"need at least two environments, got {len(items)}", "add environments (3+ recommended)")
        paired = bool(self.paired)
        if not paired and self.subspace_dim > 1:
            raise DataError(f"subspace_dim {self.subspace_dim} needs paired data (pair differences)",
                            "pass paired=True with complete pairs, or use subspace_dim=1")
        envs: list[_Env] = []
        width = None
        for name, item in zip(names, items):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise DataError(f"environment {name!r} is not a (pos, neg) pair", "pass (pos, neg) per environment")
            pos, neg = check_activations(item[0], item[1], paired=paired, min_rows=2)
            if width is not None and pos.shape[1] != width:
                raise DataError(f"environment {name!r} has width {pos.shape[1]}, others {width}",
                                "capture every environment at the same site")
            width = pos.shape[1]
            if self.subspace_dim > min(pos.shape):
                raise DataError(f"subspace_dim {self.subspace_dim} exceeds environment {name!r}'s "
                                f"{pos.shape[0]} pairs or width {pos.shape[1]}", "lower subspace_dim or add pairs")
            env = _Env(pos, neg, paired)
            if not np.any(env.mean):
                raise DataError(f"environment {name!r} has equal positive and negative means",
                                "use pairs whose texts differ")
            envs.append(env)
        return names, envs

    def fit(self, environments: Sequence[Environment] | Mapping[str, Environment]) -> "MultiEnvInvariance":
        """Estimate the shared direction and test each environment's departure from it.

        Args:
            environments: ``[(pos, neg), ...]`` or ``{name: (pos, neg)}``, each array (n, d).

        Returns:
            ``self``.

        Raises:
            DataError: Bad hyper-parameters, fewer than two environments, mismatched widths,
                unpaired data with ``subspace_dim ≥ 2``, or an environment whose classes have
                equal means.
        """
        check_int(self.subspace_dim, "subspace_dim", minimum=1)
        check_int(self.n_bootstrap, "n_bootstrap", minimum=10)
        check_fraction(self.alpha, "alpha", high_open=True)
        check_fraction(self.min_cosine, "min_cosine")
        seed = check_seed(self.seed)
        names, envs = self._environments(environments)
        k = self.subspace_dim
        means = np.array([env.mean for env in envs])
        bases = [env.basis(k, env.mean) for env in envs]
        w, explained = _intersect(bases, means)
        units = means / np.linalg.norm(means, axis=1, keepdims=True)
        cosines = units @ w
        residual = units - cosines[:, None] * w
        res_norm = np.linalg.norm(residual, axis=1, keepdims=True)
        self.spurious_ = np.divide(residual, res_norm, out=np.zeros_like(residual), where=res_norm > 1e-12)
        self.direction_, self.explained_, self.cosines_, self.names_ = w, explained, cosines, names
        self.subspace_cosines_ = np.array([float(np.linalg.norm(b.T @ w)) for b in bases])
        self.spurious_share_ = np.clip(1.0 - cosines**2, 0.0, 1.0)
        pooled = means.mean(axis=0)
        self.pooled_direction_ = unit(pooled) if np.any(pooled) else np.full(w.shape, np.nan)
        rng = np.random.default_rng(seed)
        self._departure_test(envs, means, bases, rng)
        self.bootstrap_cosines_ = np.array([self._refit(envs, rng)[0] @ w for _ in range(self.n_bootstrap)])
        self.shared_ = bool(np.min(self.subspace_cosines_) >= self.min_cosine)
        return self

    def _refit(self, envs: list[_Env], rng: np.random.Generator) -> tuple[np.ndarray, float]:
        means, bases = [], []
        for env in envs:
            mean, weights = env.resample(rng)
            means.append(mean)
            bases.append(env.basis(self.subspace_dim, mean, weights))
        return _intersect(bases, np.array(means))

    def _departure_test(self, envs: list[_Env], means: np.ndarray, bases: list[np.ndarray],
                        rng: np.random.Generator) -> None:
        n_env = len(envs)
        loo, stat, p_values = np.empty(n_env), np.empty(n_env), np.empty(n_env)
        for e in range(n_env):
            others = [j for j in range(n_env) if j != e]
            w_loo, _ = _intersect([bases[j] for j in others], means[others])
            loo[e] = float(means[e] @ w_loo / np.linalg.norm(means[e]))
            stat[e] = _off_axis(means[e], w_loo)
            null_mean = (means[e] @ w_loo) * w_loo
            null = np.empty(self.n_bootstrap)
            for b in range(self.n_bootstrap):
                boot_w, _ = self._refit([envs[j] for j in others], rng)
                boot_mean, _ = envs[e].resample(rng)
                null[b] = _off_axis(boot_mean - means[e] + null_mean, boot_w)
            p_values[e] = (1.0 + np.sum(null >= stat[e])) / (self.n_bootstrap + 1.0)
        adjusted = holm(p_values, alpha=self.alpha)
        self.loo_cosines_, self.departure_, self.p_values_ = loo, stat, p_values
        self.p_adjusted_, self.departs_ = adjusted.p_adjusted, adjusted.reject

    def diagnostics(self) -> dict[str, Any]:
        """JSON-safe per-environment results."""
        return {
            "explained": self.explained_,
            "shared": self.shared_,
            "bootstrap_cosine_median": float(np.median(self.bootstrap_cosines_)),
            "bootstrap_cosine_p05": float(np.quantile(self.bootstrap_cosines_, 0.05)),
            "environments": [
                {"name": n, "subspace_cosine": float(sc), "cosine": float(c), "loo_cosine": float(lc),
                 "spurious_share": float(s), "departure": float(t), "p": float(p), "p_holm": float(pa),
                 "departs": bool(r)}
                for n, sc, c, lc, s, t, p, pa, r in zip(
                    self.names_, self.subspace_cosines_, self.cosines_, self.loo_cosines_, self.spurious_share_,
                    self.departure_, self.p_values_, self.p_adjusted_, self.departs_)
            ],
        }
