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
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from torch.nn.attention import SDPBackend, sdpa_kernel

from steerid.batching import chunks, encode, left_pad
from steerid.errors import DataError, ModelError, VectorError
from steerid.experiments.base import jsonable
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.steer import steering

Metric = Literal["fisher", "euclidean"]
Method = Literal["auto", "dense", "lanczos"]
DEFAULT_TOLERANCES = (1e-2, 1e-3, 1e-4)


# --------------------------------------------------------------------------------------------
# differentiable displacement (steer.steering detaches its deltas, so gradients stop there)
# --------------------------------------------------------------------------------------------


@contextmanager
def differentiable_displacement(lm: LoadedModel, site: Site, delta: torch.Tensor) -> Iterator[None]:
    """Add a ``(B, d)`` displacement that keeps its autograd graph at every position of the pass.

    :func:`steerid.steer.steering` detaches its displacement (correct for steering); the Fisher
    products need ∂logits/∂δ, so this steers with ``differentiable=True``: ``delta[b]`` is added
    at every position of row b through the same hook point, marked as steerid's, always removed.
    """
    if delta.ndim != 2 or delta.shape[1] != lm.info.hidden_size:
        raise VectorError(f"displacement has shape {tuple(delta.shape)}, expected (B, {lm.info.hidden_size})",
                          "pass one row per batch element")
    with steering(lm, site, delta, scope="all", differentiable=True):
        yield


# --------------------------------------------------------------------------------------------
# points: (sequence, position) pairs run as cached prefix + one re-run token
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FisherPoint:
    """One linearisation point: token ``sequence[position]`` after the prefix ``sequence[:position]``."""

    sequence_index: int
    position: int
    prefix: tuple[int, ...]
    token: int


def fisher_points(lm: LoadedModel, sequences: Sequence[str] | Sequence[Sequence[int]], *,
                  positions: int = 4) -> list[FisherPoint]:
    """The last ``positions`` real positions of each sequence, never its first token.

    Strings are tokenised like :func:`steerid.capture.capture` (with special tokens); token-id
    lists are used as given (e.g. prompt ids + a generated continuation).
    """
    if positions < 1:
        raise DataError(f"positions must be ≥ 1, got {positions}", "use at least one position per sequence")
    sequences = list(sequences)
    if not sequences:
        raise DataError("no sequences given for the Fisher metric", "supply at least one prompt")
    if all(isinstance(s, str) for s in sequences):
        ids = encode(lm, sequences)  # type: ignore[arg-type]
    elif not any(isinstance(s, str) for s in sequences):
        ids = [[int(t) for t in s] for s in sequences]
    else:
        raise DataError("sequences mix strings and token ids", "pass all strings or all token-id lists")
    points = []
    for index, row in enumerate(ids):
        for t in range(len(row) - 1, max(0, len(row) - 1 - positions), -1):
            points.append(FisherPoint(index, t, tuple(row[:t]), row[t]))
    if not points:
        raise DataError("no sequence has a token beyond its first", "use prompts of at least two tokens")
    return points


