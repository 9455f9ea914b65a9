"""Prompt library: traits as data files, their loader and the chat formatting they are read with.

Built-in traits live in ``traits/data/<name>/`` (``trait.yaml``, ``pairs.jsonl``,
``eval.jsonl``, ``likelihood.jsonl``; see :mod:`steerid.traits.schema`). Load one with
:func:`load_trait`, which also takes a user directory in the same schema or a JSON Lines
pairs file.

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
    TRAIT_FILES,
    clear_cache,
    list_traits,
    load_pairs_file,
    load_trait,
    load_trait_dir,
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
    hash_pairs,
    normalize_text,
)

__all__ = [
    "BASE_PROMPT",
    "ENVIRONMENTS",
    "SCHEMA_VERSION",
    "TRAIT_FILES",
    "ContrastivePair",
    "Environment",
    "EvalPrompt",
    "LikelihoodItem",
    "Trait",
    "TraitInfo",
    "clear_cache",
    "format_chat",
    "has_chat_template",
    "hash_eval",
    "hash_likelihood",
    "hash_pairs",
    "list_traits",
    "load_pairs_file",
    "load_trait",
    "load_trait_dir",
    "normalize_text",
]
