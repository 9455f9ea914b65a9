"""One module per audit experiment: its ``Settings`` (what the unit id hashes) and ``run(settings, ctx)``.

See :mod:`steerid.experiments.registry` for the contract. :class:`UnitSettings` is the base of every
``Settings``: frozen, unknown keys refused, and ``from_config`` taking each field of the same name
from the (resolved) audit config unless the module computes it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class UnitSettings(BaseModel):
    """Base of an experiment's settings: every field is something the run reads (and the unit id hashes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def from_config(cls, config: Any) -> UnitSettings:
        """Each field from the config attribute of the same name (override for computed fields)."""
        return cls.pick(config)

    @classmethod
    def pick(cls, config: Any, **computed: Any) -> UnitSettings:
        """``computed`` values, the other fields from the config attributes of the same name."""
        return cls(**{name: computed[name] if name in computed else getattr(config, name) for name in cls.model_fields})

    def spec(self) -> dict[str, Any]:
        """The JSON form hashed into the unit id (and read back by the worker)."""
        return self.model_dump(mode="json")
