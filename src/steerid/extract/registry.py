"""Name → extraction method.

    make_extractor(name, **params) = EXTRACTORS[name](**params)

The names are the ``method`` class attributes recorded in a vector's provenance, so a stored
vector can be re-extracted with the same method and hyper-parameters.
"""

from __future__ import annotations

import inspect
from typing import Any

from steerid.errors import DataError
from steerid.extract.base import Extractor
from steerid.extract.lda import LDA
from steerid.extract.mean_diff import MeanDiff
from steerid.extract.pca import PCA
from steerid.extract.probe import Probe

EXTRACTORS: dict[str, type[Extractor]] = {cls.method: cls for cls in (MeanDiff, PCA, Probe, LDA)}


def make_extractor(name: str, **params: Any) -> Extractor:
    """Build an extractor by method name.

    Args:
        name: One of the keys of :data:`EXTRACTORS` (``mean_diff``, ``pca``, ``probe``, ``lda``).
        **params: Hyper-parameters passed to the class constructor.

    Returns:
        An unfitted extractor.

    Raises:
        DataError: Unknown method name, or a hyper-parameter the method does not take.

    Example:
        >>> make_extractor("pca", centred=True).params()["centred"]
        True
    """
    try:
        cls = EXTRACTORS[name]
    except KeyError:
        raise DataError(
            f"unknown extraction method {name!r}", f"use one of: {', '.join(EXTRACTORS)}"
        ) from None
    accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise DataError(
            f"extraction method {name!r} has no parameter {', '.join(map(repr, unknown))}",
            f"use {', '.join(accepted)}" if accepted else f"{name} takes no parameters",
        )
    return cls(**params)
