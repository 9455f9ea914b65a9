r"""Planted-direction benchmark: does each constraint find w, and ignore what behaviour ignores?

For every constraint the data carry a planted unit direction w and a perturbation v⊥ that the
"behaviour" cannot see, and the estimate of the unconstrained method (the mean difference) is
compared with the constrained one. Two measurements per constraint:

- **recovery** (ρ = 0): cos(estimate, w) against the number of pairs n and the noise level σ;
- **drift** (ρ = ‖v⊥‖/‖v‖ > 0): the same base data (common random numbers: the noise is drawn
  once) shifted by s·w + v⊥ for R independent draws of v⊥; ``drift = 1 − min_{r<r'} cos(e_r,
  e_r')`` over the R estimates says how far an estimate moves when only v⊥ changes, and the
  cosine to w (mean over draws) how far it is from the planted direction. A row is
  ``invariant`` when the constrained drift is at most half the mean difference's and its cosine to
  w is at least as high; ``headline()`` reports that for the largest ρ of the grid. Only the
  gauge is invariant by construction (drift exactly 0 when v⊥ lies in the subspace it removes;
  here that subspace is estimated, so ≈ 1e-5); the others reduce drift as far as their
  assumption holds, and their estimates keep a floor of sampling noise (e.g. crosslayer
  switching between equally clean layers).

Synthetic worlds (d = 48, linear-Gaussian, shift s = 2; where pairs are used they share a
nuisance z ~ N(0, 9I) that cancels in the pair difference, plus independent noise of s.d. σ):

- ``gauge``: activations live in a range R (dim 12, variances σ²·[1, 4], w a random unit
  vector in R); the null space N = R^⊥ (dim 36) has s.d. 0.05 and v⊥ ∈ N. The gauge is fitted
  on the covariance of 4d separate *neutral* activations (no class shift) at 99 % variance
  (at 95 % the lowest-variance range direction, 3 % of the variance, would be cut off and with
  it part of w: a covariance gauge can discard a low-variance trait direction).
- ``sparse``: w has 4 non-zero neuron coordinates; v⊥ is a dense random direction ⊥ w; the
  noise is isotropic σ.
- ``multienv``: 4 environments of n pairs each, pair differences αᵢ w + βᵢ sₑ + noise (s.d.
  σ/2) with αᵢ ~ s·U(½, 3/2), βᵢ ~ U(0, 2) and sₑ = an environment-specific v⊥ (ρ fixes
  ‖sₑ‖); baseline = mean difference of all pairs pooled; k = 2 difference subspaces, which
  needs the spurious variation above the noise. At ρ = 0 there is no spurious part.
- ``crosslayer``: 5 layers, the residual stream carries w unchanged (identity transport),
  independent noise per layer; the nominal layer (index 2, the baseline) always carries v⊥ and
  one other random layer an independent v⊥ draw.
- ``ica``: differences s₁ w + s₂ t + noise with independent exponential s₁ (mean s) and a
  second trait t ⊥ w: at ρ = 0 s₂ is zero-mean Laplace (it varies but does not shift the
  mean), in drift rows s₂ ~ ρ·s·Exp(1) shifts the mean along t = v⊥; noise s.d. σ. Which ICA
  component is the target is decided by matching to w (oracle assignment, |cos|).

Tiny transformer (``tiny:llama``, d = 48): behaviour is made to depend on a planted rank-4
subspace R ∋ w at the last residual site ``out:2`` by restricting the readout, logits =
W_U P_R RMSNorm(h) (applied functionally; the model's weights are not changed). Its exact
output Fisher F = E[Jᵀ(diag p − ppᵀ)J] is computed by autograd on half of the captured tokens
and the gauge keeps 97 % of tr F (``gauge/fisher``); ``gauge/covariance`` fits the gauge on the
same tokens' activation covariance (95 %) — it has no reason to match the readout, and the
benchmark shows whether it does. The other half of the tokens gives the contrastive data:
pos = h + s·w + v⊥, neg = other tokens, v⊥ ∈ R^⊥ (the planted null space), s = ½ × median
token norm. The behaviour check reports KL(p(h+v) ‖ p(h+v+v⊥)) against KL(p(h) ‖ p(h+v)),
against a same-norm perturbation inside R ⊥ w (directions that matter) and against one drawn
from the whole orthogonal complement of v (mostly null, as R is small): RMSNorm divides by
‖h + δ‖, so R^⊥ is null for the logits only up to that rescaling (a small leak that F shows as
eigenvalues ≈ 0.5 % of its largest).

``size="small"`` (CI, < 60 s) uses two sample sizes, two noise levels, one repetition and four
v⊥ draws; ``"full"`` a wider grid (five sample sizes, three noise levels, three ρ) with five
repetitions and eight draws.

Layout: :mod:`~steerid.recover.benchmark.config` (grids), :mod:`~steerid.recover.benchmark.result`
(rows and result), :mod:`~steerid.recover.benchmark.worlds` (the synthetic worlds),
:mod:`~steerid.recover.benchmark.synthetic` (their recovery and drift rows),
:mod:`~steerid.recover.benchmark.tiny` (the tiny-transformer part) and
:mod:`~steerid.recover.benchmark.run` (:func:`run_benchmark`).
"""

from steerid.recover.benchmark.config import CONFIGS, BenchmarkConfig, Size
from steerid.recover.benchmark.result import BenchmarkResult, BenchmarkRow
from steerid.recover.benchmark.run import run_benchmark

__all__ = ["CONFIGS", "BenchmarkConfig", "BenchmarkResult", "BenchmarkRow", "Size", "run_benchmark"]