class _Chunk:
    """A chunk of points: the prefix KV cache (computed once) and the re-run token's inputs."""

    def __init__(self, lm: LoadedModel, site: Site, points: Sequence[FisherPoint], base: np.ndarray | None) -> None:
        self.lm, self.site, self.points, self.base = lm, site, list(points), base
        batch = left_pad([list(p.prefix) for p in points], lm.tokenizer.pad_token_id)
        context = steering(lm, site, base, scope="all") if base is not None else nullcontext()
        with context, torch.no_grad():
            self.cache = lm.model(**batch.model_inputs(), use_cache=True).cache
        ones = torch.ones((len(points), 1), dtype=batch.attention_mask.dtype)
        self.mask = torch.cat([batch.attention_mask, ones], dim=1)
        self.tokens = torch.tensor([[p.token] for p in points], dtype=torch.long)
        self.position_ids = torch.tensor([[p.position] for p in points], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.points)

    def inputs(self, repeats: int = 1) -> dict:
        cache = copy.deepcopy(self.cache)
        if repeats > 1:
            cache.batch_repeat_interleave(repeats)
        return {"input_ids": self.tokens.repeat_interleave(repeats, 0),
                "attention_mask": self.mask.repeat_interleave(repeats, 0),
                "position_ids": self.position_ids.repeat_interleave(repeats, 0),
                "cache": cache, "use_cache": True}

    def logprobs(self, deltas: np.ndarray | None = None, repeats: int = 1) -> torch.Tensor:
        """float64 log-softmax ``(len·repeats, V)`` of the re-run token under ``base + deltas``.

        ``deltas`` has one row per (point, repeat), points outer: row ``i·repeats + r``.
        """
        total = None
        if self.base is not None:
            total = np.tile(self.base, (len(self) * repeats, 1))
        if deltas is not None:
            total = deltas if total is None else total + deltas
        context = steering(self.lm, self.site, total, scope="all") if total is not None else nullcontext()
        with context, torch.no_grad():
            logits = self.lm.model(**self.inputs(repeats)).logits[:, -1, :]
        return torch.log_softmax(logits.double(), dim=-1)


def _check_model(lm: LoadedModel) -> None:
    if lm.model.dtype != torch.float32:
        raise ModelError(f"Fisher products need float32 weights, the model is {lm.model.dtype}",
                         "load the model with dtype='float32'")


def _check_base(lm: LoadedModel, base: np.ndarray | None) -> np.ndarray | None:
    if base is None:
        return None
    base = np.asarray(base, dtype=np.float64)
    if base.shape != (lm.info.hidden_size,) or not np.isfinite(base).all():
        raise VectorError(f"base displacement must be a finite ({lm.info.hidden_size},) vector, got shape {base.shape}",
                          "pass ctx.displacement(alpha_rel) or None")
    return base


