r"""Linearisation points of the Fisher metric: (sequence, position) pairs and their prefix caches.

A point is token t of a sequence s (t ≥ 1, never the attention-sink first token). The prefix
s[:t] is run once and its keys and values cached; only token t is re-run, so a displacement δ
added at the site of token t leaves every other position fixed. :class:`PointSet` also gives
the mean over points of KL(p(h) ‖ p(h + δ)) for displacements δ (the finite-difference probes).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from steerid.engine.batching import chunks, encode, left_pad, on_device
from steerid.errors import DataError, ModelError, VectorError
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.engine.steer import steering


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
            self.cache = lm.model(**batch.model_inputs(lm.device), use_cache=True).cache
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
        return on_device({"input_ids": self.tokens.repeat_interleave(repeats, 0),
                          "attention_mask": self.mask.repeat_interleave(repeats, 0),
                          "position_ids": self.position_ids.repeat_interleave(repeats, 0),
                          "cache": cache, "use_cache": True}, self.lm.device)

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
        return torch.log_softmax(logits.double(), dim=-1).cpu()


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
