"""steerid: extract, apply and audit the identifiability of activation steering vectors.

The names a notebook needs are importable from the top level and loaded on first use, so
``import steerid`` itself stays light (no torch, no transformers):

    >>> import steerid                                                         # doctest: +SKIP
    >>> lm = steerid.load_model("tiny:llama")                                  # doctest: +SKIP
    >>> v = steerid.extract_vector(lm, [("I love it", "I hate it"), ("Great!", "Awful.")],
    ...                            steerid.Site(1))                            # doctest: +SKIP
    >>> with v.apply(lm, 4.0):                                                 # doctest: +SKIP
    ...     out = steerid.generate(lm, ["Tell me about your day."], max_new_tokens=20)

``capture`` stays the name of its module (``steerid.capture.capture``): a function bound under a
submodule's name would be replaced by the module as soon as anything imports it. ``generate`` is
the function (its module is ``steerid.engine.generation``).
"""

import importlib

__version__ = "0.1.0"

#: Lazily exported name → the module defining it.
_EXPORTS = {
    "load_model": "steerid.models",
    "Site": "steerid.models",
    "SteeringVector": "steerid.vector",
    "Provenance": "steerid.provenance",
    "extract_vector": "steerid.extract.pipeline",
    "steering": "steerid.engine.steer",
    "generate": "steerid.engine.generation",
    "median_token_norm": "steerid.capture",
    "load_trait": "steerid.traits",
    "get_scorer": "steerid.scorers",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    # ``steerid.audit`` is a callable package (see its docstring): ``steerid.audit(model, ...)``.
    # Imported on first use, so that ``import steerid`` stays light (the report must not load it).
    if name == "audit":
        return importlib.import_module("steerid.audit")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    raise AttributeError(f"module 'steerid' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Module attributes plus the lazy exports (tab completion in notebooks)."""
    return sorted({*globals(), *_EXPORTS, "audit"})
