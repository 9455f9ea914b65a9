r"""The averaged output Fisher F̄ as a dense d × d matrix, from top-S reverse-mode rows of J.

Rows, not products. At a point i (notation of :mod:`steerid.experiments.fisher`) write the
logits as z = ψ(W ĥ + b), with ĥ(δ) ∈ ℝᵈᶠ the input of the readout W (V × dᶠ) and ψ the identity or
Gemma's soft-cap c·tanh(·/c). Row y of J = ∂z/∂δ is

    j_y = K_iᵀ (s_y w_y),   K_i = ∂ĥ/∂δ (dᶠ × d),   s_y = ψ'(u_y) = 1 − (z_y / c)²  (1 without a cap),

one vector-Jacobian product with the cotangent s_y w_y placed on ĥ. Since H_i = diag p − ppᵀ
satisfies H·1 = 0, F_i = Jᵀ H J = Σ_y p_y (j_y − m)(j_y − m)ᵀ with m = Σ_y p_y j_y: F_i is the
covariance of the rows j_y under y ~ p_i. Take S_i = the top tokens of p_i holding mass
π_i = 1 − ε_i ≥ 1 − ``tail`` (at most ``max_tokens`` of them; ε_i is reported per point) and

    F̃_i = J_Sᵀ (diag p_S − p_S p_Sᵀ / π_i) J_S = Σ_{y∈S} p_y (j_y − m_S)(j_y − m_S)ᵀ,
    m_S = Σ_{y∈S} p_y j_y / π_i,

built from |S_i| VJPs (all points of a chunk at once, ``is_grads_batched``): |S| backward passes
of one token through the blocks above the site instead of the 2·d (double-backward) passes of d
Fisher-vector products. F̄_S = mean_i F̃_i.

Truncation bound (derivation). With T = S's complement, m_T = Σ_T p_y j_y / ε and Δ = m_T − m_S,
the law of total covariance gives F_i = π Cov_S + ε Cov_T + π ε ΔΔᵀ and F̃_i = π Cov_S, so

    F_i − F̃_i = ε Cov_T + π ε ΔΔᵀ = ε Σ_T (p_y/ε)(j_y − m_S)(j_y − m_S)ᵀ − ε² ΔΔᵀ,

(re-centre Cov_T at m_S). Hence, in the Loewner order,

    0 ⪯ F_i − F̃_i ⪯ ε_i · max_{y∈T} ‖j_y − m_S‖² · I ⪯ ε_i · r_i² · κ_i² · I,

with r_i = max_{y∈T} ‖s_y w_y − w̄_i‖ (w̄_i = Σ_S p_y s_y w_y / π_i, so j_y − m_S = K_iᵀ(s_y w_y − w̄_i);
exact, from the readout and the logits of every token) and κ_i = ‖K_i‖₂. Averaging,
0 ⪯ F̄ − F̄_S ⪯ β I with β = mean_i ε_i r_i² κ_i², and by Weyl's inequality every eigenvalue obeys
λ_k(F̄_S) ≤ λ_k(F̄) ≤ λ_k(F̄_S) + β (eigenvectors move by at most β / gap, Davis–Kahan).

κ_i² = λ_max(K_iᵀK_i) is the only quantity not computed exactly: ``lanczos_steps`` = q steps of
Lanczos on K_iᵀK_i per point (each a JVP by double backward and a VJP) from a uniform random
start give a Ritz value θ_i ≤ κ_i². Kuczyński & Woźniakowski (SIAM J. Matrix Anal. Appl. 13, 1992)
bound the failure probability of Lanczos with k matrix-vector products on an n × n PSD matrix:
P(θ < (1 − η) λ_max) ≤ 1.648 √n e^{−(2k−1)√η}. With k = q − 1 (conservative) and a per-point failure
probability ``confidence`` / N, η is solved for and κ_i² ≤ θ_i / (1 − η) for all points at once
with probability ≥ 1 − ``confidence`` (union bound). So β is a bound holding with that
probability over the random starts, exact in everything else. With ``tail = 0`` and enough
``max_tokens`` every token is kept, ε_i = 0 and F̄_S = F̄ up to float32 round-off (β = 0).

The per-point matrices are kept (float32, N × d × d: 170 MB for 128 points at d = 576; not kept
above ``MAX_KEPT`` entries) so the null-space dimension can be bootstrapped over sequences and
re-counted on subsets of points without new passes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from steerid.engine.batching import chunks
from steerid.errors import DataError, ModelError
from steerid.experiments.fisher.points import PointSet, _Chunk
from steerid.experiments.fisher.products import differentiable_displacement
from steerid.experiments.fisher.spectrum import DEFAULT_TOLERANCES, FisherSpectrum, null_space_dimension
from steerid.results import ResultMixin, Summary, Table, jsonable

KW_CONSTANT = 1.648  # Kuczyński–Woźniakowski (1992), Lanczos with a random start
MAX_KEPT = 2.5e8  # per-point matrices (float32 N × d × d) kept only below this many entries (1 GB)


def lanczos_inflation(steps: int, n: int, failure: float) -> float:
    """Factor 1/(1 − η) with P(Ritz value < (1 − η) λ_max) ≤ ``failure`` after ``steps`` Lanczos steps.

    Solves 1.648 √n e^{−(2k−1)√η} = failure for η with k = steps − 1; raises when the steps are
    too few for any η < 1.
    """
    k = steps - 1
    if k < 1 or not 0 < failure < 1:
        raise DataError(f"Lanczos bound needs ≥ 2 steps and a failure probability in (0, 1), got {steps}, {failure}",
                        "use lanczos_steps ≥ 8 and confidence such as 1e-3")
    root = math.log(KW_CONSTANT * math.sqrt(n) / failure) / (2 * k - 1)
    eta = max(root, 0.0) ** 2
    if eta >= 1:
        raise DataError(f"{steps} Lanczos steps cannot bound ‖K‖ at failure probability {failure:g} for n = {n}",
                        "raise lanczos_steps")
    return 1.0 / (1.0 - eta)


def _readout(lm) -> tuple[torch.nn.Module, float | None]:
    head = lm.model.get_output_embeddings()
    if head is None or not hasattr(head, "weight"):
        raise DataError(f"{lm.info.name} has no linear readout", "the exact Fisher needs a model with an lm_head")
    cap = getattr(lm.model.config, "final_logit_softcapping", None)
    return head, (float(cap) if cap else None)


def _check_readout(z: torch.Tensor, hhat: torch.Tensor, head: torch.nn.Module, cap: float | None) -> None:
    """The rows j_y = K_iᵀ(s_y w_y) assume z = ψ(W ĥ + b); refuse a model whose logits are anything else."""
    u = hhat @ head.weight.detach().double().T
    if getattr(head, "bias", None) is not None:
        u = u + head.bias.detach().double()
    if cap is not None:
        u = cap * torch.tanh(u / cap)
    if not torch.allclose(u, z, rtol=1e-4, atol=1e-4 * float(z.abs().max())):
        raise ModelError("the logits are not a (soft-capped) linear readout of the last hidden state",
                         "use the product route (SiteLinearization / method='lanczos') for this model")


@dataclass
class _ChunkRows:
    """What one chunk contributes: per-point F̃_i, tail masses, token counts, r_i² and θ_i."""

    matrices: torch.Tensor  # (n, d, d) float64
    tail: np.ndarray
    tokens: np.ndarray
    r2: np.ndarray
    theta: np.ndarray


def _select(p: torch.Tensor, tail: float, max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per point: top-token ids (n, S) and a mask of the kept ones (the smallest set with mass ≥ 1 − tail)."""
    vocab = p.shape[-1]
    top = min(max_tokens, vocab)
    values, ids = torch.topk(p, top, dim=-1)
    if tail == 0:
        keep = torch.ones_like(values, dtype=torch.bool)
    else:
        before = torch.cumsum(values, -1) - values  # mass of the tokens ranked above
        keep = before < 1 - tail
    width = int(keep.sum(-1).max())
    return ids[:, :width], keep[:, :width]


