"""Prompt library: traits as data files, their loader and the chat formatting they are read with.

Built-in traits live in ``traits/data/<name>/`` (``trait.yaml``, ``pairs.jsonl``,
``eval.jsonl``, ``likelihood.jsonl``; see :mod:`steerid.traits.schema`). Resolve one with
:func:`resolve_trait` (or :func:`load_trait`), which also takes a user directory in the same
schema — where only ``trait.yaml`` and ``pairs.jsonl`` are required (:mod:`steerid.traits.derive`
builds the rest from held-out pairs) — or a JSON Lines pairs file. :func:`scorer_for_trait`
(:mod:`steerid.traits.scoring`) gives the scorer that measures a trait: its built-in scorer, a
user's Hugging Face classifier (``hf:PATH``), or an embedding head trained on the trait's pairs.

Example:
    >>> from steerid.traits import list_traits, load_trait
    >>> "sentiment" in list_traits()
    True
    >>> trait = load_trait("sentiment")
    >>> pair = trait.pairs[0]
    >>> bool(pair.prompt and pair.positive and pair.negative)
    True
"""

from steerid.traits.formatting import BASE_PROMPT, format_chat, has_chat_template
from steerid.traits.loader import (
    OPTIONAL_FILES,
    REQUIRED_FILES,
    TRAIT_FILES,
    clear_cache,
    is_builtin,
    list_traits,
    load_pairs_file,
    load_trait,
    load_trait_dir,
    resolve_trait,
)
from steerid.traits.schema import (
    ENVIRONMENTS,
    SCHEMA_VERSION,
    ContrastivePair,
    Environment,
    EvalPrompt,
    LikelihoodItem,
    Trait,
    TraitInfo,
    hash_eval,
    hash_likelihood,
    content_hash_of,
    hash_pairs,
    normalize_text,
)
from steerid.traits.scoring import parse_label_map, parse_scorer_spec, scorer_for_trait, train_trait_head

__all__ = [
    "BASE_PROMPT",
    "ENVIRONMENTS",
    "OPTIONAL_FILES",
    "REQUIRED_FILES",
    "SCHEMA_VERSION",
    "TRAIT_FILES",
    "ContrastivePair",
    "Environment",
    "EvalPrompt",
    "LikelihoodItem",
    "Trait",
    "TraitInfo",
    "clear_cache",
    "content_hash_of",
    "format_chat",
    "has_chat_template",
    "hash_eval",
    "hash_likelihood",
    "hash_pairs",
    "is_builtin",
    "list_traits",
    "load_pairs_file",
    "load_trait",
    "load_trait_dir",
    "normalize_text",
    "parse_label_map",
    "parse_scorer_spec",
    "resolve_trait",
    "scorer_for_trait",
    "train_trait_head",
]
