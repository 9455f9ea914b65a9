r"""E6(b): the output Fisher metric of the next-token distribution at a residual site.

Set-up. Take a point (sequence s, real position t ≥ 1) and let h ∈ ℝᵈ be the site activation
of token t. Hold every other position fixed (the prefix s[:t] is run once, its keys and values
are cached, and only token t is re-run), add a displacement δ at the site of token t only and
read the logits z(δ) ∈ ℝⱽ at position t. With p = softmax(z(0)) and J = ∂z/∂δ |₀ (V × d),

    KL(p(h) ‖ p(h + δ)) = ½ δᵀ F δ + O(‖δ‖³),   F = Jᵀ (diag(p) − p pᵀ) J,

because the Hessian of the log-partition A(z) = log Σ exp z is H = diag(p) − ppᵀ. The reported
metric is the average over points, F̄ = (1/N) Σᵢ Jᵢᵀ Hᵢ Jᵢ. H·1 = 0, so a direction that shifts
every logit by the same constant (J δ = c·1) costs nothing under F, while the raw Gram matrix
G = (1/N) Σ Jᵢᵀ Jᵢ (``metric="euclidean"``, reported for contrast) counts it as a change.

Exact products, never a d × d Jacobian. Per chunk of points the forward pass is recorded once
with δ = 0 requiring grad; with w a dummy (N × V) cotangent,

    g(w) = Jᵀ w                  (one backward with ``create_graph``),
    J v  = ∂⟨g(w), v⟩ / ∂w       (double backward: the Jacobian-vector product),
    F v  = Jᵀ (p ⊙ Jv − p (pᵀ Jv))  (a plain backward through the retained graph),

so one Fisher-vector product costs two backward passes of one token per point through the
blocks above the site (H is applied in float64). Attention runs on PyTorch's *math* SDPA
kernel while recording, because the fused CPU kernel has no double backward.

Spectra. For d ≤ ``dense_max_dim`` (or ``method="dense"``) F̄ is built densely from d products
(F̄ eᵢ, vmapped over blocks of basis vectors with ``is_grads_batched``) and symmetrised;
otherwise its top k eigenpairs come from Lanczos (``scipy.sparse.linalg.eigsh`` with a
``LinearOperator`` of Fisher-vector products; typically a few × k products).

Null-space dimension at tolerance τ: the number of eigenvalues below τ·λ_max. With the full
spectrum it is exact — for these points. rank Hᵢ = |support pᵢ| − 1 and a confident point has
only one or two well-weighted directions, so F̄ over N points probes roughly N × (mean
perplexity) directions: a "null" eigenvalue may only be unprobed, as with a covariance of n < d
rows. With only the top k of d: if λ_k < τ·λ_max every uncomputed eigenvalue is ≤ λ_k and the
count is d − #{λ ≥ τ·λ_max} (determined); otherwise only rank ≥ k is known, so the null space
has dimension ≤ d − k (an upper bound).

Finite differences (the probe approach, for verification and benchmarking): for a unit u and
step ε, q(u) = [KL(p ‖ p(+εu)) + KL(p ‖ p(−εu))] / ε² = uᵀF̄u + O(ε²) (the cubic terms
cancel). For Gaussian probes g ~ N(0, I), E[(gᵀF̄g) g gᵀ] = 2F̄ + tr(F̄) I and E[gᵀF̄g] = tr(F̄),
so F̂ = ½ ( mean(qᵢ gᵢgᵢᵀ) − mean(qᵢ) I ) is an unbiased sketch of F̄ from m probes
(``estimator="moments"``). The ``"minnorm"`` sketch is the minimum-Frobenius-norm symmetric
matrix fitting the probes in least squares: with A: F ↦ (gᵢᵀFgᵢ)ᵢ and A*c = Σ cᵢ gᵢgᵢᵀ,
F̂ = A* (AA*)⁺ q, where (AA*)ᵢⱼ = (gᵢᵀgⱼ)²; it equals F̄ (up to the O(ε²) error) once
m ≥ d(d+1)/2 probes span the symmetric matrices, and is a crude sketch below that. mean(qᵢ) is
Hutchinson's estimate of tr F̄ either way.

Layout: :mod:`~steerid.experiments.fisher.points` (linearisation points and their prefix caches),
:mod:`~steerid.experiments.fisher.products` (exact Fisher-vector products),
:mod:`~steerid.experiments.fisher.spectrum` (spectra and null-space dimension),
:mod:`~steerid.experiments.fisher.exact` (the dense F̄ from top-token rows of J, with its truncation
bound: the full spectrum for d ≤ ~2048) and
:mod:`~steerid.experiments.fisher.finite_difference` (the probe sketch).
"""

from steerid.experiments.fisher.finite_difference import (
    FiniteDifferenceFisher,
    finite_difference_fisher,
    finite_difference_quadratic_forms,
    sketch_from_quadratic_forms,
    subspace_angles_deg,
)
from steerid.experiments.fisher.points import FisherPoint, PointSet, fisher_points
from steerid.experiments.fisher.products import Metric, SiteLinearization, differentiable_displacement
from steerid.experiments.fisher.spectrum import (
    DEFAULT_TOLERANCES,
    FisherSpectrum,
    Method,
    NullSpaceDimension,
    fisher_spectrum,
    null_space_dimension,
    spectrum,
)

__all__ = [
    "DEFAULT_TOLERANCES",
    "FiniteDifferenceFisher",
    "FisherPoint",
    "FisherSpectrum",
    "Method",
    "Metric",
    "NullSpaceDimension",
    "PointSet",
    "SiteLinearization",
    "differentiable_displacement",
    "finite_difference_fisher",
    "finite_difference_quadratic_forms",
    "fisher_points",
    "fisher_spectrum",
    "null_space_dimension",
    "sketch_from_quadratic_forms",
    "spectrum",
    "subspace_angles_deg",
]
