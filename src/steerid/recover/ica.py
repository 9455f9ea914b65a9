r"""Independence: unmix several traits that move activations together (FastICA).

Constraint: the activation differences are a linear mixture of k independent, non-Gaussian
trait variables plus noise,

    dᵢ = A sᵢ + εᵢ,   A = [a₁ … a_k] ∈ ℝ^{d×k},   s_{i1}, …, s_{ik} independent,

e.g. pairs whose texts differ in sentiment *and* formality by independent amounts. The mean
difference returns one blend Σⱼ E[sⱼ] aⱼ; ICA returns each aⱼ. FastICA (``sklearn``) first
whitens the data on its top-k principal subspace (which must hold the traits: their variance
has to exceed the noise's), then finds the rotation that makes the components maximally
non-Gaussian (negentropy, ``fun``); A is identified up to a permutation, a sign and a scale of
each column (Comon 1994) — *provided at most one sⱼ is Gaussian*. With Gaussian sources every
rotation of the whitened data is equally independent and the directions are arbitrary within
span(A): the constraint then fails, which is what ``gaussianity_`` warns about.

Outputs: ``directions_`` (k, d) are the mixing columns aⱼ/‖aⱼ‖, each signed so that its source
has a positive mean (the trait's mean shift; ICA itself fixes no sign) or, for zero-mean
sources, a positive skew. ``excess_kurtosis_`` is the sample excess kurtosis of each recovered
source; |κ| below ``min_kurtosis`` flags a component whose direction is not identified.
:meth:`match` assigns recovered to reference directions by the Hungarian algorithm on |cos|
(``scipy.optimize.linear_sum_assignment``), sign and scale being arbitrary.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import kurtosis, skew
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning

from steerid.errors import DataError
from steerid.extract.base import Estimator
from steerid.validation import as_matrix, check_choice, check_fraction, check_int, check_seed, require_fitted


class ICARecovery(Estimator):
    """Independent trait directions in activation differences.

    Args:
        n_components: k, the number of mixed traits.
        fun: FastICA contrast, ``"logcosh"``, ``"exp"`` or ``"cube"``.
        max_iter: FastICA iterations.
        tol: FastICA tolerance.
        min_kurtosis: |excess kurtosis| a source needs to count as non-Gaussian.
        seed: Seed of FastICA's initial rotation.

    Attributes:
        directions_: Unit trait directions, shape (k, d), largest mixing norm first.
        sources_: Recovered sources per row of the input, shape (n, k).
        excess_kurtosis_: Excess kurtosis of each source, shape (k,).
        gaussianity_: Boolean per component, ``|excess_kurtosis_| < min_kurtosis``.
        identifiable_: No component flagged (or exactly one: k − 1 non-Gaussian suffice).
        converged_: FastICA reached ``tol`` within ``max_iter``.
        n_iter_: FastICA iterations used.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> mixing = np.linalg.qr(rng.normal(size=(12, 2)))[0]
        >>> sources = rng.exponential(size=(500, 2))
        >>> est = ICARecovery(n_components=2).fit(sources @ mixing.T + 0.01 * rng.normal(size=(500, 12)))
        >>> bool(est.match(mixing.T)["cosines"].min() > 0.99)
        True
    """

    method = "ica"
    _recorded = {"excess_kurtosis": "excess_kurtosis_", "converged": "converged_"}

    directions_: np.ndarray
    sources_: np.ndarray
    excess_kurtosis_: np.ndarray
    gaussianity_: np.ndarray
    identifiable_: bool
    converged_: bool
    n_iter_: int

    def __init__(self, n_components: int = 2, fun: str = "logcosh", max_iter: int = 1000, tol: float = 1e-5,
                 min_kurtosis: float = 0.5, seed: int = 0) -> None:
        self.n_components = n_components
        self.fun = fun
        self.max_iter = max_iter
        self.tol = tol
        self.min_kurtosis = min_kurtosis
        self.seed = seed

    def fit(self, diffs: np.ndarray, neg: np.ndarray | None = None) -> "ICARecovery":
        """Unmix the differences.

        Args:
            diffs: Activation differences (n, d), one row per pair — or the positive
                activations when ``neg`` is given (then ``diffs − neg`` is used, paired rows).
            neg: Optional negative activations (n, d).

        Returns:
            ``self``.

        Raises:
            DataError: Bad hyper-parameters or data, or more components than the data allow.
        """
        k = check_int(self.n_components, "n_components", minimum=1)
        check_choice(self.fun, "fun", ("logcosh", "exp", "cube"))
        check_int(self.max_iter, "max_iter", minimum=1)
        check_fraction(self.tol, "tol", high_open=True)
        check_fraction(self.min_kurtosis, "min_kurtosis", low=0.0, high=np.inf, high_open=True)
        seed = check_seed(self.seed)
        data = as_matrix(diffs, "activation differences", min_rows=2)
        if neg is not None:
            other = as_matrix(neg, "negative activations", dim=data.shape[1])
            if other.shape[0] != data.shape[0]:
                raise DataError(f"{data.shape[0]} positives but {other.shape[0]} negatives",
                                "give complete pairs, row i of each from pair i")
            data = data - other
        if k >= min(data.shape):
            raise DataError(f"n_components={k} needs more than {k} rows and columns, got {data.shape}",
                            "lower n_components or add pairs")
        if np.linalg.matrix_rank(data - data.mean(axis=0)) < k:
            raise DataError(f"the differences span fewer than {k} dimensions", "lower n_components")
        ica = FastICA(n_components=k, algorithm="parallel", whiten="unit-variance", fun=self.fun,
                      max_iter=int(self.max_iter), tol=float(self.tol), random_state=seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            sources = ica.fit_transform(data)
        self.converged_ = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        for caught_warning in caught:  # re-emit anything but the convergence notice recorded above
            if not issubclass(caught_warning.category, ConvergenceWarning):
                warnings.warn_explicit(caught_warning.message, caught_warning.category, caught_warning.filename,
                                       caught_warning.lineno)
        mixing = ica.mixing_  # (d, k): data ≈ sources @ mixing.T + mean_
        sources = sources + ica.components_ @ ica.mean_  # put back each source's mean
        norms = np.linalg.norm(mixing, axis=0)
        centre = sources.mean(axis=0)
        # Sign: a positive mean shift; for (near) zero-mean sources, a positive skew.
        shifted = np.abs(centre) >= 0.1 * sources.std(axis=0)
        signs = np.where(shifted, np.sign(centre), np.sign(skew(sources, axis=0)))
        signs[signs == 0] = 1.0
        order = np.argsort(-norms)  # unit-variance sources: the column norm is the trait's scale
        self.directions_ = ((mixing / norms) * signs).T[order]
        self.sources_ = (sources * signs)[:, order]
        self.excess_kurtosis_ = kurtosis(self.sources_, axis=0, fisher=True)
        self.gaussianity_ = np.abs(self.excess_kurtosis_) < self.min_kurtosis
        self.identifiable_ = bool(self.gaussianity_.sum() <= 1)
        self.n_iter_ = int(ica.n_iter_)
        return self

    def match(self, reference: np.ndarray) -> dict[str, Any]:
        """Assign recovered directions to reference directions (Hungarian on |cos|).

        Args:
            reference: Reference directions as rows, shape (m, d).

        Returns:
            ``{"rows": recovered indices, "cols": reference indices, "cosines": |cos| per
            matched pair (array), "mean": their mean}``.
        """
        require_fitted(self, "directions_", "ICARecovery")
        ref = as_matrix(reference, "reference directions", dim=self.directions_.shape[1])
        norms = np.linalg.norm(ref, axis=1)
        if np.any(norms == 0):
            raise DataError("a reference direction is zero", "pass non-zero reference directions")
        similarity = np.abs(self.directions_ @ (ref / norms[:, None]).T)
        rows, cols = linear_sum_assignment(-similarity)
        cos = similarity[rows, cols]
        return {"rows": rows, "cols": cols, "cosines": cos, "mean": float(cos.mean())}