def _chunk_rows(chunk: _Chunk, *, tail: float, max_tokens: int, block: int, lanczos_steps: int,
                generator: torch.Generator) -> _ChunkRows:
    lm = chunk.lm
    head, cap = _readout(lm)
    weight = head.weight.detach().float()  # (V, dᶠ)
    n, d = len(chunk), lm.info.hidden_size
    captured: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda _m, args, _out: captured.append(args[0]))
    delta = torch.zeros((n, d), dtype=torch.float32, requires_grad=True)
    shift = delta if chunk.base is None else delta + torch.as_tensor(chunk.base, dtype=torch.float32)
    try:
        with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), differentiable_displacement(lm, chunk.site, shift):
            z = lm.model(**chunk.inputs()).logits[:, -1, :]
    finally:
        hook.remove()
    hhat = captured[-1][:, -1, :]  # (n, dᶠ), still on the graph
    z = z.detach().double()
    _check_readout(z, hhat.detach().double(), head, cap)
    p = torch.softmax(z, -1)
    scale = torch.ones_like(z) if cap is None else 1 - (z / cap) ** 2  # s_y = ψ'(u_y)
    ids, keep = _select(p, tail, max_tokens)
    p_s = torch.gather(p, 1, ids) * keep  # (n, S)
    mass = p_s.sum(-1)
    kept = torch.zeros_like(p, dtype=torch.bool).scatter_(1, ids, keep)
    eps = (p * ~kept).sum(-1)  # the left-out mass, summed directly (no cancellation)
    s_s = torch.gather(scale, 1, ids)
    # rows j_y = K_iᵀ (s_y w_y) for the kept tokens, S VJPs per chunk (batched over points)
    rows = torch.zeros((n, ids.shape[1], d), dtype=torch.float64)
    for part in chunks(ids.shape[1], block):
        cot = (weight[ids[:, part]] * s_s[:, part, None].float() * keep[:, part, None]).transpose(0, 1).contiguous()
        (grad,) = torch.autograd.grad(hhat, delta, cot, retain_graph=True, is_grads_batched=True)
        rows[:, part] = grad.double().transpose(0, 1)
    mean = (p_s[..., None] * rows).sum(1) / mass[:, None]  # m_S
    centred = (rows - mean[:, None, :]) * p_s.sqrt()[..., None]
    matrices = centred.transpose(1, 2) @ centred  # Σ_S p_y (j_y − m_S)(j_y − m_S)ᵀ
    # r_i² = max over the tail of ‖s_y w_y − w̄_i‖²
    w64 = weight.double()
    wbar = torch.einsum("ns,nsf->nf", p_s * s_s, w64[ids]) / mass[:, None]
    norms = (w64 * w64).sum(-1)  # (V,)
    dist = scale**2 * norms[None, :] - 2 * scale * (wbar @ w64.T) + (wbar * wbar).sum(-1, keepdim=True)
    dist = dist.masked_fill(kept, 0.0)
    r2 = dist.clamp_min(0.0).max(-1).values
    theta = _kappa2(hhat, delta, lanczos_steps, generator) if lanczos_steps and float(eps.max()) > 0 else torch.zeros(n)
    return _ChunkRows(matrices, eps.numpy(), keep.sum(-1).numpy(), r2.numpy(), theta.double().numpy())


