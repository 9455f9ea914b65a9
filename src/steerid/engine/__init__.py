"""The engine: steering hooks, batched generation and teacher-forced log-likelihoods.

Everything that runs a model forward under a steering displacement lives here, one concept per
module:

| module | holds |
|---|---|
| ``steer`` | ``steering(lm, site, deltas, scope=...)``: per-row residual displacements, hooks always removed |
| ``generation`` | ``generate`` (batched, CRN-sampled) and ``teacher_forced`` / ``continuation_logprobs`` |
| ``decode`` | steerid's own decode loop (static KV cache, compaction, fork at the site) |
| ``fork`` | run the blocks below the site once per distinct prompt, then fork into conditions |
| ``sampling`` | counter-based, batch-independent sampling (common random numbers) |
| ``prefix`` | a prompt prefix shared by every row, computed once per distinct delta |
| ``attention`` | the one-query decode attention kernel of the reduced-precision copy |
| ``batching`` | tokenisation, left padding and position ids shared by capture and generation |

The names a caller needs are re-exported here and at the top level (``steerid.steering``,
``steerid.generate``); the modules load torch, so this package imports them on first use.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "steering": "steerid.engine.steer",
    "as_deltas": "steerid.engine.steer",
    "generate": "steerid.engine.generation",
    "Generation": "steerid.engine.generation",
    "teacher_forced": "steerid.engine.generation",
    "continuation_logprob": "steerid.engine.generation",
    "continuation_logprobs": "steerid.engine.generation",
    "Sampling": "steerid.engine.sampling",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'steerid.engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Module attributes plus the lazy exports."""
    return sorted({*globals(), *_EXPORTS})
