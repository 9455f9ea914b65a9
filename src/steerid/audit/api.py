"""Python API: ``steerid.audit(model, ...)`` → :class:`AuditResult`.

``steerid.audit`` runs exactly what ``steerid audit`` (or, with ``vector=``, ``steerid identify``)
runs — the same profile ← config file ← arguments layering, the same run directory, checkpoint
and results — so one config gives the same ``results.json`` through either door.

Example:
    >>> import steerid
    >>> result = steerid.audit("tiny:llama", traits="sentiment", profile="smoke",
    ...                        out="runs/api")                          # doctest: +SKIP
    >>> result.summary()[["trait", "route", "sign", "verdict"]]       # doctest: +SKIP
    >>> result.report(open=True)                                      # doctest: +SKIP

``model`` is a spec string (``smollm2-135m``, ``tiny:llama``, a local directory, a hub id), a
:class:`~steerid.models.LoadedModel`, or an already loaded Hugging Face model with its tokenizer
as the *second positional argument* (``steerid.audit(model, tokenizer, ...)``, the order of
``from_pretrained`` pairs). Two arguments rather than a tuple keep the signature the same shape
as the rest of the Hugging Face ecosystem and leave no ambiguity with a spec string.
"""

from __future__ import annotations

import json
import math
import tempfile
import uuid
import webbrowser
from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

from steerid.audit.config import AuditConfig
from steerid.audit.profiles import build_config, identify_experiments, parse_traits
from steerid.audit.runner import AuditOutcome, run_audit
from steerid.errors import ConfigError, VectorError
from steerid.io import atomic_write_text, restore_non_finite
from steerid.report import load_results, render_html, render_report

SUMMARY_COLUMNS = ["trait", "route", "sign", "layer", "method", "alpha_rel", "environment", "rho", "n", "steers",
                   "dz", "relative_efficacy", "p_tost_holm_audit", "power", "verdict", "verdict_relative",
                   "fraction_pass", "null_space_fraction", "unit_id"]
"""Columns of :meth:`AuditResult.summary` (a subset of ``results.json["summary"]`` rows, in this order)."""


class Cell(NamedTuple):
    """The identity of one summary row: which equivalence test a verdict belongs to."""

    trait: str
    route: str
    sign: str
    layer: int
    method: str
    alpha_rel: float
    environment: str
    rho: float


