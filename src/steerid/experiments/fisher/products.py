r"""Exact Fisher- and Gram-vector products at a site, by autograd (no d × d Jacobian).

Per chunk of points the forward pass is recorded once with δ = 0 requiring grad; with w a
dummy (N × V) cotangent,

    g(w) = Jᵀ w                  (one backward with ``create_graph``),
    J v  = ∂⟨g(w), v⟩ / ∂w       (double backward: the Jacobian-vector product),
    F v  = Jᵀ (p ⊙ Jv − p (pᵀ Jv))  (a plain backward through the retained graph),

and F̄ v = (1/N) Σᵢ Jᵢᵀ Hᵢ Jᵢ v with Hᵢ = diag(pᵢ) − pᵢpᵢᵀ (float64); the Gram product is
Ḡ v = (1/N) Σᵢ Jᵢᵀ Jᵢ v. Attention runs on PyTorch's *math* SDPA kernel while recording, because
the fused CPU kernel has no double backward.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator
from torch.nn.attention import SDPBackend, sdpa_kernel

from steerid.engine.batching import chunks
from steerid.errors import DataError, VectorError
from steerid.experiments.fisher.points import PointSet, _Chunk
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.engine.steer import steering

Metric = Literal["fisher", "euclidean"]


@contextmanager
def differentiable_displacement(lm: LoadedModel, site: Site, delta: torch.Tensor) -> Iterator[None]:
    """Add a ``(B, d)`` displacement that keeps its autograd graph at every position of the pass.

    :func:`steerid.engine.steer.steering` detaches its displacement (correct for steering); the Fisher
    products need ∂logits/∂δ, so this steers with ``differentiable=True``: ``delta[b]`` is added
    at every position of row b through the same hook point, marked as steerid's, always removed.
    """
    if delta.ndim != 2 or delta.shape[1] != lm.info.hidden_size:
        raise VectorError(f"displacement has shape {tuple(delta.shape)}, expected (B, {lm.info.hidden_size})",
                          "pass one row per batch element")
    with steering(lm, site, delta, scope="all", differentiable=True):
        yield


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
