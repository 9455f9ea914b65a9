"""Tokenisation and padding helpers shared by capture, steering and generation.

Batches are left-padded so that every prompt ends at the same index; position ids are derived
from the attention mask (``cumsum(mask) − 1``) so a padded row sees exactly the positions it would
see alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from steerid.errors import DataError
from steerid.models.loader import LoadedModel


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

    def model_inputs(self) -> dict[str, torch.Tensor]:
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask, "position_ids": self.position_ids}


def check_texts(texts: Sequence[str], what: str = "prompts") -> list[str]:
    """Refuse empty lists, non-strings and empty/whitespace-only texts."""
    texts = list(texts)
    if not texts:
        raise DataError(f"no {what} given", f"supply at least one of the {what}")
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{what} #{index + 1} is empty", f"remove empty {what}")
    return texts


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
