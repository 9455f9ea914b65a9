"""Tokenisation and padding helpers shared by capture, steering and generation.

Batches are left-padded so that every prompt ends at the same index; position ids are derived
from the attention mask (``cumsum(mask) − 1``) so a padded row sees exactly the positions it would
see alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from steerid.errors import DataError
from steerid.models.loader import LoadedModel


def to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """``tensor`` on ``device`` (the same object when it is already there)."""
    return tensor.to(device)


def on_device(inputs: Mapping[str, Any], device: torch.device | str) -> dict[str, Any]:
    """Model keyword arguments with every tensor moved to ``device`` (the model's, ``lm.device``).

    Inputs are built on the CPU (tokenisation, padding, masks); every ``lm.model(...)`` call
    passes them through this one function, so a model on CUDA gets CUDA tensors. Caches, flags
    and other non-tensors pass unchanged.
    """
    return {key: to_device(value, device) if isinstance(value, torch.Tensor) else value
            for key, value in inputs.items()}


def position_ids_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Positions counting only real tokens: ``max(cumsum(mask) − 1, 0)``."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


@dataclass
class Batch:
    """A left-padded batch of token ids."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    @property
    def position_ids(self) -> torch.Tensor:
        return position_ids_from_mask(self.attention_mask)

    def model_inputs(self, device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        """``input_ids``, ``attention_mask`` and ``position_ids``, on ``device`` when given (else the CPU)."""
        inputs = {"input_ids": self.input_ids, "attention_mask": self.attention_mask, "position_ids": self.position_ids}
        return inputs if device is None else on_device(inputs, device)


def encode(lm: LoadedModel, texts: Sequence[str], *, add_special_tokens: bool = True) -> list[list[int]]:
    """Token ids of each text, refusing texts longer than the model's context window.

    Special tokens are not added to a text that already starts with the BOS token (a chat
    template wrote it), so the model never sees two.
    """
    bos = lm.tokenizer.bos_token
    ids = [
        lm.tokenizer(t, add_special_tokens=add_special_tokens and not (bos and t.startswith(bos)))["input_ids"]
        for t in texts
    ]
    limit = lm.info.max_positions
    if limit is not None:
        for index, row in enumerate(ids):
            if len(row) > limit:
                raise DataError(
                    f"text #{index + 1} has {len(row)} tokens, more than the model's context of {limit}",
                    "shorten the prompt",
                )
    return ids


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> Batch:
    """Left-pad token id rows into a :class:`Batch`."""
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            input_ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[i, width - len(row):] = 1
    return Batch(input_ids, mask)


def chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of ``range(n)`` of at most ``size`` items."""
    if size < 1:
        raise DataError(f"batch size must be ≥ 1, got {size}", "pass --batch-size 1 or more")
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))
