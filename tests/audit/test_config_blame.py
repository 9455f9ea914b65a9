"""A bad value is blamed on where the user wrote it: an option, the config= dict, the file, the profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from _cli_main import run_main

import steerid
from steerid.audit.profiles import build_config
from steerid.errors import ConfigError


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


def test_duplicate_traits_option_is_a_command_line_error(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("n_draws: 2\n", encoding="utf-8")
    code, _, err = run_main(["audit", "tiny:llama", "--traits", "sentiment,sentiment", "--profile", "smoke",
                             "--config", str(config), "--out", str(tmp_path / "run")], capsys)
    line = one_line(err)
    assert code == 2 and "--traits lists 'sentiment' twice" in line and "config file" not in line
    assert not (tmp_path / "run").exists()


def test_config_dict_value_names_the_config_dict(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        steerid.audit("tiny:llama", profile="smoke", config={"n_draws": "eight"}, out=tmp_path / "run")
    message = str(info.value)
    assert message.startswith("the config= dict: invalid value for 'n_draws'") and "profile" not in message
    assert not (tmp_path / "run").exists()


def test_api_duplicate_traits_names_the_argument() -> None:
    with pytest.raises(ConfigError, match=r"^traits= lists 'sentiment' twice"):
        steerid.audit("tiny:llama", profile="smoke", traits=["sentiment", "sentiment"])


def test_blame_follows_the_layer_that_set_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("n_draws: eight\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^config file {config}: invalid value for 'n_draws'"):
        build_config("smoke", config, {"model": "tiny:llama"}, sources={"model": "the MODEL argument"})
    with pytest.raises(ConfigError, match=r"^--dtype: invalid value for 'dtype'"):
        build_config("smoke", None, {"dtype": "float8"}, sources={"dtype": "--dtype"})
    # a profile value overridden by a good file value is not blamed on either
    config.write_text("n_draws: 3\n", encoding="utf-8")
    assert build_config("smoke", config).n_draws == 3


def test_config_pointing_at_a_directory_says_so(tmp_path: Path, capsys) -> None:
    code, _, err = run_main(["audit", "tiny:llama", "--profile", "smoke", "--config", str(tmp_path),
                             "--out", str(tmp_path / "run")], capsys)
    line = one_line(err)
    assert code == 2 and f"config file '{tmp_path}' is a directory" in line and "does not exist" not in line
