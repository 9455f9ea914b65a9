"""Small linear-algebra helpers shared by the recovery constraints.

Input checks live in :mod:`steerid.validation`.
"""

from __future__ import annotations

import numpy as np


def unit(values: np.ndarray) -> np.ndarray:
    """``values / ‖values‖`` (caller guarantees a non-zero input)."""
    return values / np.linalg.norm(values)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity ``a·b / (‖a‖ ‖b‖)`` of two non-zero vectors."""
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def orthonormal_columns(basis: np.ndarray, *, tol: float = 1e-6) -> bool:
    """Whether ``basis`` (d, k) has orthonormal columns: ``max |BᵀB − I| ≤ tol``."""
    gram = basis.T @ basis
    return bool(np.max(np.abs(gram - np.eye(basis.shape[1]))) <= tol)
