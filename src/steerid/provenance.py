"""Provenance carried by every artefact steerid writes."""

from __future__ import annotations

import datetime as _dt
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

from steerid import __version__


def utc_now() -> str:
    """ISO-8601 UTC timestamp, second precision."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Provenance:
    """Where a vector came from.

    Attributes:
        model_spec / model_name / weights_hash: the model (hash = GGUF sha256 or weights fingerprint).
        site: ``in:L`` / ``out:L`` string of :class:`steerid.models.Site`.
        method / method_params: extraction or recovery method and its hyper-parameters.
        trait: trait name or ``custom``.
        prompts_hash: SHA-256 of the texts used (in order).
        n_examples: number of contrastive pairs / examples.
        seed: RNG seed.
        steerid_version / created_at: software version and UTC time.
        extra: free-form JSON (e.g. the source format of an imported vector).
    """

    model_spec: str
    model_name: str
    weights_hash: str
    site: str
    method: str
    trait: str = "custom"
    method_params: dict[str, Any] = field(default_factory=dict)
    prompts_hash: str = ""
    n_examples: int = 0
    seed: int = 0
    steerid_version: str = __version__
    created_at: str = field(default_factory=utc_now)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Provenance":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def machine() -> dict[str, str]:
    """Machine facts recorded in run provenance."""
    import torch

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "torch_threads": str(torch.get_num_threads()),
    }