class AuditResult:
    """The outcome of :func:`audit`: ``results.json`` in memory, with tabular views and the report.

    Attributes:
        run_dir: the run directory (resumable: the same call again skips finished units).
        results_path / report_path: ``RUN/results.json`` / ``RUN/report.html``.
        outcome: the :class:`~steerid.audit.runner.AuditOutcome` (units run, skipped, wall time).
    """

    def __init__(self, outcome: AuditOutcome) -> None:
        self.outcome = outcome
        self.run_dir = Path(outcome.run_dir)
        self.results_path = Path(outcome.results_path)
        self.report_path = Path(outcome.report_path)
        # strict JSON on disk (nulls + "non_finite"); NaN / inf floats again in memory
        self._results: dict[str, Any] = restore_non_finite(json.loads(self.results_path.read_text(encoding="utf-8")))

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The summary rows of ``results.json``: one per (E1-style unit, sign, ρ)."""
        return list(self._results.get("summary") or [])

    def summary(self):
        """A pandas DataFrame with one row per trait × route × sign (× layer, method, α, environment, ρ).

        Columns: :data:`SUMMARY_COLUMNS` — whether ``+v``/``−v`` steers (``steers``, ``dz``), the
        relative efficacy of ``v+v⊥``, the audit-level Holm-adjusted TOST p-value, power, the
        verdict (``equivalent`` / ``not equivalent`` / ``inconclusive`` / ``not steering``) and the
        verdict of the relative margin.
        """
        import pandas as pd  # 0.4 s to import; only this view needs it

        return pd.DataFrame([{c: r.get(c) for c in SUMMARY_COLUMNS} for r in self.rows], columns=SUMMARY_COLUMNS)

    @property
    def verdicts(self) -> dict[Cell, str]:
        """``{Cell(trait, route, sign, layer, method, alpha_rel, environment, rho): verdict}``."""
        return {_cell(r): r["verdict"] for r in self.rows}

    def verdict(self, trait: str, route: str = "likelihood", sign: str = "+v", *, alpha_rel: float | None = None,
                environment: str | None = None, **cell: Any) -> str:
        """The one verdict matching ``trait``, ``route``, ``sign`` and any other :class:`Cell` field given.

        ``alpha_rel`` (the strength) and ``environment`` pick one row of a run with several strengths
        or environments; ``layer``, ``method`` and ``rho`` may be given the same way.

        Raises:
            CellError (a ``KeyError``): an unknown field, no matching row, or several rows — then the
                message names the argument that tells them apart and its values, e.g. ``alpha_rel=0.5``.
        """
        given = {"alpha_rel": alpha_rel, "environment": environment, **cell}
        wanted = {"trait": trait, "route": route, "sign": sign, **{k: v for k, v in given.items() if v is not None}}
        unknown = sorted(set(wanted) - set(Cell._fields))
        if unknown:
            raise CellError(f"unknown cell field(s) {unknown}; use some of {list(Cell._fields)}")
        found = {c: v for c, v in self.verdicts.items() if all(_same(getattr(c, k), x) for k, x in wanted.items())}
        shown = ", ".join(f"{k}={v!r}" for k, v in wanted.items())
        if not found:
            raise CellError(f"no summary row matches {shown}; result.summary() lists the rows")
        if len(found) > 1:
            differ = [f for f in Cell._fields if len({getattr(c, f) for c in found}) > 1]
            options = "; ".join(f"{f}= one of {sorted({getattr(c, f) for c in found}, key=repr)}" for f in differ)
            raise CellError(f"{len(found)} summary rows match {shown}: add {options}")
        return next(iter(found.values()))

    def report(self, path: str | Path | None = None, open: bool = False) -> Path:  # noqa: A002 - the documented name
        """Write the self-contained HTML report (``RUN/report.html`` by default) and return its path.

        ``open=True`` also opens it in the default web browser.
        """
        if path is None:
            target = render_report(self.run_dir)
        else:
            target = Path(path).expanduser()
            atomic_write_text(target, render_html(load_results(self.run_dir)))
        if open:
            webbrowser.open(target.resolve().as_uri())
        return target

    def to_dict(self) -> dict[str, Any]:
        """The content of ``results.json`` (a fresh copy; JSON-safe)."""
        return json.loads(json.dumps(self._results))

    def _counts(self) -> str:
        counts = Counter(r["verdict"] for r in self.rows)
        return ", ".join(f"{k}: {n}" for k, n in sorted(counts.items())) or "no equivalence tests"

    def __repr__(self) -> str:
        traits = (self._results.get("config") or {}).get("traits")
        model = (self._results.get("model") or {}).get("spec")
        return (f"AuditResult(model={model!r}, traits={traits!r}, units={self.outcome.n_units}, "
                f"verdicts={{{self._counts()}}}, run_dir={str(self.run_dir)!r})")

    def _repr_html_(self) -> str:
        model = (self._results.get("model") or {}).get("spec")
        head = (f"<p><b>steerid audit</b> of <code>{escape(str(model))}</code> — {self.outcome.n_units} units; "
                f"{escape(self._counts())}; report: <code>{escape(str(self.report_path))}</code></p>")
        return head + self.summary().to_html(index=False, na_rep="—", float_format=lambda x: f"{x:.3g}")


class CellError(KeyError):
    """No summary row, or several, match the cell asked for (the message says which argument to add)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0]) if self.args else ""


def _same(stored: Any, asked: Any) -> bool:
    """Cell field equality; strengths compare as numbers (0.5 asked matches 0.5 stored)."""
    if isinstance(stored, float) and isinstance(asked, (int, float)) and not isinstance(asked, bool):
        return math.isclose(stored, float(asked), rel_tol=1e-9, abs_tol=1e-12)
    return stored == asked


def _cell(row: Mapping[str, Any]) -> Cell:
    return Cell(row["trait"], row["route"], row["sign"], row["layer"], row["method"], row["alpha_rel"],
                row["environment"], row["rho"])


def _loaded(model: Any, tokenizer: Any) -> Any:
    """``None`` for a spec string; otherwise the :class:`LoadedModel` to audit."""
    if isinstance(model, str):
        if tokenizer is not None:
            raise ConfigError("a tokenizer was given with a model spec string",
                              "pass either a spec such as 'smollm2-135m', or a loaded model and its tokenizer")
        return None
    from steerid.models.loader import LoadedModel, wrap_model  # the model stack (~5 s), only for loaded models

    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, tuple):
        raise ConfigError("the model was given as a tuple", "pass the model and its tokenizer as two arguments: "
                          "steerid.audit(model, tokenizer, ...)")
    if tokenizer is None:
        raise ConfigError(f"a loaded {type(model).__name__} needs its tokenizer",
                          "pass it as the second argument: steerid.audit(model, tokenizer, ...)")
    return wrap_model(model, tokenizer)


def _overrides(config: Any) -> tuple[str | Path | None, dict[str, Any]]:
    if config is None:
        return None, {}
    if isinstance(config, (str, Path)):
        return config, {}
    if isinstance(config, Mapping):
        return None, dict(config)
    raise ConfigError(f"config must be a YAML path, a mapping of config keys or an AuditConfig, "
                      f"got {type(config).__name__}", "e.g. config={'n_draws': 4}")


