r"""The equivalence margin of the multi-draw and sequential tests: one of two forms.

Exactly one of ``margin_raw`` (bounds ±δ with δ = margin_raw in score units) or ``margin_dz``
(bounds ±δ with δ = margin_dz · s for an observed SD ``s`` of the differences) is given. Both
forms are reported: a raw margin's standardised size is ``c = δ / s`` (NaN when s = 0); a d_z
margin ``c`` is ``δ = c · s`` raw units (0 when s = 0, so nothing can be shown equivalent).
"""

from __future__ import annotations

import math

from steerid.errors import DataError
from steerid.validation import check_positive


def margin_choice(margin_dz: float | None, margin_raw: float | None) -> tuple[str, float]:
    """(``"raw"`` | ``"dz"``, value) for exactly one given margin, else DataError."""
    if margin_dz is None and margin_raw is None:
        raise DataError("no equivalence margin given", "pass margin_raw (score units) or margin_dz (SDs of the differences)")
    if margin_dz is not None and margin_raw is not None:
        raise DataError("both margin_dz and margin_raw given", "pass only one of margin_raw or margin_dz")
    if margin_raw is not None:
        return "raw", check_positive(margin_raw, "margin_raw")
    return "dz", check_positive(margin_dz, "margin_dz")


def raw_and_standardised(source: str, value: float, sd: float) -> tuple[float, float]:
    """(δ, c) of a :func:`margin_choice` margin for SD ``sd``.

    Raw: δ = value, c = δ / sd (NaN when sd = 0). d_z: c = value, δ = c · sd.
    """
    if source == "raw":
        return value, (value / sd if sd > 0.0 else math.nan)
    return value * sd, value
