"""``recover`` on a vector of a custom trait without ``--trait`` gives identify's precise hint."""

from __future__ import annotations

import numpy as np
import pytest

from steerid.errors import DataError
from steerid.models import load_model
from steerid.provenance import Provenance
from steerid.recover.pipeline import recover_vector
from steerid.vector import SteeringVector


def custom_vector(lm, extra: dict) -> SteeringVector:
    provenance = Provenance(model_spec="tiny:llama", model_name="tiny:llama", weights_hash=lm.info.weights_hash,
                            site="in:1", method="mean_diff", trait="enthusiasm", extra=extra)
    return SteeringVector.from_array(np.ones(lm.info.hidden_size), provenance)


@pytest.mark.parametrize("extra, where", [({}, "--trait PATH/TO/TRAIT_DIR"),
                                          ({"trait": {"source": "examples/traits/enthusiasm"}},
                                           "--trait examples/traits/enthusiasm")])
def test_custom_trait_vector_without_trait_names_the_fix(extra: dict, where: str) -> None:
    lm = load_model("tiny:llama")
    with pytest.raises(DataError) as info:
        recover_vector(lm, custom_vector(lm, extra), "gauge")
    message = str(info.value)
    assert "the vector's trait 'enthusiasm' is not a built-in trait" in message and "unknown trait" not in message
    assert where in message and "sentiment" in message
