"""Model loading, packaged-model cache, tiny test models and residual-stream sites.

``Site`` and ``ModelInfo`` are light; the loader (which imports transformers) is imported only
when ``load_model`` / ``LoadedModel`` is first used.
"""

from __future__ import annotations

from typing import Any

from steerid.models.info import ModelInfo
from steerid.models.site import HookPoint, Site, resolve

DEFAULT_MODEL = "smollm2-135m"


def __getattr__(name: str) -> Any:
    if name in ("LoadedModel", "load_model"):
        from steerid.models import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'steerid.models' has no attribute {name!r}")


__all__ = ["DEFAULT_MODEL", "HookPoint", "LoadedModel", "ModelInfo", "Site", "load_model", "resolve"]