class PointSet:
    """Points grouped in chunks with their prefix caches (shared by exact and probe estimators).

    Args:
        lm: the model (float32).
        site: where δ is added.
        sequences: texts or token-id lists.
        positions: last real positions per sequence (first token excluded).
        base: an extra displacement added at every position (the operating point, e.g. +αv);
            ``None`` for the unsteered model.
        batch_size: points per chunk.
    """

    def __init__(self, lm: LoadedModel, site: Site, sequences: Sequence[str] | Sequence[Sequence[int]], *,
                 positions: int = 4, base: np.ndarray | None = None, batch_size: int = 16) -> None:
        _check_model(lm)
        self.lm, self.site = lm, site.canonical(lm.info.n_layers)
        self.base = _check_base(lm, base)
        sequences = list(sequences)
        self.points = fisher_points(lm, sequences, positions=positions)
        self.n_sequences = len(sequences)
        self.positions = positions
        self.chunks = [_Chunk(lm, self.site, self.points[part], self.base) for part in chunks(len(self.points), batch_size)]
        self._reference = [chunk.logprobs() for chunk in self.chunks]

    @property
    def d(self) -> int:
        return self.lm.info.hidden_size

    @property
    def n_points(self) -> int:
        return len(self.points)

    def kl(self, displacements: np.ndarray, *, max_rows: int = 256) -> np.ndarray:
        """Mean over points of KL(p(h) ‖ p(h + δⱼ)) for each row δⱼ of ``displacements`` (m, d)."""
        displacements = np.atleast_2d(np.asarray(displacements, dtype=np.float64))
        if displacements.shape[1] != self.d or not np.isfinite(displacements).all():
            raise VectorError(f"displacements must be finite (m, {self.d}), got {displacements.shape}",
                              "pass one d-dimensional row per probe")
        m = displacements.shape[0]
        total = np.zeros(m, dtype=np.float64)
        for chunk, ref in zip(self.chunks, self._reference, strict=True):
            step = max(1, max_rows // len(chunk))
            for part in chunks(m, step):
                block = displacements[part]
                r = block.shape[0]
                rows = np.tile(block, (len(chunk), 1))  # point-major: row i·r + j is (point i, probe j)
                logq = chunk.logprobs(rows, repeats=r).view(len(chunk), r, -1)
                logp = ref[:, None, :]
                kl = (logp.exp() * (logp - logq)).sum(-1)  # (points, r)
                total[part] += kl.sum(0).numpy()
        return total / self.n_points


# --------------------------------------------------------------------------------------------
# exact products
# --------------------------------------------------------------------------------------------


class _Linearised:
    """Retained graph of one chunk: z(δ) at δ = 0, p, and g(w) = Jᵀw with ``create_graph``."""

    def __init__(self, chunk: _Chunk) -> None:
        lm = chunk.lm
        self.delta = torch.zeros((len(chunk), lm.info.hidden_size), dtype=torch.float32, requires_grad=True)
        shift = self.delta
        if chunk.base is not None:
            shift = self.delta + torch.as_tensor(chunk.base, dtype=torch.float32)
        with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), differentiable_displacement(lm, chunk.site, shift):
            self.z = lm.model(**chunk.inputs()).logits[:, -1, :]
            self.w = torch.zeros_like(self.z, requires_grad=True)
            (self.g,) = torch.autograd.grad(self.z, self.delta, self.w, create_graph=True)
        self.p = torch.softmax(self.z.detach().double(), dim=-1)

    def product(self, v: torch.Tensor, metric: Metric) -> torch.Tensor:
        """Σ over the chunk's points of Jᵢᵀ Mᵢ Jᵢ v (M = H for Fisher, I for Euclidean), float64."""
        rows = v.to(torch.float32).expand(self.delta.shape[0], -1)
        (jv,) = torch.autograd.grad(self.g, self.w, rows, retain_graph=True)
        if metric == "fisher":
            jv = jv.double()
            u = (self.p * jv - self.p * (self.p * jv).sum(-1, keepdim=True)).float()
        else:
            u = jv
        (jtu,) = torch.autograd.grad(self.z, self.delta, u, retain_graph=True)
        return jtu.double().sum(0)

    def products(self, vectors: torch.Tensor, metric: Metric) -> torch.Tensor:
        """``product`` for m vectors at once ``(m, d) → (m, d)``, vmapped over the backward passes."""
        rows = vectors.to(torch.float32)[:, None, :].expand(-1, self.delta.shape[0], -1).contiguous()
        (jv,) = torch.autograd.grad(self.g, self.w, rows, retain_graph=True, is_grads_batched=True)
        if metric == "fisher":
            jv = jv.double()
            u = (self.p * jv - self.p * (self.p * jv).sum(-1, keepdim=True)).float()
        else:
            u = jv
        (jtu,) = torch.autograd.grad(self.z, self.delta, u, retain_graph=True, is_grads_batched=True)
        return jtu.double().sum(1)


