"""Shipped profiles and user config files: profile ← user file ← command line.

1. a *profile* shipped with steerid (``smoke``, ``quick``, ``paper``; YAML files in
   ``steerid/profiles/``);
2. an optional user YAML file (``--config FILE``) that overrides any field of the profile
   (nested sections such as ``e1:`` or ``e6:`` are merged key by key; lists replace);
3. the command line (``MODEL``, ``--traits`` ...): values that are not ``None``.

The merged mapping is validated by :func:`steerid.audit.config.validate_config`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from steerid.audit.config import AuditConfig, validate_config
from steerid.config_errors import did_you_mean
from steerid.errors import ConfigError

IDENTIFY_EXPERIMENTS: tuple[str, ...] = ("likelihood", "e1", "e4", "e6")
"""What ``steerid identify`` / ``steerid.audit(vector=...)`` runs unless told otherwise."""
IDENTIFY_ALLOWED: tuple[str, ...] = ("e1", "likelihood", "e4", "e6", "e7", "recovery")
"""Experiments that can run on a given vector (e5 compares extraction methods, so it cannot)."""

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
                 overrides: dict[str, Any] | None = None) -> AuditConfig:
    """Profile ← user file ← command-line overrides, validated."""
    data = load_profile(profile)
    where = f"profile {profile}"
    if config_file is not None:
        user = read_config_file(config_file)
        if "profile" in user:
            raise ConfigError(f"config file {config_file}: 'profile' cannot be set in a config file",
                              "choose the profile with --profile and override its fields in the file")
        data = merge(data, user)
        where = f"config file {config_file}"
    if overrides:
        data = merge(data, {k: v for k, v in overrides.items() if v is not None})
    return validate_config(data, where)


def parse_traits(text: str | None) -> list[str] | str | None:
    """``--traits all`` / ``--traits a,b`` → ``"all"`` / ``["a", "b"]``."""
    if text is None:
        return None
    text = text.strip()
    if text == "all":
        return "all"
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ConfigError("--traits is empty", "pass --traits all or a comma-separated list such as sentiment,formality")
    return names
