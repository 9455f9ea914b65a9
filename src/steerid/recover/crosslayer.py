r"""Cross-layer consistency: the representative that agrees best with its neighbours.

Constraint: a trait read out at several layers should be the *same* direction once the
residual stream has carried it from one layer to the next. Vectors vᵢ estimated at layers
i = 1…L are compared after transport Tᵢ→ⱼ:

    Cᵢⱼ = cos(Tᵢ→ⱼ vᵢ, vⱼ)   for i < j (the earlier vector carried forward), Cⱼᵢ = Cᵢⱼ,
    score(i) = (1/(L−1)) Σ_{j≠i} Cᵢⱼ,     î = argmaxᵢ score(i),

and the vector at î is returned as the representative (``direction_``). A vector carrying an
estimate-specific v⊥ (sampling noise, a prompt artefact) agrees less with the others than one
that does not, so î is the least contaminated layer. ``consistent_`` holds when score(î) reaches
``min_cosine``.

Transport (``transport``):

- ``"identity"``: Tᵢ→ⱼ = I. The residual stream is additive, h_{l+1} = h_l + f_l(h_l), so a
  displacement δ at layer l arrives at l+1 as δ + J_{f_l} δ; identity keeps the direct path
  and drops the blocks' response J_f δ. Needs no activations; exact when the blocks ignore δ.
- ``"linear"``: Tᵢ→ⱼ δ = Aᵢⱼᵀ δ with Aᵢⱼ the ridge least-squares map between the centred
  activations of the same tokens at the two layers,

      Aᵢⱼ = (XᵢᵀXᵢ + λ (tr XᵢᵀXᵢ / d) I)⁻¹ XᵢᵀXⱼ,    λ = ``ridge``,

  i.e. the best linear predictor of layer-j activations from layer-i activations. By Stein's
  lemma, for Gaussian hᵢ this slope is exactly the average Jacobian E[∂hⱼ/∂hᵢ]ᵀ, the map a
  small steering displacement goes through on average; for non-Gaussian activations it is the
  closest linear surrogate. Fit it on many tokens (``capture(..., pooling="all")`` at both
  sites, the same texts, so rows align): with n tokens < d it is ridge-dominated.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from steerid.capture import capture
from steerid.errors import DataError
from steerid.extract.base import Estimator
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.recover._common import cosine
from steerid.validation import as_matrix, check_choice, check_fraction, check_vector, require_fitted

Transport = Literal["identity", "linear"]


def capture_layers(lm: LoadedModel, texts: Sequence[str], layers: Sequence[int], *, point: str = "in",
                   batch_size: int = 16) -> dict[int, np.ndarray]:
    """Token activations of ``texts`` at ``Site(layer, point)`` for each layer, rows aligned.

    One forward per batch records every layer (``pooling="all"``), so row t is the same token at
    every layer — what the ``linear`` transport needs.
    """
    sites = {int(layer): Site(int(layer), point) for layer in layers}  # type: ignore[arg-type]
    acts = capture(lm, texts, list(sites.values()), pooling="all", batch_size=batch_size)
    return {layer: acts[site] for layer, site in sites.items()}


class CrossLayerConsistency(Estimator):
    """Pick the layer whose vector agrees best with the others after transport.

    Args:
        transport: ``"identity"`` or ``"linear"`` (see the module docstring).
        ridge: λ of the linear maps, relative to the mean eigenvalue of XᵢᵀXᵢ.
        min_cosine: Mean transported cosine the chosen layer needs for ``consistent_``.

    Attributes:
        keys_: The layer keys, sorted.
        consistency_: C, shape (L, L), diagonal 1.
        mean_cosine_: score(i) per key, shape (L,).
        best_: The chosen key î.
        direction_: Unit vector at î.
        maps_: ``{(i, j): Aᵢⱼ}`` for key pairs i < j (``linear`` only; empty for identity).
        consistent_: ``mean_cosine_[î] ≥ min_cosine``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> w = rng.normal(size=16)
        >>> vectors = {0: w + 0.1 * rng.normal(size=16), 1: w, 2: w + 0.8 * rng.normal(size=16)}
        >>> CrossLayerConsistency().fit(vectors).best_
        1
    """

    method = "crosslayer"

    keys_: list[Hashable]
    consistency_: np.ndarray
    mean_cosine_: np.ndarray
    best_: Hashable
    direction_: np.ndarray
    maps_: dict[tuple[Hashable, Hashable], np.ndarray]
    consistent_: bool

    def __init__(self, transport: Transport = "identity", ridge: float = 1e-3, min_cosine: float = 0.9) -> None:
        self.transport = transport
        self.ridge = ridge
        self.min_cosine = min_cosine

    def fit(self, vectors: Mapping[Hashable, object],
            activations: Mapping[Hashable, np.ndarray] | None = None) -> "CrossLayerConsistency":
        """Score every layer's vector against the others and choose the representative.

        Args:
            vectors: ``{layer: vector}`` (arrays (d,) or :class:`SteeringVector`), two or more
                layers; keys must be sortable (ints or :class:`Site`), shallow to deep.
            activations: ``{layer: (n, d)}`` token activations with aligned rows, required for
                ``linear`` transport (see :func:`capture_layers`).

        Returns:
            ``self``.

        Raises:
            DataError: Bad hyper-parameters, fewer than two layers, unsortable keys, missing or
                misaligned activations.
            VectorError: A vector that is not finite, non-zero and of the common width.
        """
        check_choice(self.transport, "transport", ("identity", "linear"))
        check_fraction(self.ridge, "ridge", high_open=True)
        check_fraction(self.min_cosine, "min_cosine", low=-1.0)
        if not isinstance(vectors, Mapping) or len(vectors) < 2:
            raise DataError("cross-layer consistency needs vectors at two or more layers",
                            "pass {layer: vector} for several layers")
        try:
            keys = sorted(vectors)
        except TypeError as exc:
            raise DataError(f"layer keys cannot be ordered ({exc})", "use ints or Site objects as keys") from exc
        first = check_vector(vectors[keys[0]], f"vector at {keys[0]}")
        vecs = {k: check_vector(vectors[k], f"vector at {k}", dim=first.shape[0]) for k in keys}
        self.maps_ = {}
        if self.transport == "linear":
            self.maps_ = self._fit_maps(keys, activations, first.shape[0])
        n = len(keys)
        table = np.eye(n)
        for a in range(n):
            for b in range(a + 1, n):
                moved = self.transport_vector(vecs[keys[a]], keys[a], keys[b])
                table[a, b] = table[b, a] = cosine(moved, vecs[keys[b]]) if np.any(moved) else 0.0
        scores = (table.sum(axis=1) - 1.0) / (n - 1)
        best = int(np.argmax(scores))
        self.keys_, self.consistency_, self.mean_cosine_ = keys, table, scores
        self.best_ = keys[best]
        self.direction_ = vecs[self.best_] / np.linalg.norm(vecs[self.best_])
        self.consistent_ = bool(scores[best] >= self.min_cosine)
        return self

    def _fit_maps(self, keys: list[Hashable], activations: object,
                  dim: int) -> dict[tuple[Hashable, Hashable], np.ndarray]:
        if not isinstance(activations, Mapping):
            raise DataError("linear transport needs token activations at every layer",
                            "pass activations={layer: (n, d)} from capture_layers, or use transport='identity'")
        missing = [k for k in keys if k not in activations]
        if missing:
            raise DataError(f"no activations for layers {missing}", "capture every layer that has a vector")
        acts = {k: as_matrix(activations[k], f"activations at {k}", min_rows=2, dim=dim) for k in keys}
        rows = {a.shape[0] for a in acts.values()}
        if len(rows) != 1:
            raise DataError(f"activations have different token counts per layer ({sorted(rows)})",
                            "capture all layers from the same texts in one pass (capture_layers)")
        centred = {k: a - a.mean(axis=0) for k, a in acts.items()}
        maps = {}
        for a_idx, src in enumerate(keys):
            x = centred[src]
            gram = x.T @ x
            scale = float(np.trace(gram)) / dim
            if scale == 0.0:
                raise DataError(f"activations at {src} do not vary", "capture more (and different) tokens")
            regularised = gram + self.ridge * scale * np.eye(dim)
            for dst in keys[a_idx + 1 :]:
                maps[(src, dst)] = np.linalg.solve(regularised, x.T @ centred[dst])
        return maps

    def transport_vector(self, vector: object, source: Hashable, target: Hashable) -> np.ndarray:
        """Carry a displacement from layer ``source`` forward to a deeper layer ``target``."""
        array = check_vector(vector, f"vector at {source}")
        if self.transport == "linear":
            require_fitted(self, "maps_", "CrossLayerConsistency")
        if self.transport == "identity" or source == target:
            return array
        if (source, target) not in self.maps_:
            raise DataError(f"no transport map from {source} to {target}",
                            "transport runs forward between fitted layers (source before target)")
        return self.maps_[(source, target)].T @ array

    def params(self) -> dict[str, Any]:
        """Hyper-parameters and the choice (JSON-safe)."""
        best = getattr(self, "best_", None)
        return {**super().params(), "best": None if best is None else str(best),
                "mean_cosine": None if best is None else float(np.max(self.mean_cosine_))}

