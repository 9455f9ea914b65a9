"""``SteeringVector``: a unit direction, its norm and its provenance, stored as safetensors.

The stored tensor is the unit direction û (float32, shape ``(d,)``); ``norm`` is the raw norm of
the estimate in activation units, so ``vector = norm · û``. Steering strength is a separate α:
the added displacement is ``α · û`` (absolute) or ``α_rel · m · û`` with m the median residual
norm at the site (relative), never the raw norm implicitly.

A vector is a value: :meth:`SteeringVector.apply` steers a model with it at its own site (the
``Site`` recorded in its provenance) inside a ``with`` block, and vectors of one model, site and
hidden size combine linearly on their raw form ``v = norm · û``:

    (a + b).vector = a.vector + b.vector,   (a − b).vector = a.vector − b.vector,
    (c · a).vector = c · a.vector,          (−a).vector = −a.vector,

each result recording in its provenance the operation and the content hashes
(:meth:`SteeringVector.content_hash`) of its operands, so a combined vector is never mistaken for
an extracted one (its ``method`` is ``"arithmetic"``).

Example:
    >>> import numpy as np
    >>> from steerid.provenance import Provenance
    >>> prov = Provenance("tiny:llama", "tiny:llama", "", "in:1", "mean_diff")
    >>> a = SteeringVector.from_array(np.array([3.0, 0.0]), prov)
    >>> b = SteeringVector.from_array(np.array([0.0, 4.0]), prov)
    >>> (a + b).norm, (2 * a - b).vector.tolist(), (a + b).provenance.method_params["operation"]
    (5.0, [6.0, -4.0], 'a + b')
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from steerid.errors import SteerIdError, VectorError
from steerid.io import atomic_write_with
from steerid.models.info import ModelInfo
from steerid.models.site import Site
from steerid.provenance import Provenance
from steerid.validation import check_finite, check_vector

if TYPE_CHECKING:
    from steerid.models.loader import LoadedModel
    from steerid.engine.steer import Scope

log = logging.getLogger(__name__)

_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")


@dataclass(frozen=True)
class SteeringVector:
    """A steering direction with provenance.

    Attributes:
        direction: unit-norm float64 numpy array of shape ``(d,)``.
        norm: raw norm of the estimate in activation units (> 0).
        provenance: :class:`Provenance`.
    """

    direction: np.ndarray
    norm: float
    provenance: Provenance

    @classmethod
    def from_array(cls, values: np.ndarray | torch.Tensor, provenance: Provenance) -> "SteeringVector":
        """Build from an un-normalised vector; ``norm`` is its length."""
        array = check_vector(values)
        length = float(np.linalg.norm(array))
        return cls(direction=array / length, norm=length, provenance=provenance)

    @property
    def dim(self) -> int:
        return int(self.direction.shape[0])

    @property
    def site(self) -> Site:
        return Site.parse(self.provenance.site)

    @property
    def vector(self) -> np.ndarray:
        """``norm · direction``."""
        return self.direction * self.norm

    #: numpy must not broadcast over a vector (``array + v``): defer to our operators, which refuse.
    __array_ufunc__ = None

    def __repr__(self) -> str:
        """One line: width, site, norm, trait, method and model — never the direction's values."""
        p = self.provenance
        return (f"SteeringVector(dim={self.dim}, site={p.site!r}, norm={self.norm:.4g}, trait={p.trait!r}, "
                f"method={p.method!r}, model={p.model_name or p.model_spec!r}, n_examples={p.n_examples})")

    def with_provenance(self, **changes) -> "SteeringVector":
        return replace(self, provenance=replace(self.provenance, **changes))

    def cosine(self, other: "SteeringVector") -> float:
        return float(self.direction @ other.direction)

    # ------------------------------------------------------------------ steering
    @contextmanager
    def apply(self, lm: "LoadedModel", alpha: float, relative: bool = False, *, scope: "Scope" = "all",
              token_norm: float | None = None, prompts: Sequence[str] | None = None,
              prompt_length: int | None = None, strict: bool = False) -> Iterator[np.ndarray]:
        """Steer ``lm`` with this vector at its own site for the duration of a ``with`` block.

        Every forward pass inside the block adds, at ``self.site``, the displacement

            δ = α · û              (absolute, ``relative=False``)
            δ = α · m · û          (relative; m = median residual norm at the site over real,
                                    non-first tokens: ``token_norm``, or measured on ``prompts``)

        through :func:`steerid.engine.steer.steering` (so ``scope``, KV-cache positions and left padding
        behave exactly as there), and the hooks are removed when the block ends, also when it raises.

        Args:
            lm: The loaded model; the vector must have its hidden size (and should come from its
                weights: another hash is a warning, or an error when ``strict``).
            alpha: Strength α (finite; 0 adds nothing and is the unsteered control).
            relative: Read α as a multiple of the site's median token norm m.
            scope: ``"all"``, ``"prompt"`` or ``"generated"`` positions.
            token_norm: m for ``relative=True`` (e.g. from :func:`steerid.capture.median_token_norm`).
            prompts: Texts to measure m on when ``token_norm`` is not given.
            prompt_length: Padded prompt length P for the scopes (inferred from the prefill if None).
            strict: Refuse a vector extracted from other weights.

        Yields:
            δ, the float64 displacement added, shape ``(d,)``.

        Raises:
            VectorError: Wrong hidden size, other weights with ``strict``, bad scope or α, or
                ``relative=True`` with neither ``token_norm`` nor ``prompts``.
            SiteError: The vector's site does not exist in ``lm``.

        Example:
            >>> with vector.apply(lm, 4.0, scope="generated"):          # doctest: +SKIP
            ...     out = generate(lm, ["Tell me about your day."], max_new_tokens=20)
        """
        from steerid.engine.steer import steering

        self.check_compatible(lm.info, strict=strict)
        site = self.site
        site.check(lm.info.n_layers)
        scale = self._scale(lm, alpha, relative, token_norm, prompts)
        delta = scale * self.direction
        with steering(lm, site, delta, scope=scope, prompt_length=prompt_length):
            yield delta

    def _scale(self, lm: "LoadedModel", alpha: float, relative: bool, token_norm: float | None,
               prompts: Sequence[str] | None) -> float:
        """‖δ‖: α, or α · m for a relative α."""
        try:
            alpha = check_finite(alpha, "alpha")
        except SteerIdError as exc:
            raise VectorError(exc.problem, exc.fix) from exc
        if not relative:
            return alpha
        if token_norm is None:
            if prompts is None:
                raise VectorError("a relative alpha needs the median token norm at the site",
                                  "pass token_norm=median_token_norm(lm, prompts, site) or prompts=[...]")
            from steerid.capture import median_token_norm

            token_norm = median_token_norm(lm, prompts, self.site)
        if not (math.isfinite(token_norm) and token_norm > 0):
            raise VectorError(f"token_norm = {token_norm!r} must be finite and > 0",
                              "measure it with steerid.capture.median_token_norm")
        return alpha * float(token_norm)

    # ------------------------------------------------------------------ arithmetic
    def content_hash(self) -> str:
        """SHA-256 of what the vector *is*: its float32 direction (as stored), its norm and its
        provenance without the creation time (so the same vector made twice hashes alike)."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.direction, dtype="<f4").tobytes())
        digest.update(repr(float(self.norm)).encode())
        record = {k: v for k, v in self.provenance.to_dict().items() if k != "created_at"}
        digest.update(json.dumps(record, sort_keys=True, default=str).encode())
        return digest.hexdigest()

    def _check_combinable(self, other: "SteeringVector", op: str) -> None:
        """Refuse to combine vectors of different models, sites or hidden sizes."""
        mine, theirs = self.provenance, other.provenance
        if mine.weights_hash and theirs.weights_hash:
            same_model = mine.weights_hash == theirs.weights_hash
        else:
            same_model = mine.model_spec == theirs.model_spec
        if not same_model:
            raise VectorError(
                f"cannot {op} vectors of different models ({mine.model_name} {mine.weights_hash[:12]} vs "
                f"{theirs.model_name} {theirs.weights_hash[:12]})",
                "combine vectors extracted from the same model",
            )
        if Site.parse(mine.site) != Site.parse(theirs.site):
            raise VectorError(f"cannot {op} vectors at different sites ({mine.site} vs {theirs.site})",
                              "re-extract one of them at the other's site")
        if self.dim != other.dim:
            raise VectorError(f"cannot {op} vectors of hidden sizes {self.dim} and {other.dim}",
                              "combine vectors extracted from the same model")

    def _derived(self, values: np.ndarray, operation: str, operands: Sequence["SteeringVector"],
                 **params: Any) -> "SteeringVector":
        """A vector computed from ``operands``, its provenance recording how."""
        first = operands[0].provenance
        shared = {name: getattr(first, name) for name in ("trait", "prompts_hash", "n_examples", "seed")
                  if all(getattr(o.provenance, name) == getattr(first, name) for o in operands)}
        provenance = Provenance(
            model_spec=first.model_spec, model_name=first.model_name, weights_hash=first.weights_hash,
            site=first.site, method="arithmetic", trait=shared.get("trait", "custom"),
            method_params={"operation": operation, "operands": [o.content_hash() for o in operands],
                           "operand_methods": [o.provenance.method for o in operands], **params},
            prompts_hash=shared.get("prompts_hash", ""), n_examples=shared.get("n_examples", 0),
            seed=shared.get("seed", 0),
        )
        try:
            return SteeringVector.from_array(values, provenance)
        except VectorError as exc:
            raise VectorError(f"{operation} is not a usable vector: {exc.problem}",
                              "combine vectors that do not cancel") from exc

    def _combine(self, other: object, sign: float, op: str, operation: str) -> "SteeringVector":
        if not isinstance(other, SteeringVector):
            return NotImplemented
        self._check_combinable(other, op)
        return self._derived(self.vector + sign * other.vector, operation, [self, other])

    def __add__(self, other: object) -> "SteeringVector":
        return self._combine(other, 1.0, "add", "a + b")

    def __sub__(self, other: object) -> "SteeringVector":
        return self._combine(other, -1.0, "subtract", "a - b")

    def __mul__(self, scalar: object) -> "SteeringVector":
        if isinstance(scalar, SteeringVector) or not isinstance(scalar, (int, float, np.integer, np.floating)) \
                or isinstance(scalar, (bool, np.bool_)):
            return NotImplemented
        c = float(scalar)
        if not math.isfinite(c) or c == 0.0:
            raise VectorError(f"cannot scale a vector by {scalar!r}", "use a finite, non-zero scalar")
        return self._derived(c * self.vector, "c * a", [self], scalar=c)

    __rmul__ = __mul__

    def __neg__(self) -> "SteeringVector":
        return self._derived(-self.vector, "-a", [self])

    def check_compatible(self, info: ModelInfo, *, strict: bool = False) -> None:
        """Refuse a vector of the wrong width; warn (or refuse when ``strict``) on another model's hash."""
        if self.dim != info.hidden_size:
            raise VectorError(
                f"vector has hidden size {self.dim} but {info.name} has {info.hidden_size}",
                "use a vector extracted from this model",
            )
        if self.provenance.weights_hash and self.provenance.weights_hash != info.weights_hash:
            message = (
                f"vector was extracted from weights {self.provenance.weights_hash[:12]} "
                f"({self.provenance.model_name}), not {info.weights_hash[:12]} ({info.name})"
            )
            if strict:
                raise VectorError(message, "use a vector from this model or drop --strict")
            log.warning("%s; applying it anyway (use --strict to refuse)", message)

    def save(self, path: str | Path) -> Path:
        """Write atomically as safetensors: tensor ``direction`` + JSON metadata."""
        tensors = {"direction": torch.from_numpy(self.direction.astype(np.float32)).contiguous()}
        metadata = {
            "format": "steerid",
            "norm": repr(float(self.norm)),
            "provenance": json.dumps(self.provenance.to_dict(), sort_keys=True),
        }
        return atomic_write_with(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))

    @classmethod
    def load(cls, path: str | Path) -> "SteeringVector":
        """Read a steerid safetensors vector, validating everything a user could get wrong."""
        file = Path(path)
        if file.is_dir():
            raise VectorError(f"vector path '{file}' is a directory", "pass the .safetensors file inside it")
        if not file.is_file():
            raise VectorError(f"vector file '{file}' does not exist", "check the path")
        try:
            with open(file, "rb") as handle:
                head = handle.read(9)
        except OSError as exc:
            raise VectorError(f"cannot read vector file '{file}' ({exc.strerror})", "check its permissions") from exc
        # a safetensors file starts with its JSON header's length (u64, little endian) and then "{";
        # only what is not one is checked for pickle magic (a header of 128 + 256·k bytes starts with 0x80)
        looks_safetensors = len(head) == 9 and head[8:9] == b"{" and 8 + struct.unpack("<Q", head[:8])[0] <= file.stat().st_size
        if not looks_safetensors and head.startswith(_PICKLE_MAGIC):
            raise VectorError(
                f"'{file}' is a pickle/torch.save file, which steerid never loads",
                "convert it to safetensors (see steerid import)",
            )
        if not looks_safetensors:
            raise VectorError(f"'{file}' is not a valid safetensors file", "re-save the vector")
        try:
            tensors = load_file(str(file))
            from safetensors import safe_open

            with safe_open(str(file), "pt") as handle:
                metadata = handle.metadata() or {}
        except (SafetensorError, OSError, ValueError) as exc:
            raise VectorError(f"'{file}' is corrupt or not safetensors ({exc})", "re-save the vector") from exc
        if "direction" not in tensors:
            raise VectorError(f"'{file}' has no 'direction' tensor", "save vectors with steerid extract or steerid import")
        try:
            provenance = Provenance.from_dict(json.loads(metadata.get("provenance", "{}")))
            norm = float(metadata.get("norm", "nan"))
        except (TypeError, ValueError) as exc:
            raise VectorError(f"'{file}' has unreadable provenance metadata", "re-save the vector") from exc
        direction = check_vector(tensors["direction"], f"vector in '{file.name}'")
        if not np.isfinite(norm) or norm <= 0:
            raise VectorError(f"'{file}' records an invalid norm ({norm})", "re-extract the vector")
        return cls(direction=direction / np.linalg.norm(direction), norm=norm, provenance=provenance)
