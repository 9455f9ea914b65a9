"""Find and load traits: built-in ones shipped as package data, user directories, pairs files.

:func:`resolve_trait` (= :func:`load_trait`) accepts, in this order:

1. a built-in trait name (see :func:`list_traits`) — read through ``importlib.resources`` and
   cached, so every caller gets the same frozen :class:`~steerid.traits.schema.Trait`;
2. a directory in the trait schema — ``trait.yaml`` and ``pairs.jsonl`` required,
   ``eval.jsonl`` and ``likelihood.jsonl`` optional — read afresh on every call. A record's
   ``id`` is optional (a stable one is derived from its content, see :func:`_content_id`). A missing
   optional file is derived from pairs held out of extraction under the seed
   (:mod:`steerid.traits.derive`); the trait's ``derived`` field says what was built;
3. a single JSON Lines pairs file (``{"positive", "negative"[, "prompt"][, "id"]}`` per line,
   what the CLI's ``--pairs FILE`` takes) — a trait with pairs only, nothing derived.
4. ``ab:PATH`` or ``ab:TRAIN,TEST``: an A/B multiple-choice dataset (CAA format), read by
   :func:`steerid.traits.ab.load_ab_trait`.

A built-in name wins over a same-named directory in the working directory; write
``./sentiment`` to load the local one. Every loaded trait carries a ``content_hash`` of its
canonicalised files (:func:`~steerid.traits.schema.content_hash_of`) for provenance.

Every problem a user can cause raises :class:`~steerid.errors.DataError` with one line that
names the file, the line number and the field where they apply, and says how to fix it:
missing, empty or non-UTF-8 files, invalid JSON or YAML, schema violations, duplicate records
or ids inside a file (both line numbers), evaluation prompts that also occur as pair prompts
(a trait's evaluation must not reuse its extraction prompts), and too few pairs to hold some out.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from steerid.errors import DataError
from steerid.io import sha256_texts
from steerid.traits.derive import derive_items
from steerid.traits.reading import read_info, read_jsonl
from steerid.traits.schema import (
    SCHEMA_VERSION,
    ContrastivePair,
    EvalPrompt,
    LikelihoodItem,
    Trait,
    TraitInfo,
    content_hash_of,
    normalize_text,
)

REQUIRED_FILES: tuple[str, ...] = ("trait.yaml", "pairs.jsonl")
"""Files every trait directory must contain."""
OPTIONAL_FILES: tuple[str, ...] = ("eval.jsonl", "likelihood.jsonl")
"""Files a trait directory may omit (then derived from held-out pairs)."""
TRAIT_FILES: tuple[str, ...] = REQUIRED_FILES + OPTIONAL_FILES
"""Every file a trait directory may contain (built-in traits have all four)."""

_DIR_FIX = "a trait directory needs trait.yaml and pairs.jsonl (optional: eval.jsonl, likelihood.jsonl)"
_PAIRS_FILE_FIX = 'each line needs a JSON object {"positive": ..., "negative": ...} (optional: "prompt", "id")'


def _data_root() -> Traversable:
    return resources.files("steerid.traits").joinpath("data")


def list_traits() -> list[str]:
    """Names of the built-in traits (directories with a ``trait.yaml``), sorted."""
    root = _data_root()
    if not root.is_dir():
        return []
    return sorted(entry.name for entry in root.iterdir() if entry.is_dir() and entry.joinpath("trait.yaml").is_file())


def is_builtin(trait: Trait) -> bool:
    """Whether ``trait`` is a built-in trait with its packaged content (same name and content hash)."""
    return trait.name in list_traits() and _load_builtin(trait.name).content_hash == trait.content_hash


def resolve_trait(name_or_path: str | os.PathLike[str], seed: int = 0) -> Trait:
    """The one entry point that turns a ``--trait`` value (or config entry) into a trait.

    Args:
        name_or_path: a built-in name (:func:`list_traits`), a trait directory, or a pairs
            ``.jsonl`` file.
        seed: seed of the held-out split when a directory lacks ``likelihood.jsonl`` or
            ``eval.jsonl`` (ignored otherwise). Use the run's seed, and the same one in every
            command of a study: the split — and so the extraction pairs — depend on it.

    Returns:
        The validated trait; see :class:`~steerid.traits.schema.Trait` for ``derived``,
        ``held_out``, ``seed`` and ``content_hash``.

    Raises:
        DataError: unknown name, missing path, or any problem in the files (see module doc).

    Example:
        >>> trait = resolve_trait("formality")
        >>> trait.info.positive_label, trait.derived
        ('formal', {})
    """
    return load_trait(name_or_path, seed=seed)


def load_trait(name_or_path: str | os.PathLike[str], *, seed: int = 0) -> Trait:
    """Load a built-in trait by name, a trait directory, or a JSON Lines pairs file.

    Args:
        name_or_path: a name from :func:`list_traits`, a directory path, or a ``.jsonl`` path.
        seed: held-out split seed for directories with missing optional files.

    Returns:
        The validated trait. Built-in traits are cached (the same object on every call).

    Raises:
        DataError: unknown name, missing path, or any problem in the files (see module doc).

    Example:
        >>> trait = load_trait("formality")
        >>> trait.info.positive_label, trait.info.negative_label
        ('formal', 'informal')
    """
    text = os.fspath(name_or_path)
    if not text.strip():
        raise DataError("no trait given (empty name)", f"use one of: {', '.join(list_traits()) or 'none'}")
    known = list_traits()
    if text in known:
        return _load_builtin(text)
    if text.strip().startswith("ab:"):  # an A/B multiple-choice dataset (steerid.traits.ab)
        from steerid.traits.ab import load_ab_trait

        return load_ab_trait(text, seed=seed)
    path = Path(text).expanduser()
    if _is_dir(path):
        return load_trait_dir(path, seed=seed)
    if _is_file(path):
        return _trait_from_pairs_file(path)
    if os.sep in text or "/" in text or path.suffix:
        raise DataError(
            f"no such trait file or directory: {text}",
            f"check the path, or name a built-in trait ({', '.join(known) or 'none installed'})",
        )
    raise DataError(
        f"unknown trait '{text}' (built-in: {', '.join(known) or 'none'})",
        "use one of those names, or give the path of a trait directory or pairs .jsonl file",
    )


def clear_cache() -> None:
    """Forget cached built-in traits (after editing package data in a development checkout)."""
    _load_builtin.cache_clear()


@functools.lru_cache(maxsize=None)
def _load_builtin(name: str) -> Trait:
    directory = _data_root().joinpath(name)
    trait = _load_directory(directory, display=str(directory), seed=0)
    if trait.info.name != name:
        raise DataError(
            f"{directory.joinpath('trait.yaml')}: name '{trait.info.name}' differs from its directory '{name}'",
            "make the name in trait.yaml equal to the directory name",
        )
    if trait.derived:
        raise DataError(f"{directory}: built-in trait lacks {', '.join(trait.derived)}", "restore the package data")
    return trait


def load_trait_dir(path: str | os.PathLike[str], *, seed: int = 0) -> Trait:
    """Load a trait directory (not cached: user files may change).

    Args:
        path: directory with ``trait.yaml`` and ``pairs.jsonl`` (optional ``eval.jsonl``,
            ``likelihood.jsonl``).
        seed: held-out split seed used when an optional file is missing.

    Raises:
        DataError: not a directory, or any problem in its files.
    """
    directory = Path(path).expanduser()
    if not _is_dir(directory):
        raise DataError(f"{directory}: not a directory", _DIR_FIX)
    return _load_directory(directory, display=str(directory), seed=seed)


def load_pairs_file(path: str | os.PathLike[str]) -> list[ContrastivePair]:
    """Read a JSON Lines file of contrastive pairs (the CLI's ``--pairs FILE``).

    Each non-blank line is an object with ``positive`` and ``negative`` texts and optionally a
    ``prompt`` (the user turn both texts answer) and an ``id``; missing ids become
    ``<file stem>-pair-<n>``.

    Raises:
        DataError: missing/empty/non-UTF-8 file, invalid JSON, unknown or missing fields,
            duplicate lines or ids (message names the file and line).
    """
    file = Path(path).expanduser()
    stem = _slug(file.stem)

    def add_id(obj: dict[str, Any], index: int) -> dict[str, Any]:
        return obj if "id" in obj else {"id": f"{stem}-pair-{index:03d}", **obj}

    rows = read_jsonl(file, str(file), ContrastivePair, prepare=add_id, fix=_PAIRS_FILE_FIX)
    _check_unique(rows, str(file), _pair_key, "the same prompt, positive and negative")
    return [pair for _, pair in rows]


# --------------------------------------------------------------------------------------------
# directory loading


def _load_directory(directory: Traversable | Path, *, display: str, seed: int) -> Trait:
    missing = [name for name in REQUIRED_FILES if not directory.joinpath(name).is_file()]
    if missing:
        raise DataError(f"{_join(display, missing[0])}: file is missing", _DIR_FIX)
    info = read_info(directory.joinpath("trait.yaml"), _join(display, "trait.yaml"))
    names = {name: _join(display, name) for name in TRAIT_FILES}
    pairs = read_jsonl(
        directory.joinpath("pairs.jsonl"), names["pairs.jsonl"], ContrastivePair, prepare=_content_id("pair")
    )
    _check_unique(pairs, names["pairs.jsonl"], _pair_key, "the same prompt, positive and negative")
    evals: list[tuple[int, EvalPrompt]] = []
    likelihood: list[tuple[int, LikelihoodItem]] = []
    if directory.joinpath("eval.jsonl").is_file():
        evals = read_jsonl(directory.joinpath("eval.jsonl"), names["eval.jsonl"], EvalPrompt, prepare=_content_id("eval"))
        _check_unique(evals, names["eval.jsonl"], lambda item: normalize_text(item.prompt), "the same prompt")
        _check_no_overlap(evals, names["eval.jsonl"], pairs, names["pairs.jsonl"])
    if directory.joinpath("likelihood.jsonl").is_file():
        likelihood = read_jsonl(
            directory.joinpath("likelihood.jsonl"), names["likelihood.jsonl"], LikelihoodItem, prepare=_content_id("lik")
        )
        _check_unique(likelihood, names["likelihood.jsonl"], _pair_key, "the same prompt, positive and negative")

    all_pairs = tuple(pair for _, pair in pairs)
    given = {
        "pairs.jsonl": all_pairs,
        "eval.jsonl": tuple(item for _, item in evals),
        "likelihood.jsonl": tuple(item for _, item in likelihood),
    }
    split = derive_items(
        all_pairs, seed, likelihood=not likelihood, eval_prompts=not evals, display=names["pairs.jsonl"]
    )
    return Trait(
        info=info,
        pairs=split.extraction,
        eval=given["eval.jsonl"] or split.eval,
        likelihood=given["likelihood.jsonl"] or split.likelihood,
        source=display,
        held_out=split.held_out,
        derived=split.derived,
        seed=int(seed) if split.derived else None,
        files_hash=content_hash_of(info, given),
    )


def _trait_from_pairs_file(path: Path) -> Trait:
    pairs = load_pairs_file(path)
    info = TraitInfo(
        name=_slug(path.stem),
        description=f"contrastive pairs read from {path.name}",
        positive_label="positive",
        negative_label="negative",
        schema_version=SCHEMA_VERSION,
    )
    return Trait(info=info, pairs=tuple(pairs), source=str(path))



def _content_id(prefix: str) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    """A ``prepare`` hook that gives a record without ``id`` a stable one derived from its content.

    The id is ``<prefix>-<first 12 hex digits of SHA-256 over the record's sorted fields>``: it
    does not move when lines are added, removed or reordered, and two lines with the same content
    (caught as duplicates by :func:`_check_unique`) are the only way two derived ids can meet.
    """

    def add_id(obj: dict[str, Any], index: int) -> dict[str, Any]:
        if "id" in obj:
            return obj
        texts = [f"{key}={obj[key]}" for key in sorted(obj)]
        return {"id": f"{prefix}-{sha256_texts(texts)[:12]}", **obj}

    return add_id


# --------------------------------------------------------------------------------------------
# cross-record checks


def _pair_key(item: ContrastivePair | LikelihoodItem) -> str:
    return "\x00".join(normalize_text(text) for text in (item.prompt or "", item.positive, item.negative))


def _check_unique(
    rows: list[tuple[int, Any]], display: str, key: Callable[[Any], str], what: str
) -> None:
    """Raise on the first record that repeats an earlier one (by key) or an earlier id."""
    seen_keys: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for number, record in rows:
        record_key = key(record)
        if record_key in seen_keys:  # checked first: two identical lines without ids share a derived id
            raise DataError(
                f"{display} line {number}: duplicate of line {seen_keys[record_key]} ({what}, "
                "ignoring case, spacing and punctuation)",
                "remove or reword one of the two lines",
            )
        seen_keys[record_key] = number
        if record.id in seen_ids:
            raise DataError(
                f"{display} line {number}: id '{record.id}' is already used on line {seen_ids[record.id]}",
                "give every line its own id",
            )
        seen_ids[record.id] = number


def _check_no_overlap(
    evals: Iterable[tuple[int, EvalPrompt]],
    eval_name: str,
    pairs: Iterable[tuple[int, ContrastivePair]],
    pairs_name: str,
) -> None:
    pair_lines = {normalize_text(pair.prompt): number for number, pair in pairs if pair.prompt is not None}
    for number, item in evals:
        other = pair_lines.get(normalize_text(item.prompt))
        if other is not None:
            raise DataError(
                f"{eval_name} line {number}: prompt also appears in {pairs_name} line {other}",
                "evaluation prompts must differ from extraction prompts; reword or remove one",
            )


# --------------------------------------------------------------------------------------------
# small helpers


def _join(display: str, name: str) -> str:
    return f"{display.rstrip('/')}/{name}"


def _slug(stem: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")
    return slug or "pairs"


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError as exc:  # e.g. a name longer than the OS allows
        raise DataError(f"cannot inspect {path} ({exc.strerror or exc})", "check the path") from exc


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError as exc:
        raise DataError(f"cannot inspect {path} ({exc.strerror or exc})", "check the path") from exc