class SiteLinearization:
    """Exact Fisher (and Gram) vector products at a set of points, by autograd.

    Example:
        >>> lin = SiteLinearization(lm, Site(15), prompts, positions=4)
        >>> Fv = lin.product(v)                 # F̄ v, float64
        >>> spec = spectrum(lin, k=32)          # top-32 eigenpairs by Lanczos
    """

    def __init__(self, points: PointSet) -> None:
        self.points = points
        self.d = points.d
        self._graphs = [_Linearised(chunk) for chunk in points.chunks]
        self.n_products = 0
        entropy = torch.cat([-(g.p * torch.log(g.p.clamp_min(1e-300))).sum(-1) for g in self._graphs])
        self.mean_perplexity = float(entropy.exp().mean())

    @classmethod
    def build(cls, lm: LoadedModel, site: Site, sequences, *, positions: int = 4, base: np.ndarray | None = None,
              batch_size: int = 16) -> "SiteLinearization":
        return cls(PointSet(lm, site, sequences, positions=positions, base=base, batch_size=batch_size))

    def product(self, v: np.ndarray, metric: Metric = "fisher") -> np.ndarray:
        """F̄ v (``metric="fisher"``) or Ḡ v = mean Jᵀ J v (``"euclidean"``), float64 ``(d,)``."""
        if metric not in ("fisher", "euclidean"):
            raise DataError(f"unknown metric '{metric}'", "use fisher or euclidean")
        vector = torch.as_tensor(np.asarray(v, dtype=np.float64).reshape(-1))
        if vector.shape[0] != self.d:
            raise VectorError(f"vector has {vector.shape[0]} entries, expected {self.d}", "pass a site-sized vector")
        out = torch.zeros(self.d, dtype=torch.float64)
        for graph in self._graphs:
            out += graph.product(vector, metric)
        self.n_products += 1
        return (out / self.points.n_points).numpy()

    def products(self, vectors: np.ndarray, metric: Metric = "fisher", *, block: int = 16) -> np.ndarray:
        """F̄ vᵢ for every row vᵢ of ``vectors`` (m, d), ``block`` rows per vmapped backward pass."""
        if metric not in ("fisher", "euclidean"):
            raise DataError(f"unknown metric '{metric}'", "use fisher or euclidean")
        vecs = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        if vecs.shape[1] != self.d:
            raise VectorError(f"vectors have {vecs.shape[1]} entries, expected {self.d}", "pass site-sized vectors")
        out = np.empty_like(vecs)
        for part in chunks(vecs.shape[0], block):
            batch = torch.as_tensor(vecs[part])
            total = torch.zeros_like(batch)
            for graph in self._graphs:
                total += graph.products(batch, metric)
            out[part] = (total / self.points.n_points).numpy()
        self.n_products += vecs.shape[0]
        return out

    def dense(self, metric: Metric = "fisher") -> np.ndarray:
        """The full d × d matrix from d (batched) products, symmetrised."""
        matrix = self.products(np.eye(self.d), metric).T
        return 0.5 * (matrix + matrix.T)

    def operator(self, metric: Metric = "fisher") -> LinearOperator:
        """The metric as a scipy ``LinearOperator`` (float64; ``matmat`` uses batched products)."""
        return LinearOperator((self.d, self.d), matvec=lambda v: self.product(v, metric),
                              matmat=lambda m: self.products(np.asarray(m).T, metric).T, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# spectra and null-space dimension
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NullSpaceDimension:
    """Null-space dimension at one relative tolerance.

    Attributes:
        tolerance: τ, relative to λ_max.
        threshold: τ · λ_max.
        n_above: computed eigenvalues ≥ threshold.
        dimension: null-space dimension (or its upper bound, see ``kind``).
        fraction: ``dimension / d``.
        kind: ``exact`` (full spectrum), ``determined`` (top k only but λ_k < threshold) or
            ``upper_bound`` (λ_k ≥ threshold: only rank ≥ k is known, so dimension ≤ d − k).
    """

    tolerance: float
    threshold: float
    n_above: int
    dimension: int
    fraction: float
    kind: str

    def to_dict(self) -> dict:
        return jsonable({f: getattr(self, f) for f in self.__dataclass_fields__})


def null_space_dimension(eigenvalues: np.ndarray, *, d: int | None = None,
                         tolerances: Sequence[float] = DEFAULT_TOLERANCES) -> list[NullSpaceDimension]:
    """Null-space dimension of a PSD metric at tolerances relative to its largest eigenvalue.

    Args:
        eigenvalues: all d eigenvalues, or the top k (any order).
        d: the dimension (defaults to ``len(eigenvalues)``, i.e. a full spectrum).
        tolerances: relative tolerances τ; an eigenvalue counts as null when λ < τ · λ_max.
    """
    eigs = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    dim = eigs.size if d is None else int(d)
    if eigs.size == 0 or not np.isfinite(eigs).all():
        raise DataError("no finite eigenvalues given", "compute the spectrum first")
    if eigs.size > dim:
        raise DataError(f"{eigs.size} eigenvalues for dimension {dim}", "pass d ≥ the number of eigenvalues")
    if eigs[0] <= 0:
        raise DataError("the largest eigenvalue is not positive: the metric is zero",
                        "check that steering at this site changes the output")
    out = []
    for tol in tolerances:
        if not 0 < tol < 1:
            raise DataError(f"tolerance must be in (0, 1), got {tol}", "use values such as 1e-3")
        threshold = tol * eigs[0]
        above = int((eigs >= threshold).sum())
        if eigs.size == dim:
            dimension, kind = dim - above, "exact"
        elif eigs[-1] < threshold:
            dimension, kind = dim - above, "determined"
        else:
            dimension, kind = dim - eigs.size, "upper_bound"
        out.append(NullSpaceDimension(float(tol), float(threshold), above, dimension, dimension / dim, kind))
    return out


@dataclass
class FisherSpectrum:
    """Spectrum of the averaged output Fisher (or Gram) metric at a site.

    Attributes:
        metric: ``fisher`` (Jᵀ(diag p − ppᵀ)J) or ``euclidean`` (JᵀJ).
        method: ``dense`` (all d eigenvalues) or ``lanczos`` (top k).
        eigenvalues: descending, float64.
        d: site dimension.
        k: number of eigenvalues computed.
        n_prompts / n_positions: sequences and (sequence, position) points averaged over.
        positions_per_prompt: last real positions used per sequence.
        null_space: :class:`NullSpaceDimension` per tolerance.
        n_products: metric-vector products used.
        seconds: wall time of the eigen-computation (products included).
        note: what is and is not known (top-k only, bounds).
        eigenvectors: ``(d, k)`` columns matching ``eigenvalues`` (not serialised).
        mean_perplexity: mean over points of exp(entropy(p)); a point whose next token is nearly
            certain adds almost nothing to F̄, so with few points F̄'s small eigenvalues reflect
            the sample of points as much as the model (compare n_positions × mean_perplexity to d).
    """

    metric: str
    method: str
    eigenvalues: np.ndarray
    d: int
    k: int
    n_prompts: int
    n_positions: int
    positions_per_prompt: int
    null_space: list[NullSpaceDimension]
    n_products: int
    seconds: float
    note: str
    eigenvectors: np.ndarray | None = field(default=None, repr=False)
    mean_perplexity: float = float("nan")

    @property
    def complete(self) -> bool:
        return self.k == self.d

    def to_dict(self) -> dict:
        keys = [f for f in self.__dataclass_fields__ if f != "eigenvectors"]
        out = {key: getattr(self, key) for key in keys}
        out["complete"] = self.complete
        return jsonable(out)


def _note(metric: str, eigs: np.ndarray, d: int, null: list[NullSpaceDimension], n_points: int,
          perplexity: float) -> str:
    name = "F = Jᵀ(diag p − ppᵀ)J" if metric == "fisher" else "JᵀJ"
    sample = (f"averaged over {n_points} points (mean next-token perplexity {perplexity:.3g}); small eigenvalues "
              f"also reflect how few directions these points probe — add points before calling a direction null")
    if eigs.size == d:
        return f"full spectrum of {name} (all {d} eigenvalues); null-space dimensions are exact counts; {sample}"
    parts = [f"only the top {eigs.size} of {d} eigenvalues of {name} are computed (Lanczos)"]
    for n in null:
        if n.kind == "determined":
            parts.append(f"τ={n.tolerance:g}: λ_{eigs.size} < τ·λ_max, so null dim = d − {n.n_above} = {n.dimension}")
        else:
            parts.append(f"τ={n.tolerance:g}: all computed λ ≥ τ·λ_max, so rank ≥ {eigs.size} and null dim ≤ {n.dimension}")
    parts.append(sample)
    return "; ".join(parts)


def spectrum(lin: SiteLinearization, *, metric: Metric = "fisher", method: Method = "auto", k: int = 32,
             dense_max_dim: int = 128, tolerances: Sequence[float] = DEFAULT_TOLERANCES, seed: int = 0,
             lanczos_tol: float = 1e-6, return_vectors: bool = True) -> FisherSpectrum:
    """Eigen-decomposition of the metric: dense for small d, else top k by Lanczos.

    Args:
        lin: the linearisation (points and retained graphs).
        metric: ``fisher`` or ``euclidean``.
        method: ``auto`` (dense when d ≤ ``dense_max_dim``), ``dense`` or ``lanczos``.
        k: eigenpairs for Lanczos (must be < d).
        tolerances: relative tolerances for the null-space dimension.
        seed: seeds Lanczos' start vector (deterministic).
        lanczos_tol: relative accuracy requested from ``eigsh``.
    """
    if method not in ("auto", "dense", "lanczos"):
        raise DataError(f"unknown method '{method}'", "use auto, dense or lanczos")
    d = lin.d
    use_dense = method == "dense" or (method == "auto" and d <= dense_max_dim)
    start, products = time.perf_counter(), lin.n_products
    if use_dense:
        vals, vecs = np.linalg.eigh(lin.dense(metric))
        used = "dense"
    else:
        if not 1 <= k < d:
            raise DataError(f"Lanczos needs 1 ≤ k < d = {d}, got k = {k}", f"pass k between 1 and {d - 1} or method='dense'")
        v0 = np.random.default_rng(seed).standard_normal(d)
        vals, vecs = eigsh(lin.operator(metric), k=k, which="LA", v0=v0, tol=lanczos_tol)
        used = "lanczos"
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    null = null_space_dimension(vals, d=d, tolerances=tolerances)
    return FisherSpectrum(
        metric=metric, method=used, eigenvalues=vals, d=d, k=int(vals.size), n_prompts=lin.points.n_sequences,
        n_positions=lin.points.n_points, positions_per_prompt=lin.points.positions, null_space=null,
        n_products=lin.n_products - products, seconds=time.perf_counter() - start, note=_note(metric, vals, d, null, lin.points.n_points, lin.mean_perplexity),
        eigenvectors=vecs if return_vectors else None, mean_perplexity=lin.mean_perplexity,
    )


def fisher_spectrum(lm: LoadedModel, site: Site, sequences, *, positions: int = 4, base: np.ndarray | None = None,
                    batch_size: int = 16, metric: Metric = "fisher", **kwargs) -> FisherSpectrum:
    """Convenience: build the linearisation and return :func:`spectrum` of ``metric``."""
    lin = SiteLinearization.build(lm, site, sequences, positions=positions, base=base, batch_size=batch_size)
    return spectrum(lin, metric=metric, **kwargs)


# --------------------------------------------------------------------------------------------
# finite differences (probe approach)
# --------------------------------------------------------------------------------------------


def finite_difference_quadratic_forms(points: PointSet, directions: np.ndarray, eps: float, *,
                                      max_rows: int = 256) -> np.ndarray:
    """q(u) = [KL(p‖p(+εû)) + KL(p‖p(−εû))] / ε² · ‖u‖² ≈ uᵀF̄u for each row u of ``directions``."""
    if not eps > 0:
        raise DataError(f"finite-difference step must be > 0, got {eps}", "pass eps such as 1e-2 × the token norm")
    dirs = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    norms = np.linalg.norm(dirs, axis=1)
    if np.any(norms == 0):
        raise VectorError("a probe direction is zero", "draw non-zero probes")
    unit = dirs / norms[:, None]
    kl = points.kl(np.concatenate([eps * unit, -eps * unit]), max_rows=max_rows)
    m = dirs.shape[0]
    return (kl[:m] + kl[m:]) / eps**2 * norms**2


@dataclass
class FiniteDifferenceFisher:
    """Probe-based sketch F̂ of the Fisher metric (see the module docstring).

    Attributes:
        matrix: F̂ (d × d, symmetric, not necessarily PSD).
        eigenvalues: of F̂, descending.
        eigenvectors: matching columns (not serialised).
        quadratic_forms: qᵢ ≈ gᵢᵀF̄gᵢ per probe.
        trace: mean qᵢ (Hutchinson estimate of tr F̄).
        estimator: ``minnorm`` or ``moments``.
        n_probes, eps: probe count and finite-difference step.
        n_rows: single-token forward rows run (2 per probe per point).
        seconds: wall time.
    """

    matrix: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray = field(repr=False)
    quadratic_forms: np.ndarray = field(repr=False)
    trace: float
    estimator: str
    n_probes: int
    eps: float
    n_rows: int
    seconds: float

    def to_dict(self) -> dict:
        return jsonable({"eigenvalues": self.eigenvalues, "trace": self.trace, "estimator": self.estimator,
                         "n_probes": self.n_probes, "eps": self.eps, "n_rows": self.n_rows, "seconds": self.seconds})


def sketch_from_quadratic_forms(probes: np.ndarray, q: np.ndarray, estimator: str = "minnorm") -> np.ndarray:
    """F̂ from quadratic forms qᵢ ≈ gᵢᵀF gᵢ of probes gᵢ (rows): ``minnorm`` or ``moments``."""
    g = np.asarray(probes, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if estimator == "moments":
        return 0.5 * ((g * q[:, None]).T @ g / g.shape[0] - q.mean() * np.eye(g.shape[1]))
    if estimator == "minnorm":
        gram = (g @ g.T) ** 2
        coef = np.linalg.lstsq(gram, q, rcond=None)[0]
        matrix = (g * coef[:, None]).T @ g
        return 0.5 * (matrix + matrix.T)
    raise DataError(f"unknown estimator '{estimator}'", "use minnorm or moments")


def finite_difference_fisher(points: PointSet, *, n_probes: int = 1000, eps: float = 1.0, seed: int = 0,
                             estimator: str = "minnorm", max_rows: int = 256) -> FiniteDifferenceFisher:
    """Sketch F̄ from ``n_probes`` Gaussian probes by symmetric finite differences of the KL."""
    if n_probes < 2:
        raise DataError(f"need at least 2 probes, got {n_probes}", "pass n_probes ≥ 2")
    if estimator not in ("minnorm", "moments"):
        raise DataError(f"unknown estimator '{estimator}'", "use minnorm or moments")
    start = time.perf_counter()
    probes = np.random.default_rng(seed).standard_normal((n_probes, points.d))
    q = finite_difference_quadratic_forms(points, probes, eps, max_rows=max_rows)
    matrix = sketch_from_quadratic_forms(probes, q, estimator)
    vals, vecs = np.linalg.eigh(matrix)
    order = np.argsort(vals)[::-1]
    return FiniteDifferenceFisher(
        matrix=matrix, eigenvalues=vals[order], eigenvectors=vecs[:, order], quadratic_forms=q, trace=float(q.mean()),
        estimator=estimator, n_probes=n_probes, eps=float(eps), n_rows=2 * n_probes * points.n_points,
        seconds=time.perf_counter() - start,
    )


def subspace_angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Principal angles (degrees, ascending) between the column spans of ``a`` and ``b``."""
    qa, _ = np.linalg.qr(np.asarray(a, dtype=np.float64))
    qb, _ = np.linalg.qr(np.asarray(b, dtype=np.float64))
    cosines = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0)
    return np.degrees(np.arccos(cosines))