def _kappa2(hhat: torch.Tensor, delta: torch.Tensor, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Largest Ritz value of K_iᵀK_i after ``steps`` Lanczos steps per point (batched, full re-orthogonalisation)."""
    n, d = delta.shape
    w = torch.zeros_like(hhat, requires_grad=True)
    (g,) = torch.autograd.grad(hhat, delta, w, create_graph=True)  # g(w) = Kᵀw, linear in w

    def gram(u: torch.Tensor) -> torch.Tensor:  # Kᵀ K u per point
        (ku,) = torch.autograd.grad(g, w, u.float(), retain_graph=True)
        (ktku,) = torch.autograd.grad(hhat, delta, ku, retain_graph=True)
        return ktku.double()

    steps = min(steps, d)
    q = torch.randn((n, d), generator=generator, dtype=torch.float64)
    q /= q.norm(dim=-1, keepdim=True)
    basis = [q]
    alphas, betas = [], []
    for j in range(steps):
        r = gram(basis[-1])
        alphas.append((r * basis[-1]).sum(-1))
        for b in basis:  # full re-orthogonalisation (twice is enough)
            r = r - (r * b).sum(-1, keepdim=True) * b
        for b in basis:
            r = r - (r * b).sum(-1, keepdim=True) * b
        beta = r.norm(dim=-1)
        if j == steps - 1:
            break
        betas.append(beta)
        basis.append(r / beta.clamp_min(1e-300)[:, None])
    k = len(alphas)
    tri = torch.zeros((n, k, k), dtype=torch.float64)
    idx = torch.arange(k)
    tri[:, idx, idx] = torch.stack(alphas, -1)
    if betas:
        off = torch.stack(betas, -1)
        tri[:, idx[:-1], idx[1:]] = off
        tri[:, idx[1:], idx[:-1]] = off
    return torch.linalg.eigvalsh(tri)[:, -1].clamp_min(0.0)


@dataclass(frozen=True, repr=False)
class NullDimensionCI(ResultMixin):
    """Null-space dimension at one tolerance with a cluster-bootstrap CI over sequences.

    Attributes:
        tolerance: τ relative to λ_max (of each resample).
        dimension: on all points.
        low / high: percentile interval at ``level``.
        level: confidence level.
        n_boot: resamples of the sequences (points of a sequence move together).
    """

    tolerance: float
    dimension: int
    low: float
    high: float
    level: float
    n_boot: int


@dataclass(frozen=True, repr=False)
class NullDimensionByPoints(ResultMixin):
    """Null-space dimension on random subsets of sequences (median and range over ``repeats`` subsets)."""

    n_points: int
    tolerance: float
    median: float
    low: int
    high: int
    repeats: int


@dataclass(repr=False)
class ExactFisher(ResultMixin):
    """F̄_S (dense, float64) with its truncation bound; see the module docstring.

    Attributes:
        matrix: F̄_S, d × d (not serialised).
        d / n_points / n_sequences: dimension, points and sequences averaged over.
        operating_point: ``unsteered`` or a label such as ``+α·v`` (the base displacement).
        tail: requested tail mass; max_tokens: cap on |S_i|.
        tail_mass_mean / tail_mass_max: the ε_i actually left out.
        tokens_mean / tokens_max: |S_i|.
        bound: β with 0 ⪯ F̄ − F̄_S ⪯ β·I (0 when no mass is left out).
        bound_confidence: probability the bound may fail (Lanczos random starts; 0 when β = 0).
        bound_over_max: β / λ_max(F̄_S).
        lanczos_inflation: the factor 1/(1 − η) applied to the Ritz values.
        seconds: wall time (all passes and the accumulation).
        backward_passes: single-token backward passes per point (rows + Lanczos).
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ("d", "n_points", "operating_point", "bound_over_max")

    matrix: np.ndarray = field(repr=False)
    per_point: np.ndarray = field(repr=False)
    sequence_index: np.ndarray = field(repr=False)
    d: int
    n_points: int
    n_sequences: int
    positions_per_prompt: int
    operating_point: str
    tail: float
    max_tokens: int
    tail_mass_mean: float
    tail_mass_max: float
    tokens_mean: float
    tokens_max: int
    bound: float
    bound_confidence: float
    bound_over_max: float
    lanczos_inflation: float
    seconds: float
    backward_passes: int
    mean_perplexity: float

    def to_dict(self) -> dict:
        skip = {"matrix", "per_point", "sequence_index"}
        return jsonable({k: v for k, v in vars(self).items() if k not in skip})

    def eigh(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (descending) and eigenvectors (columns) of F̄_S."""
        vals, vecs = np.linalg.eigh(self.matrix)
        return vals[::-1].copy(), vecs[:, ::-1].copy()

    def product(self, v: np.ndarray) -> np.ndarray:
        """F̄_S v (float64), the drop-in for :meth:`SiteLinearization.product`."""
        return self.matrix @ np.asarray(v, dtype=np.float64)

    def spectrum(self, tolerances: Sequence[float] = DEFAULT_TOLERANCES) -> FisherSpectrum:
        """The full spectrum as a :class:`FisherSpectrum` (``method="exact"``; exact null-space counts)."""
        vals, vecs = self.eigh()
        null = null_space_dimension(vals, d=self.d, tolerances=tolerances)
        note = (f"full spectrum of F̄ = mean Jᵀ(diag p − ppᵀ)J at the {self.operating_point} point from the top "
                f"tokens of each point (mean {self.tokens_mean:.1f}, max {self.tokens_max}; tail mass ≤ "
                f"{self.tail_mass_max:.3g}); every eigenvalue is within [λ, λ + {self.bound:.3g}] of the exact one "
                f"(β/λ_max = {self.bound_over_max:.3g}, failure probability ≤ {self.bound_confidence:g}); "
                f"averaged over {self.n_points} points (mean next-token perplexity {self.mean_perplexity:.3g}); "
                f"small eigenvalues also reflect how few directions these points probe")
        return FisherSpectrum(metric="fisher", method="exact", eigenvalues=vals, d=self.d, k=self.d,
                              n_prompts=self.n_sequences, n_positions=self.n_points,
                              positions_per_prompt=self.positions_per_prompt, null_space=null, n_products=0,
                              seconds=self.seconds, note=note, eigenvectors=vecs, mean_perplexity=self.mean_perplexity)

    def null_space(self, tolerance: float) -> np.ndarray:
        """Orthonormal basis (d × k) of the eigenvectors with λ < τ·λ_max."""
        vals, vecs = self.eigh()
        return vecs[:, vals < tolerance * vals[0]]

    def _counts(self, weights: np.ndarray, tolerances: Sequence[float]) -> list[int]:
        if self.per_point.shape[0] != self.n_points:
            raise DataError(f"the per-point matrices of {self.n_points} points were not kept (over {MAX_KEPT:.0e} "
                            f"entries)", "bootstrap on fewer points, or raise exact.MAX_KEPT")
        matrix = np.tensordot((weights / weights.sum()).astype(np.float32), self.per_point, axes=1)
        vals = np.linalg.eigvalsh(0.5 * (matrix + matrix.T)).astype(np.float64)  # float32: counts at τ ≥ 1e-4
        return [int((vals < tol * vals[-1]).sum()) for tol in tolerances]

    def null_dimension_ci(self, tolerances: Sequence[float] = DEFAULT_TOLERANCES, *, n_boot: int = 200,
                          level: float = 0.95, seed: int = 0) -> list[NullDimensionCI]:
        """Cluster bootstrap over sequences (percentile CI) of the null-space dimension per tolerance."""
        rng = np.random.default_rng(seed)
        seqs = np.unique(self.sequence_index)
        members = [np.flatnonzero(self.sequence_index == s) for s in seqs]
        draws = np.empty((n_boot, len(tolerances)))
        for b in range(n_boot):
            weights = np.zeros(self.n_points)
            for s in rng.integers(0, len(seqs), len(seqs)):
                weights[members[s]] += 1
            draws[b] = self._counts(weights, tolerances)
        point = self._counts(np.ones(self.n_points), tolerances)
        lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return [NullDimensionCI(float(t), int(p), float(a), float(c), float(level), int(n_boot))
                for t, p, a, c in zip(tolerances, point, lo, hi, strict=True)]

    def null_dimension_by_points(self, fractions: Sequence[float] = (0.125, 0.25, 0.5, 1.0),
                                 tolerances: Sequence[float] = DEFAULT_TOLERANCES, *, repeats: int = 5,
                                 seed: int = 0) -> list[NullDimensionByPoints]:
        """Null-space dimension on random subsets of the sequences: how it shrinks as points are added."""
        rng = np.random.default_rng(seed)
        seqs = np.unique(self.sequence_index)
        out = []
        for frac in fractions:
            m = max(1, int(round(frac * len(seqs))))
            runs = []
            for _ in range(repeats if m < len(seqs) else 1):
                chosen = rng.choice(seqs, m, replace=False)
                runs.append(self._counts(np.isin(self.sequence_index, chosen).astype(float), tolerances))
            runs_arr = np.asarray(runs)
            n_pts = int(np.isin(self.sequence_index, chosen).sum())
            for j, tol in enumerate(tolerances):
                col = runs_arr[:, j]
                out.append(NullDimensionByPoints(n_pts, float(tol), float(np.median(col)), int(col.min()),
                                                 int(col.max()), len(runs)))
        return out

    def summary(self) -> Summary:
        rows = [(k, v) for k, v in self.to_dict().items()]
        return Summary("Exact output Fisher", rows=rows, tables=[Table(("eigenvalue",), tuple(
            (float(v),) for v in self.eigh()[0][:5]))])


def exact_fisher(points: PointSet, *, tail: float = 1e-3, max_tokens: int = 256, block: int = 64,
                 lanczos_steps: int = 16, confidence: float = 1e-3, seed: int = 0,
                 operating_point: str | None = None) -> ExactFisher:
    """F̄_S over ``points`` (at ``points.base``) with its truncation bound β (module docstring).

    Args:
        points: the linearisation points (their ``base`` is the operating point).
        tail: keep each point's top tokens until the left-out mass is ≤ ``tail`` (0: every token).
        max_tokens: cap on the tokens kept per point (the left-out mass is then reported, and bounded).
        block: VJPs per batched backward pass.
        lanczos_steps: Lanczos steps per point for ‖K_i‖₂ (only when some mass is left out).
        confidence: failure probability of the bound (union over points).
        seed: seeds the Lanczos starts (deterministic).
        operating_point: label recorded with the result (default ``unsteered`` or ``base``).
    """
    if not 0 <= tail < 1:
        raise DataError(f"tail must be in [0, 1), got {tail}", "use e.g. 1e-3 (0 keeps every token)")
    if max_tokens < 1 or block < 1:
        raise DataError(f"max_tokens and block must be ≥ 1, got {max_tokens}, {block}", "use e.g. 256 and 64")
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    d = points.d
    parts: list[_ChunkRows] = []
    total = torch.zeros((d, d), dtype=torch.float64)
    keep = points.n_points * d * d <= MAX_KEPT
    kept: list[torch.Tensor] = []
    for chunk in points.chunks:
        part = _chunk_rows(chunk, tail=tail, max_tokens=max_tokens, block=block, lanczos_steps=lanczos_steps,
                           generator=generator)
        total += part.matrices.sum(0)
        if keep:
            kept.append(part.matrices.float())
        part.matrices = part.matrices[:0]  # free the float64 copy
        parts.append(part)
    matrix = (total / points.n_points).numpy()
    matrix = 0.5 * (matrix + matrix.T)
    eps = np.concatenate([p.tail for p in parts])
    tokens = np.concatenate([p.tokens for p in parts])
    r2 = np.concatenate([p.r2 for p in parts])
    theta = np.concatenate([p.theta for p in parts])
    left_out = bool(eps.max() > 0)
    inflation = lanczos_inflation(lanczos_steps, d, confidence / points.n_points) if left_out and lanczos_steps else 1.0
    if left_out and not lanczos_steps:
        bound, failure = float("inf"), 0.0
    else:
        bound = float(np.mean(eps * r2 * theta * inflation)) if left_out else 0.0
        failure = confidence if left_out else 0.0
    lam = float(np.linalg.eigvalsh(matrix)[-1])
    logp = [torch.log_softmax(ref, -1) for ref in points._reference]
    entropy = torch.cat([-(lp.exp() * lp).sum(-1) for lp in logp])
    label = operating_point or ("unsteered" if points.base is None else "base")
    passes = int(tokens.max()) + (2 * lanczos_steps + 1 if left_out else 0)
    return ExactFisher(
        matrix=matrix,
        per_point=torch.cat(kept).numpy() if keep else np.zeros((0, d, d), np.float32),
        sequence_index=np.array([p.sequence_index for p in points.points]), d=d, n_points=points.n_points,
        n_sequences=points.n_sequences, positions_per_prompt=points.positions, operating_point=label, tail=float(tail),
        max_tokens=int(max_tokens), tail_mass_mean=float(eps.mean()), tail_mass_max=float(eps.max()),
        tokens_mean=float(tokens.mean()), tokens_max=int(tokens.max()), bound=bound, bound_confidence=failure,
        bound_over_max=bound / lam if lam > 0 else float("nan"), lanczos_inflation=float(inflation),
        seconds=time.perf_counter() - start, backward_passes=passes, mean_perplexity=float(entropy.exp().mean()),
    )
