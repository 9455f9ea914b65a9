"""Shipped profiles and user config files: profile ← user file ← command line.

1. a *profile* shipped with steerid (``smoke``, ``quick``, ``paper``; YAML files in
   ``steerid/profiles/``);
2. an optional user YAML file (``--config FILE``) that overrides any field of the profile
   (nested sections such as ``e1:`` or ``e6:`` are merged key by key; lists replace);
3. the command line (``MODEL``, ``--traits`` ...): values that are not ``None``.

The merged mapping is validated by :func:`steerid.audit.config.validate_config`.
"""

from __future__ import annotations

import re

from importlib import resources
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from steerid.audit.config import AuditConfig, validate_config
from steerid.experiments.registry import identify_defaults, names
from steerid.config_errors import did_you_mean
from steerid.errors import ConfigError

IDENTIFY_EXPERIMENTS: tuple[str, ...] = identify_defaults()
"""What ``steerid identify`` / ``steerid.audit(vector=...)`` runs unless told otherwise (registry entries
with ``identify_default``)."""
IDENTIFY_ALLOWED: tuple[str, ...] = names(given_vector=True)
"""Experiments that can run on a given vector (e5 compares extraction methods, so it cannot)."""


def identify_experiments(config_file: str | Path | None, named: Sequence[str] | None = None) -> list[str] | None:
    """The ``experiments`` override of ``steerid identify`` / ``steerid.audit(vector=...)``.

    Those ``named`` (``--experiments``, or ``experiments`` in a mapping passed as ``config=``) win;
    else the config file's own ``experiments:`` (returns None: no override, the file decides); else
    :data:`IDENTIFY_EXPERIMENTS` (which replace the profile's list). The command line and the
    Python call use this one rule, so one config file gives the same audit through either door.
    """
    if named:
        return list(named)
    if config_file is not None and "experiments" in read_config_file(config_file):
        return None
    return list(IDENTIFY_EXPERIMENTS)

def list_profiles() -> list[str]:
    root = resources.files("steerid").joinpath("profiles")
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}{line} is not valid YAML", "fix the YAML syntax (indentation, colons, quotes)") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a YAML mapping of config keys, got {type(data).__name__}",
                          "write one 'key: value' per line")
    return data


def load_profile(name: str) -> dict[str, Any]:
    """The raw mapping of a shipped profile."""
    known = list_profiles()
    if name not in known:
        raise ConfigError(f"unknown profile '{name}'", f"{did_you_mean(name, known)}use one of: {', '.join(known)}")
    text = resources.files("steerid").joinpath("profiles", f"{name}.yaml").read_text(encoding="utf-8")
    data = _read_yaml(text, f"profile {name}")
    data["profile"] = name
    return data


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a user config file (validated later, merged over the profile)."""
    file = Path(path).expanduser()
    if file.is_dir():
        raise ConfigError(f"config file '{file}' is a directory",
                          "pass the path of a YAML file, e.g. --config examples/e2-dose-response.yaml")
    if not file.is_file():
        raise ConfigError(f"config file '{file}' does not exist", "check the --config path")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file '{file}' is not UTF-8 text", "save it as UTF-8 YAML") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file '{file}' ({exc.strerror})", "check its permissions") from exc
    return _read_yaml(text, f"config file {file}")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``; nested mappings merge key by key, lists replace."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def build_config(profile: str = "quick", config_file: str | Path | None = None,
                 overrides: dict[str, Any] | None = None, *, sources: Mapping[str, str] | None = None) -> AuditConfig:
    """Profile ← user file ← command-line overrides, validated.

    An invalid value is blamed on the layer that set it: ``sources`` names where each override key
    came from (``{"traits": "--traits"}``, ``{"n_draws": "the config= dict"}``; default "the
    overrides"), else the config file, else the profile.
    """
    data = load_profile(profile)
    layers: list[tuple[str, set[str]]] = [(f"profile {profile}", set(data))]
    if config_file is not None:
        user = read_config_file(config_file)
        if "profile" in user:
            raise ConfigError(f"config file {config_file}: 'profile' cannot be set in a config file",
                              "choose the profile with --profile and override its fields in the file")
        data = merge(data, user)
        layers.append((f"config file {config_file}", set(user)))
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    data = merge(data, given)
    named = dict(sources or {})

    def where_for(key: str | None) -> tuple[str, str]:
        if key is not None and key in given:
            source = named.get(key, "the overrides")
            return source, f"in {source}"
        where = next((name for name, keys in reversed(layers) if key in keys), layers[-1][0])
        return where, "see steerid/profiles/*.yaml for examples"

    return validate_config(data, layers[-1][0], where_for=where_for)


def parse_traits(text: str | None, where: str = "--traits") -> list[str] | str | None:
    """``--traits all`` / ``--traits a,b`` → ``"all"`` / ``["a", "b"]`` (``where`` names the option in errors).

    Raises:
        ConfigError: empty, or a trait listed twice.
    """
    if text is None:
        return None
    text = text.strip()
    if text == "all":
        return "all"
    names: list[str] = []
    for piece in (t.strip() for t in text.split(",") if t.strip()):
        # ab:TRAIN,TEST is one trait: a .json/.jsonl piece right after a one-file ab: entry is its TEST file
        if names and names[-1].startswith("ab:") and "," not in names[-1] and "?" not in names[-1] \
                and re.search(r"\.jsonl?(\?orders=\w+)?$", piece) and not piece.startswith("ab:"):
            names[-1] = f"{names[-1]},{piece}"
        else:
            names.append(piece)
    if not names:
        raise ConfigError(f"{where} is empty", f"pass {where} all or a comma-separated list such as sentiment,formality")
    twice = next((name for index, name in enumerate(names) if name in names[:index]), None)
    if twice is not None:
        raise ConfigError(f"{where} lists '{twice}' twice", "list each trait once")
    return names
