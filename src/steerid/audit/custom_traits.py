"""Trait entries of an audit config that are trait directories (custom traits), and how they resolve.

A ``traits`` entry (or ``vector_trait``) is a *path* when it contains ``/`` or the OS separator,
names an existing directory, or is an A/B dataset spec ``ab:PATH[,TEST]`` (:mod:`steerid.traits.ab`); it is then read with :func:`steerid.traits.resolve_trait` under the
config's seed, and the config records ``custom_traits[name] = {"source", "content_hash"}``.
A resolved config names the trait by name only; :func:`trait_source` gives what to load it from.

Trait-free mode (:func:`trait_free_config`): ``steerid identify`` on a vector that records no
trait, without ``--trait``, runs only the experiments that need no trait (E4, E6, E7 unscored)
under the trait name :data:`NO_TRAIT` and says in one line what it skipped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerid.experiments.registry import REGISTRY
from steerid.config_errors import did_you_mean
from steerid.errors import ConfigError, DataError

if TYPE_CHECKING:
    from steerid.audit.config import AuditConfig


def trait_source(config: AuditConfig, name: str) -> str:
    """What to pass to :func:`steerid.traits.resolve_trait` for trait ``name`` of ``config``."""
    if name == NO_TRAIT and config.vector is not None and config.vector_trait is None:
        return TRAIT_FREE_PROMPTS
    return (config.custom_traits.get(name) or {}).get("source", name)


def is_trait_path(entry: str) -> bool:
    """Whether a ``traits`` entry names a trait directory or pairs file rather than a built-in trait.

    A path contains ``/`` (or the OS separator) or names an existing directory; a built-in name
    wins over a same-named directory in the working directory (write ``./sentiment`` for that one),
    as in :func:`steerid.traits.resolve_trait`.
    """
    from steerid.traits import list_traits

    if is_ab_spec(entry):
        return True
    if "/" in entry or os.sep in entry:
        return True
    if entry in list_traits():
        return False
    path = Path(entry).expanduser()  # a file here is refused by check_not_a_file, with the fix
    return path.is_dir() or path.is_file() or path.suffix.lower() in (".json", ".jsonl")


def is_ab_spec(entry: str) -> bool:
    """Whether a trait entry is an A/B dataset spec (``ab:PATH[,TEST]``, :mod:`steerid.traits.ab`)."""
    return entry.strip().startswith("ab:")


def source_key(entry: str) -> str:
    """The absolute form of a trait path entry (a directory, a pairs file, or an ``ab:`` spec)."""
    if is_ab_spec(entry):
        from steerid.traits.ab import parse_ab_spec

        try:
            return parse_ab_spec(entry).source()
        except DataError as exc:
            raise ConfigError(f"traits: {exc.problem}", exc.fix) from exc
    return str(Path(entry).expanduser().resolve())


def ab_trait_names(config: AuditConfig) -> list[str]:
    """Names of the config's traits read from A/B datasets (``ab:`` sources): their behaviour is
    the likelihood route, so they do not run the generation route (E1, E2, E3)."""
    return [name for name, info in config.custom_traits.items() if is_ab_spec(info.get("source", ""))]


def check_not_a_file(entry: str, where: str = "traits") -> None:
    """Refuse a file given where a trait *directory* is expected (before any run directory exists).

    A bare pairs file (what ``steerid extract --pairs`` reads) has no evaluation prompts, likelihood
    items or poles, so an audit cannot run on it; an A/B dataset file is read with ``ab:PATH``.

    Raises:
        ConfigError: ``entry`` is an existing file (not an ``ab:`` spec).
    """
    if is_ab_spec(entry):
        return
    path = Path(entry).expanduser()
    try:
        is_file = path.is_file()
    except OSError:  # a name the OS cannot inspect: resolve_trait reports it
        return
    if is_file:
        raise ConfigError(
            f"{where}: '{entry}' is a file, not a trait directory",
            f"put it as pairs.jsonl into a directory with a trait.yaml (see examples/traits/enthusiasm) and pass "
            f"that directory; for a JSON/JSONL file of A/B items write ab:{entry}",
        )


def load_custom_trait(entry: str, seed: int, where: str = "traits") -> Any:
    """:func:`steerid.traits.resolve_trait` of a path entry, its errors as :class:`ConfigError`."""
    from steerid.traits import resolve_trait

    check_not_a_file(entry, where)
    try:
        return resolve_trait(entry, seed=seed)
    except DataError as exc:
        raise ConfigError(f"{where}: {exc.problem}", exc.fix) from exc


def resolve_trait_entries(config: AuditConfig, entries: list[str], available: list[str]
                           ) -> tuple[list[str], dict[str, dict[str, str]], list[str]]:
    """Names of ``entries``, the ``custom_traits`` record of those that are trait directories, and
    the trait directories without evaluation prompts in one of ``config.environments[1:]`` (their
    derived prompts are all ``in_distribution``), which therefore cannot run E3."""
    names: list[str] = []
    custom: dict[str, dict[str, str]] = {}
    no_e3: list[str] = []
    for entry in entries:
        if entry == NO_TRAIT and config.vector is not None and config.vector_trait is None:
            names.append(entry)  # trait-free identify (see trait_free_config)
            continue
        source = entry if is_trait_path(entry) else (config.custom_traits.get(entry) or {}).get("source")
        if source is None:
            if entry not in available:
                raise ConfigError(f"unknown trait '{entry}'",
                                  f"{did_you_mean(entry, available)}use 'all', some of: {', '.join(available)}, "
                                  "or the path of a trait directory")
            names.append(entry)
            continue
        trait = load_custom_trait(source, config.seed)
        if trait.name in names or trait.name in custom:
            raise ConfigError(f"two traits of the audit are named '{trait.name}'",
                              "give each trait directory its own name in its trait.yaml")
        names.append(trait.name)
        custom[trait.name] = {"source": source_key(source), "content_hash": trait.content_hash}
        if any(not trait.eval_prompts(env) for env in config.environments[1:]):
            no_e3.append(trait.name)
    if len(set(names)) != len(names):
        raise ConfigError("a trait is listed twice (once by name, once by directory?)", "list each trait once")
    return names, custom, no_e3


# --------------------------------------------------------------------------------------------
# trait-free mode (steerid identify on a vector that records no trait)

NO_TRAIT = "none"
"""The trait name of a trait-free run (a given vector that records no trait, and no ``--trait``)."""
TRAIT_FREE_PROMPTS = "sentiment"
"""Built-in trait whose evaluation prompts (everyday requests) a trait-free run generates from."""
TRAIT_FREE_EXPERIMENTS: tuple[str, ...] = tuple(e.name for e in REGISTRY.values() if not e.needs_trait)
"""What needs no trait (registry entries with ``needs_trait`` off): logit distance, null space, spanning
(E7 then does not score text)."""


def trait_free_config(config: AuditConfig) -> tuple[AuditConfig, str]:
    """The config of a trait-free identify run and the one line that says what it skipped and why.

    Keeps the requested experiments that need no trait (all of :data:`TRAIT_FREE_EXPERIMENTS`
    when none of them was requested), turns off E7's scoring and names the trait :data:`NO_TRAIT`;
    prompts come from the built-in :data:`TRAIT_FREE_PROMPTS` trait's evaluation set.
    """
    kept = [e for e in config.experiments if e in TRAIT_FREE_EXPERIMENTS] or list(TRAIT_FREE_EXPERIMENTS)
    skipped = [e for e in config.experiments if e not in kept]
    names = {"e4": "logit distance", "e6": "null space", "e7": "spanning, unscored"}
    line = (f"steerid: the vector records no trait, so this runs only the trait-free experiments "
            f"({', '.join(f'{e} {names[e]}' for e in kept)})"
            + (f" and skips {', '.join(skipped)}" if skipped else "")
            + "; to run the trait experiments, pass --trait NAME or --trait PATH/TO/TRAIT_DIR (trait= in Python)")
    update = {"experiments": kept, "traits": [NO_TRAIT], "e7": config.e7.model_copy(update={"score": False})}
    return config.model_copy(update=update), line
