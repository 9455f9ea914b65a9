"""Model loading, packaged-model cache, tiny test models and residual-stream sites."""

from steerid.models.info import ModelInfo
from steerid.models.loader import DEFAULT_MODEL, LoadedModel, load_model
from steerid.models.site import HookPoint, Site, resolve

__all__ = ["DEFAULT_MODEL", "HookPoint", "LoadedModel", "ModelInfo", "Site", "load_model", "resolve"]
