"""Cross-layer consistency: the cleanest layer is chosen; linear transport tracks real steering."""

from __future__ import annotations

import numpy as np
import pytest

from steerid.capture import capture
from steerid.errors import DataError, VectorError
from steerid.models.site import Site
from steerid.recover.crosslayer import CrossLayerConsistency, capture_layers
from steerid.engine.steer import steering

D = 48


def _layer_vectors(seed: int, contaminated: dict[int, float], n_layers: int = 5, noise: float = 0.1):
    """w + per-layer noise, plus a large v⊥ ⊥ w at the contaminated layers (scale = ‖v⊥‖/‖w‖)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=D)
    w /= np.linalg.norm(w)
    vectors = {}
    for layer in range(n_layers):
        v = w + noise * rng.normal(size=D) / np.sqrt(D)
        if layer in contaminated:
            g = rng.normal(size=D)
            g -= (g @ w) * w
            v = v + contaminated[layer] * g / np.linalg.norm(g)
        vectors[layer] = v
    return vectors, w


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_layer_is_chosen_over_contaminated_ones(seed):
    vectors, w = _layer_vectors(seed, {1: 1.0, 3: 0.8})
    fit = CrossLayerConsistency().fit(vectors)
    assert fit.best_ in (0, 2, 4)
    assert fit.direction_ @ w >= 0.99
    assert fit.mean_cosine_[1] < fit.mean_cosine_[fit.best_]
    assert fit.consistency_.shape == (5, 5) and np.allclose(np.diag(fit.consistency_), 1.0)


def test_unrelated_layers_are_reported_inconsistent():
    """Failing case: no direction persists across layers."""
    rng = np.random.default_rng(3)
    fit = CrossLayerConsistency().fit({layer: rng.normal(size=D) for layer in range(4)})
    assert not fit.consistent_
    assert fit.mean_cosine_.max() < 0.5


def test_site_keys_sort_shallow_to_deep():
    vectors, _ = _layer_vectors(4, {})
    sites = {Site(layer): v for layer, v in vectors.items()}
    fit = CrossLayerConsistency().fit(dict(reversed(list(sites.items()))))
    assert fit.keys_ == sorted(sites)
    assert fit.consistent_


def test_linear_transport_recovers_a_planted_linear_map():
    rng = np.random.default_rng(5)
    maps = [np.eye(D) + 0.3 * rng.normal(size=(D, D)) / np.sqrt(D) for _ in range(2)]
    acts = {0: rng.normal(size=(2000, D))}
    acts[1] = acts[0] @ maps[0] + 0.01 * rng.normal(size=(2000, D))
    acts[2] = acts[1] @ maps[1] + 0.01 * rng.normal(size=(2000, D))
    v0 = rng.normal(size=D)
    vectors = {0: v0, 1: maps[0].T @ v0, 2: maps[1].T @ maps[0].T @ v0}
    linear = CrossLayerConsistency("linear").fit(vectors, acts)
    identity = CrossLayerConsistency("identity").fit(vectors)
    assert linear.mean_cosine_.min() >= 0.99
    assert identity.mean_cosine_.min() < linear.mean_cosine_.min() - 0.02


def test_linear_transport_predicts_steering_response_better_than_identity(llama_lm):
    """On the tiny model: a displacement added at layer L moves layer L+1 as the fitted map says."""
    rng = np.random.default_rng(6)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;!?")
    texts = ["".join(rng.choice(alphabet, size=24)) for _ in range(40)]
    acts = capture_layers(llama_lm, texts, [0, 1, 2])
    assert len({a.shape for a in acts.values()}) == 1  # rows aligned token by token
    fit = CrossLayerConsistency("linear").fit({k: rng.normal(size=D) for k in acts}, acts)
    gains = []
    for src in (0, 1):
        for _ in range(3):
            delta = rng.normal(size=D)
            delta *= 0.02 / np.linalg.norm(delta)  # ≈ 15 % of a token's residual norm
            with steering(llama_lm, Site(src), delta):
                moved = capture(llama_lm, texts, Site(src + 1), pooling="all")[Site(src + 1)]
            response = (moved - acts[src + 1]).mean(axis=0)
            predicted = fit.transport_vector(delta, src, src + 1)
            cos_lin = predicted @ response / (np.linalg.norm(predicted) * np.linalg.norm(response))
            cos_id = delta @ response / (np.linalg.norm(delta) * np.linalg.norm(response))
            gains.append(cos_lin - cos_id)
    assert np.mean(gains) > 0.0


def test_bad_inputs_raise_steerid_errors():
    vectors, _ = _layer_vectors(7, {})
    with pytest.raises(DataError):
        CrossLayerConsistency().fit({0: vectors[0]})
    with pytest.raises(DataError):
        CrossLayerConsistency().fit({0: vectors[0], "a": vectors[1]})  # unsortable keys
    with pytest.raises(DataError):
        CrossLayerConsistency("cubic").fit(vectors)
    with pytest.raises(DataError):
        CrossLayerConsistency("linear").fit(vectors)  # no activations
    acts = {k: np.random.default_rng(k).normal(size=(100, D)) for k in vectors}
    acts[2] = acts[2][:50]
    with pytest.raises(DataError):
        CrossLayerConsistency("linear").fit(vectors, acts)  # misaligned rows
    with pytest.raises(VectorError):
        CrossLayerConsistency().fit({0: vectors[0], 1: np.zeros(D)})
    with pytest.raises(VectorError):
        CrossLayerConsistency().fit({0: vectors[0], 1: np.ones(D + 1)})
