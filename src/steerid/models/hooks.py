"""Bookkeeping for the forward hooks steerid puts on a model: marking, counting, removal.

Every hook steerid registers (steering, capture, forking) carries the attribute
``STEERID_HOOK = True``, so that a leak of ours can be told apart from the persistent hooks
transformers installs itself (it records ``hidden_states`` that way). Removal is by *identity*:
for each module m and each hook h we registered,

    registry(m) ← {k: fn ∈ registry(m) | fn is not h}

over the pre-forward and forward registries (and their with-kwargs / always-called side
tables), which works whether or not a handle for h was ever stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from torch import nn

STEERID_HOOK = "_steerid_hook"

HookT = TypeVar("HookT", bound=Callable[..., object])


def mark(hook: HookT) -> HookT:
    """Mark ``hook`` as steerid's (see :func:`count_hooks`) and return it."""
    setattr(hook, STEERID_HOOK, True)
    return hook


def count_hooks(model: nn.Module, *, ours_only: bool = True) -> int:
    """Number of forward / pre-forward hooks in ``model`` (only steerid's unless ``ours_only=False``).

    transformers installs persistent hooks of its own (to record ``hidden_states``); steerid marks
    each hook it registers so that a leak of ours can be told apart from those.
    """
    hooks = [h for m in model.modules() for h in (*m._forward_hooks.values(), *m._forward_pre_hooks.values())]
    return sum(1 for h in hooks if not ours_only or getattr(h, STEERID_HOOK, False))


def remove_hooks(modules: Iterable[nn.Module], hooks: Sequence[object]) -> None:
    """Unregister ``hooks`` from ``modules`` by identity, whether or not a handle was kept.

    Called in ``finally`` after the handles are removed: an interrupt (KeyboardInterrupt) that
    arrives after torch registered a hook but before its handle was stored would otherwise leave
    that hook on the model for good.
    """
    for module in modules:
        for registry in (module._forward_pre_hooks, module._forward_hooks):
            for key in [k for k, fn in registry.items() if any(fn is hook for hook in hooks)]:
                del registry[key]
                for extra in (module._forward_pre_hooks_with_kwargs, module._forward_hooks_with_kwargs,
                              module._forward_hooks_always_called):
                    extra.pop(key, None)


__all__ = ["STEERID_HOOK", "count_hooks", "mark", "remove_hooks"]
