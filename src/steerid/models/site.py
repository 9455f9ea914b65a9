"""Residual-stream sites.

``Site(layer=L, point="in")`` is the residual stream entering block L, which is exactly
``hidden_states[L]`` of a Hugging Face forward with ``output_hidden_states=True``;
``Site(L, "out")`` is the stream leaving block L, i.e. ``Site(L + 1, "in")`` (the same tensor)
for every block but the last. ``Site(n_layers - 1, "out")`` is the last block's output *before*
the final norm (most families report the post-norm tensor as ``hidden_states[n_layers]``).

Reading (capture) and writing (steering) go through the same hook point, so the vector we extract
is added to the very tensor it was read from:

- ``in`` at L ≥ 1 and ``out`` at L: a forward hook on the *output* of block ``L - 1`` / ``L``
  (HF records ``hidden_states[L]`` from block L-1's output, so a pre-hook on block L would change
  the computation but not ``hidden_states[L]``);
- ``in`` at L = 0: a forward pre-hook on block 0's hidden-state input (the embedding output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import nn

from steerid.errors import SiteError

Point = Literal["in", "out"]


@dataclass(frozen=True, order=True)
class Site:
    """A residual-stream location: entering (``in``) or leaving (``out``) block ``layer``."""

    layer: int
    point: Point = "in"

    def __post_init__(self) -> None:
        if self.point not in ("in", "out"):
            raise SiteError(f"unknown site point '{self.point}'", "use 'in' or 'out'")
        if isinstance(self.layer, bool) or not isinstance(self.layer, int):
            raise SiteError(f"layer must be an integer, got {self.layer!r}", "pass --layer as a whole number")

    def __str__(self) -> str:
        return f"{self.point}:{self.layer}"

    @classmethod
    def parse(cls, text: str) -> "Site":
        """Parse ``"in:15"``, ``"out:14"`` or a bare ``"15"`` (= ``in:15``)."""
        point, _, layer = text.rpartition(":")
        try:
            return cls(int(layer), point or "in")  # type: ignore[arg-type]
        except ValueError as exc:
            raise SiteError(f"cannot parse site '{text}'", "write it as in:L or out:L") from exc

    def hidden_states_index(self) -> int:
        """Index into HF ``hidden_states`` holding this tensor (valid for all but the last ``out``)."""
        return self.layer if self.point == "in" else self.layer + 1

    def canonical(self, n_layers: int) -> "Site":
        """Validate against ``n_layers`` and return the ``in`` form when one exists."""
        self.check(n_layers)
        if self.point == "out" and self.layer + 1 < n_layers:
            return Site(self.layer + 1, "in")
        return self

    def check(self, n_layers: int) -> None:
        if not 0 <= self.layer < n_layers:
            raise SiteError(
                f"layer {self.layer} is out of range for a model with {n_layers} layers",
                f"choose a layer between 0 and {n_layers - 1}",
            )


@dataclass(frozen=True)
class HookPoint:
    """Where to attach: ``module`` and whether to use a pre-hook (input) or a forward hook (output)."""

    module: nn.Module
    pre: bool


def resolve(blocks: nn.ModuleList, site: Site) -> HookPoint:
    """Map a site onto the module and hook kind that read and write its tensor."""
    site.check(len(blocks))
    if site.point == "out":
        return HookPoint(blocks[site.layer], pre=False)
    if site.layer == 0:
        return HookPoint(blocks[0], pre=True)
    return HookPoint(blocks[site.layer - 1], pre=False)
