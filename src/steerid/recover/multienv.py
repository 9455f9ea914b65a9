r"""Multi-environment invariance: the steering direction shared by every environment.

Constraint: the trait moves activations along the same direction w in every environment
(topic, genre, prompt format), while each environment e may add its own spurious shift sₑ.
With per-environment mean differences mₑ = μ₊ₑ − μ₋ₑ and unit vectors uₑ = mₑ/‖mₑ‖,

    ŵ = argmax_{‖w‖=1} (1/E) Σₑ (uₑ·w)² = top right singular vector of U = [u₁ … u_E]ᵀ,

signed so that Σₑ uₑ·ŵ > 0. This is the intersection of the per-environment difference
subspaces in the principal-angle sense: ŵ is the top eigenvector of the mean projector
P̄ = (1/E) Σₑ uₑuₑᵀ, whose top eigenvalue ``explained_`` = λ₁ ∈ [1/E, 1] equals 1 exactly when
all environments agree and is the mean squared cosine of the principal angles to ŵ. If
uₑ ∝ a·w + b·sₑ with spurious sₑ ⊥ w that differ between environments, P̄ gives w the weight
a²/(a²+b²) in every environment while each sₑ gets b²/(a²+b²)/E, so ŵ = w whenever a² > b²/E —
the spurious parts are removed, where the pooled mean difference (1/E)Σₑ mₑ keeps (1/E)Σₑ b·sₑ.

Departure test, per environment e: H₀ "environment e shifts along the direction shared by the
others", i.e. mₑ ∥ w₋ₑ with w₋ₑ fitted without e. A parametric bootstrap builds data under H₀
(environment e's resampled residuals around a mean difference (mₑ·ŵ₋ₑ) ŵ₋ₑ; the other
environments resampled as observed, w₋ₑ refitted each time) and
p = (1 + #{cos* ≤ cos_obs}) / (B + 1), with cos = cos(mₑ, w₋ₑ); p-values are Holm-adjusted
across environments. With two environments w₋ₑ is the other environment's direction.

A second bootstrap (all environments resampled, ŵ refitted) gives ``bootstrap_cosines_``,
cos(ŵ*, ŵ): the sampling stability of the shared direction.

``shared_`` holds when every environment's cosine to ŵ reaches ``min_cosine`` (default 0.5:
ŵ carries at least a quarter of each environment's squared shift). Two environments always have
a bisector with cosine ≥ √½ to both, so with E = 2 a shared direction cannot be told from two
unrelated ones; use E ≥ 3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from steerid.errors import DataError
from steerid.recover._common import check_fraction, check_int, check_pairs, check_seed, unit
from steerid.stats.multiple import holm

Environment = tuple[np.ndarray, np.ndarray]


def _shared(directions: np.ndarray) -> tuple[np.ndarray, float]:
    """Top right singular vector of the stacked unit rows (signed) and λ₁ of the mean projector."""
    _, sing, vt = np.linalg.svd(directions, full_matrices=False)
    w = vt[0]
    if directions.sum(axis=0) @ w < 0:
        w = -w
    return w, float(sing[0] ** 2 / directions.shape[0])


class MultiEnvInvariance:
    """Direction shared across environments, with a per-environment departure test.

    Args:
        n_bootstrap: Resamples B for the departure test and the stability bootstrap.
        alpha: Family-wise error rate of the Holm-adjusted departure tests.
        min_cosine: Cosine every environment needs with ŵ for ``shared_``.
        paired: Resample (pos, neg) rows jointly as pairs (needs equal sizes per environment).
        seed: Seed of the resampling.

    Attributes:
        direction_: ŵ, unit vector (d,).
        names_: Environment names (``env0``… for a sequence).
        explained_: λ₁ of the mean projector (mean squared cosine of the uₑ to ŵ).
        cosines_: cos(uₑ, ŵ) per environment.
        loo_cosines_: cos(mₑ, ŵ₋ₑ), the statistic of the departure test.
        spurious_: Unit environment-specific components (uₑ − (uₑ·ŵ)ŵ normalised; zero rows when
            an environment is exactly along ŵ), shape (E, d).
        spurious_share_: 1 − cosines_², the share of each uₑ off the shared direction.
        pooled_direction_: Unit mean of the mₑ (the unconstrained estimate, for comparison).
        p_values_ / p_adjusted_ / departs_: Departure test (raw, Holm, rejected at ``alpha``).
        bootstrap_cosines_: cos(ŵ*, ŵ) over B resamples of every environment.
        shared_: ``min(cosines_) ≥ min_cosine``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> w = np.eye(16)[0]
        >>> envs = [(rng.normal(size=(50, 16)) + 2 * w + 2 * np.eye(16)[e + 1], rng.normal(size=(50, 16)))
        ...         for e in range(4)]
        >>> est = MultiEnvInvariance(n_bootstrap=50).fit(envs)
        >>> bool(est.direction_ @ w > 0.95), bool(est.pooled_direction_ @ w < 0.95)
        (True, True)
    """

    method = "multienv"

    direction_: np.ndarray
    names_: list[str]
    explained_: float
    cosines_: np.ndarray
    loo_cosines_: np.ndarray
    spurious_: np.ndarray
    spurious_share_: np.ndarray
    pooled_direction_: np.ndarray
    p_values_: np.ndarray
    p_adjusted_: np.ndarray
    departs_: np.ndarray
    bootstrap_cosines_: np.ndarray
    shared_: bool

    def __init__(self, n_bootstrap: int = 200, alpha: float = 0.05, min_cosine: float = 0.5, paired: bool = False,
                 seed: int = 0) -> None:
        self.n_bootstrap = n_bootstrap
        self.alpha = alpha
        self.min_cosine = min_cosine
        self.paired = paired
        self.seed = seed

    def _environments(self, environments: object) -> tuple[list[str], list[Environment]]:
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
        envs: list[Environment] = []
        width = None
        for name, item in zip(names, items):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise DataError(f"environment {name!r} is not a (pos, neg) pair", "pass (pos, neg) per environment")
            pos, neg = check_pairs(item[0], item[1], paired=self.paired, min_rows=2)
            if width is not None and pos.shape[1] != width:
                raise DataError(f"environment {name!r} has width {pos.shape[1]}, others {width}",
                                "capture every environment at the same site")
            width = pos.shape[1]
            if not np.any(pos.mean(axis=0) - neg.mean(axis=0)):
                raise DataError(f"environment {name!r} has equal positive and negative means",
                                "use pairs whose texts differ")
            envs.append((pos, neg))
        return names, envs

    def fit(self, environments: Sequence[Environment] | Mapping[str, Environment]) -> "MultiEnvInvariance":
        """Estimate the shared direction and test each environment's departure from it.

        Args:
            environments: ``[(pos, neg), ...]`` or ``{name: (pos, neg)}``, each array (n, d).

        Returns:
            ``self``.

        Raises:
            DataError: Bad hyper-parameters, fewer than two environments, mismatched widths,
                or an environment whose classes have equal means.
        """
        check_int(self.n_bootstrap, "n_bootstrap", minimum=10)
        check_fraction(self.alpha, "alpha", high_open=True)
        check_fraction(self.min_cosine, "min_cosine", low=-1.0)
        seed = check_seed(self.seed)
        names, envs = self._environments(environments)
        means = np.array([pos.mean(axis=0) - neg.mean(axis=0) for pos, neg in envs])
        units = means / np.linalg.norm(means, axis=1, keepdims=True)
        w, explained = _shared(units)
        cosines = units @ w
        residual = units - cosines[:, None] * w
        res_norm = np.linalg.norm(residual, axis=1, keepdims=True)
        self.spurious_ = np.divide(residual, res_norm, out=np.zeros_like(residual), where=res_norm > 1e-12)
        self.direction_, self.explained_, self.cosines_, self.names_ = w, explained, cosines, names
        self.spurious_share_ = np.clip(1.0 - cosines**2, 0.0, 1.0)
        self.pooled_direction_ = unit(means.mean(axis=0)) if np.any(means.mean(axis=0)) else np.full(w.shape, np.nan)
        rng = np.random.default_rng(seed)
        self._departure_test(envs, means, units, rng)
        self.bootstrap_cosines_ = np.array([self._refit(envs, rng)[0] @ w for _ in range(self.n_bootstrap)])
        self.shared_ = bool(np.min(cosines) >= self.min_cosine)
        return self

    def _resample_mean(self, env: Environment, rng: np.random.Generator, shift: np.ndarray | None = None) -> np.ndarray:
        """Bootstrap mean difference of one environment (``shift`` replaces its mean difference)."""
        pos, neg = env
        if self.paired:
            rows = rng.integers(0, pos.shape[0], size=pos.shape[0])
            diffs = pos[rows] - neg[rows]
            boot = diffs.mean(axis=0)
            observed = (pos - neg).mean(axis=0)
        else:
            boot = pos[rng.integers(0, pos.shape[0], size=pos.shape[0])].mean(axis=0) - \
                neg[rng.integers(0, neg.shape[0], size=neg.shape[0])].mean(axis=0)
            observed = pos.mean(axis=0) - neg.mean(axis=0)
        return boot if shift is None else boot - observed + shift

    def _refit(self, envs: list[Environment], rng: np.random.Generator) -> tuple[np.ndarray, float]:
        means = np.array([self._resample_mean(env, rng) for env in envs])
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        return _shared(means / np.where(norms > 0, norms, 1.0))

    def _departure_test(self, envs: list[Environment], means: np.ndarray, units: np.ndarray,
                        rng: np.random.Generator) -> None:
        n_env = len(envs)
        loo = np.empty(n_env)
        p_values = np.empty(n_env)
        for e in range(n_env):
            others = [k for k in range(n_env) if k != e]
            w_loo, _ = _shared(units[others])
            loo[e] = float(units[e] @ w_loo)
            null_shift = (means[e] @ w_loo) * w_loo
            null = np.empty(self.n_bootstrap)
            for b in range(self.n_bootstrap):
                boot_w, _ = self._refit([envs[k] for k in others], rng)
                boot_m = self._resample_mean(envs[e], rng, shift=null_shift)
                norm = np.linalg.norm(boot_m)
                null[b] = boot_m @ boot_w / norm if norm > 0 else -1.0
            p_values[e] = (1.0 + np.sum(null <= loo[e])) / (self.n_bootstrap + 1.0)
        adjusted = holm(p_values, alpha=self.alpha)
        self.loo_cosines_ = loo
        self.p_values_ = p_values
        self.p_adjusted_ = adjusted.p_adjusted
        self.departs_ = adjusted.reject

    def summary(self) -> dict[str, Any]:
        """JSON-safe per-environment results."""
        return {
            "explained": self.explained_,
            "shared": self.shared_,
            "bootstrap_cosine_median": float(np.median(self.bootstrap_cosines_)),
            "bootstrap_cosine_p05": float(np.quantile(self.bootstrap_cosines_, 0.05)),
            "environments": [
                {"name": n, "cosine": float(c), "loo_cosine": float(lc), "spurious_share": float(s),
                 "p": float(p), "p_holm": float(pa), "departs": bool(r)}
                for n, c, lc, s, p, pa, r in zip(self.names_, self.cosines_, self.loo_cosines_, self.spurious_share_,
                                                 self.p_values_, self.p_adjusted_, self.departs_)
            ],
        }

    def params(self) -> dict[str, Any]:
        """Hyper-parameters (JSON-safe)."""
        return {"n_bootstrap": int(self.n_bootstrap), "alpha": float(self.alpha), "min_cosine": float(self.min_cosine),
                "paired": bool(self.paired), "seed": int(self.seed)}