def audit(model: Any, tokenizer: Any = None, *, traits: str | Sequence[str] | None = None,
          vector: str | Path | None = None, profile: str = "quick",
          out: str | Path | None = None, config: str | Path | Mapping[str, Any] | AuditConfig | None = None,
          device: str = "auto", executor: str = "local", ray_address: str | None = None,
          force: bool = False, quiet: bool = True, render: bool = True, scorer: str | None = None,
          label_map: str | Mapping[str, int] | None = None,
          export_class: str | Path | None = None) -> AuditResult:
    """Audit a model's steering vectors (or one given vector) and return an :class:`AuditResult`.

    Args:
        model: a spec string, a :class:`~steerid.models.LoadedModel`, or a Hugging Face model
            (then ``tokenizer`` is required).
        tokenizer: the Hugging Face tokenizer of a loaded ``model`` (its pad token / padding side
            are set in place, as :func:`steerid.models.load_model` does).
        traits: ``"all"``, one trait name, a list of names, or ``"a,b"``; default: the profile's.
            A trait directory (``"examples/traits/enthusiasm"``) may stand in for a name.
            With ``vector``: the trait whose prompts and scorers to use (default: the vector's).
        vector: a saved ``.safetensors`` steering vector to audit instead of extracting
            (``steerid identify``); runs the experiments ``likelihood, e1, e4, e6`` unless
            ``config`` (file or mapping) names others.
        profile: ``smoke``, ``quick`` (default) or ``paper``.
        out: run directory (created; the same call again resumes it). Default: a new
            temporary directory (see ``result.run_dir``).
        config: a YAML file overriding the profile, a mapping of config keys (the same keys),
            or a complete :class:`~steerid.audit.config.AuditConfig` (then ``profile``, ``traits``
            and ``vector`` come from it).
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``; ignored for a loaded model.
        executor / ray_address / force / quiet / render: as for ``steerid audit``.
        scorer / label_map: as ``--scorer`` / ``--label-map``: ``"hf:PATH"`` with
            ``"pos=LABEL_1,neg=LABEL_0"`` (or ``{label: 1 | 0}``), or a registered scorer name;
            default: the built-in scorer, or a head auto-trained on a trait directory's texts.
        export_class: also write the equivalence class of every trait here (as ``--export-class``:
            exact-Fisher null-space bases and every confirmed equivalent vector,
            :func:`steerid.audit.export_class.export_class`).

    Raises:
        ConfigError, OutputError, ModelError, VectorError, DataError: one-line user errors
        (subclasses of :class:`~steerid.errors.SteerIdError`).
    """
    if vector is not None and not Path(vector).expanduser().is_file():
        raise VectorError(f"vector file '{vector}' does not exist", "check the vector= path")
    lm = _loaded(model, tokenizer)
    names = parse_traits(traits if isinstance(traits, str) or traits is None else ",".join(traits), where="traits=")
    if isinstance(config, AuditConfig):
        if traits is not None or vector is not None or scorer is not None or label_map is not None:
            raise ConfigError("traits=, vector=, scorer= and label_map= cannot be combined with a complete AuditConfig",
                              "set traits / vector in the AuditConfig, or pass config as a mapping of overrides")
        cfg = config if lm is not None else config.model_copy(update={"model": model})
    else:
        config_file, extra = _overrides(config)
        overrides: dict[str, Any] = {"model": model if lm is None else lm.info.spec, **extra}
        if scorer is not None or label_map is not None:
            overrides.update(scorer=scorer, label_map=label_map)
        if vector is not None:
            if isinstance(names, list) and len(names) != 1:
                raise ConfigError("with vector=, give at most one trait", "e.g. traits='sentiment'")
            overrides.update(vector=str(vector), vector_trait=names[0] if isinstance(names, list) else None)
            overrides["experiments"] = identify_experiments(config_file, extra.get("experiments"))
        elif names is not None:
            overrides["traits"] = names
        sources = {"model": "the model argument", "traits": "traits=", "scorer": "scorer=", "label_map": "label_map=",
                   "vector": "vector=", "vector_trait": "traits=", "experiments": "vector= (identify experiments)",
                   **{key: "the config= dict" for key in extra}}
        cfg = build_config(profile, config_file, overrides, sources=sources)
    # a fresh name, not a created directory: run_audit removes a directory it created when it fails
    run_dir = Path(out) if out is not None else Path(tempfile.gettempdir()) / f"steerid-audit-{uuid.uuid4().hex[:12]}"
    outcome = run_audit(cfg, run_dir, executor=executor, ray_address=ray_address, force=force, quiet=quiet,
                        render=render, device=device if lm is None else lm.info.device, lm=lm)
    if export_class is not None:
        from steerid.audit.export_class import export_class as write_class

        write_class(run_dir, export_class, lm=lm)
    return AuditResult(outcome)
