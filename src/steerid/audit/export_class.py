r"""Hand the equivalence class to the user: null-space bases and confirmed equivalent vectors per trait.

For a finished run (its ``results.json``), ``export_class(run, DIR)`` writes one sub-folder per
trait:

- ``nullspace.safetensors``: for the unsteered point and each audited sign s at the steered point
  (activations + s·α·v at every position), the eigenvalues of the exact output Fisher F̄
  (:mod:`steerid.experiments.fisher.exact`) and, per tolerance τ, an orthonormal basis of the
  eigenvectors with λ < τ·λ_max (tensor ``basis/<point>/tau=<τ>``, d × k); its metadata records the
  tolerances, the points (prompts, positions, continuation), the truncation bound β and the
  provenance of v;
- ``equivalent-<k>.safetensors``: every confirmed equivalent vector as a
  :class:`~steerid.vector.SteeringVector`: the displacement Δ = s·α·m·v̂ + v⊥ of each likelihood /
  E1 draw whose TOST against s·α·m·v̂ passed after Holm's correction over all the unit's draws
  (``equivalent_holm``; Δ is rebuilt from the unit's seed exactly as the unit drew it), and the
  farthest-vector search's u when its verdict is ``found`` (confirmed on held-out items with the
  search's own correction). Its norm is ‖Δ‖ and its direction Δ/‖Δ‖, so steering it at relative
  strength ``alpha_rel_to_steer`` = ‖Δ‖ / m (recorded; m the audit's median token norm) or at
  absolute strength ‖Δ‖ adds exactly Δ; the provenance's ``extra`` records v's content hash, the sign, v's
  audited strength, ρ, the unit, the test and its adjusted p-value and family size;
- ``class.json``: an index of the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from steerid.errors import DataError, OutputError
from steerid.io import atomic_write_text, atomic_write_with
from steerid.provenance import Provenance
from steerid.vector import SteeringVector

DEFAULT_TOLERANCES = (1e-2, 1e-3, 1e-4)


def _load_results(run: Path) -> dict[str, Any]:
    path = run / "results.json" if run.is_dir() else run
    if not path.is_file():
        raise OutputError(f"no results.json at '{run}'", "pass the --out directory of a finished audit")
    return json.loads(path.read_text(encoding="utf-8"))


def _draws(unit: dict[str, Any], vector, token_norm: float) -> list[dict[str, Any]]:
    """The unit's Holm-confirmed draws, each rebuilt as its displacement Δ (same seed, same order)."""
    from steerid.experiments.conditions import e1_conditions

    result = unit.get("result") or {}
    config = result.get("config") or {}
    families = result.get("families") or []
    confirmed = {d["condition"]: (f, d) for f in families for d in f.get("draws", []) if d.get("equivalent_holm")}
    if not confirmed:
        return []
    scale = float(config["alpha_rel"]) * token_norm
    conditions = e1_conditions(vector.direction, scale, rhos=config["rhos"], n_draws=config["n_draws"],
                               signs=config["signs"], seed=unit["seed"])
    n_tests = sum(len(f.get("draws", [])) for f in families)
    out = []
    for c in conditions:
        if c.name in confirmed:
            family, draw = confirmed[c.name]
            out.append({"delta": c.delta, "sign": c.sign, "rho": c.rho, "source": f"{unit['experiment']} draw",
                        "condition": c.name, "p_adjusted": draw["tost"].get("p_tost_holm"),
                        "correction": "holm", "family_size": n_tests})
    return out


def _farthest(unit: dict[str, Any]) -> list[dict[str, Any]]:
    found = ((unit.get("result") or {}).get("farthest_equivalent") or {})
    if found.get("verdict") != "found" or not found.get("u"):
        return []
    confirm = found.get("confirm") or {}
    return [{"delta": np.asarray(found["u"], dtype=np.float64), "sign": 1, "rho": None, "source": "farthest search",
             "condition": "farthest", "cosine": found.get("cosine"), "p_adjusted": confirm.get("p_adjusted"),
             "correction": found.get("correction"), "family_size": confirm.get("family_size")}]


def _null_bases(lm, site, vector, prompts: list[str], alpha_rel: float, signs, tolerances, positions: int,
                max_new_tokens: int, seed: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from steerid.engine.batching import encode
    from steerid.engine.generation import generate
    from steerid.experiments.fisher import PointSet
    from steerid.experiments.fisher.exact import exact_fisher

    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    token_ids = encode(lm, prompts)
    for sign in (0, *signs):
        label = "unsteered" if sign == 0 else f"{'+' if sign > 0 else '-'}{alpha_rel:g}v"
        base = None if sign == 0 else sign * alpha_rel * vector["token_norm"] * vector["v"].direction
        gen = generate(lm, prompts, site=site if base is not None else None, deltas=base,
                       max_new_tokens=max_new_tokens, greedy=True)
        seqs = [row + cont for row, cont in zip(token_ids, gen.tokens, strict=True)]
        exact = exact_fisher(PointSet(lm, site, seqs, positions=positions, base=base), seed=seed,
                             operating_point=label)
        vals, vecs = exact.eigh()
        tensors[f"eigenvalues/{label}"] = torch.from_numpy(vals.copy())
        dims = {}
        for tol in tolerances:
            keep = vals < tol * vals[0]
            tensors[f"basis/{label}/tau={tol:g}"] = torch.from_numpy(np.ascontiguousarray(vecs[:, keep]))
            dims[f"{tol:g}"] = int(keep.sum())
        meta[label] = {"null_dim": dims, "n_points": exact.n_points, "bound": exact.bound,
                       "bound_over_max": exact.bound_over_max, "tail_mass_max": exact.tail_mass_max,
                       "sign": sign, "alpha_rel": alpha_rel if sign else 0.0}
    return tensors, meta


def equivalent_vector(v: SteeringVector, delta: np.ndarray, *, sign: int, alpha_rel: float, token_norm: float,
                      unit: str = "", test: dict[str, Any] | None = None) -> SteeringVector:
    """Δ (a displacement equivalent to sign·α_rel·token_norm·v̂) as a SteeringVector of norm ‖Δ‖.

    Steering it at absolute strength ‖Δ‖ (or relative ‖Δ‖ / token_norm) adds exactly Δ. Its provenance
    is v's with ``method="equivalent"`` and ``extra["equivalence"]`` recording v's content hash,
    the sign and audited strength it was confirmed at, the unit and the test.
    """
    prov = v.provenance.to_dict()
    extra = {"equivalent_to": {"v_content_hash": v.content_hash(), "sign": int(sign), "alpha_rel": float(alpha_rel),
                               "token_norm": float(token_norm)},
             "alpha_rel_to_steer": float(np.linalg.norm(delta) / token_norm), "unit": unit, "test": test or {}}
    prov.update(method="equivalent", extra={**(prov.get("extra") or {}), "equivalence": json.loads(
        json.dumps(extra, default=float))})
    return SteeringVector.from_array(np.asarray(delta, dtype=np.float64), Provenance.from_dict(prov))


def export_class(run: str | Path, out: str | Path, *, lm=None, tolerances=DEFAULT_TOLERANCES, fisher_prompts: int = 16,
                 positions: int = 8, max_new_tokens: int = 16) -> dict[str, Any]:
    """Write the equivalence class of every trait of a finished run under ``out`` (module docstring).

    Args:
        run: the run directory (or its results.json).
        out: destination; one sub-folder per trait.
        lm: the loaded model (default: loaded from the run's model spec, float32).
        tolerances: relative Fisher tolerances of the exported null-space bases.
        fisher_prompts / positions / max_new_tokens: the Fisher points: the first prompts of the
            trait's evaluation set, each with its greedy continuation, the last ``positions`` tokens.
    Returns the index written to ``class.json``.
    """
    from steerid.audit.grid import unit_seed
    from steerid.models import Site, load_model
    from steerid.traits.formatting import format_chat
    from steerid.traits.loader import load_trait

    run, out = Path(run), Path(out)
    results = _load_results(run)
    run_dir = run if run.is_dir() else run.parent
    if lm is None:
        lm = load_model(results["model"]["spec"], dtype="float32")
    config = results["config"]
    units = [u for u in results.get("units", []) if u.get("status") == "ok" or u.get("error") is None]
    by_trait: dict[str, list[dict[str, Any]]] = {}
    for u in units:
        if u.get("vector") and u.get("result") is not None:
            by_trait.setdefault(u["trait"], []).append(u)
    if not by_trait:
        raise DataError(f"the run at '{run}' has no finished unit with a vector", "run an audit first")
    index: dict[str, Any] = {"run": str(run_dir), "traits": {}}
    for trait, trait_units in by_trait.items():
        first = trait_units[0]
        file = first["vector"].get("file")
        vector_path = run_dir / file if file else Path(config.get("vector") or "")
        if not vector_path.is_file():
            raise OutputError(f"the vector of trait '{trait}' is not at '{vector_path}'",
                              "export from the run directory the audit wrote, with the vector file in place")
        vector = SteeringVector.load(vector_path)
        site = Site.parse(first["vector"]["site"])
        folder = out / trait
        folder.mkdir(parents=True, exist_ok=True)
        alpha_rel = float(first["alpha_rel"])
        source = ((results.get("traits") or {}).get(trait) or {}).get("source", trait)
        texts = [item.prompt for item in load_trait(source).eval[:fisher_prompts]]
        prompts = [format_chat(lm.tokenizer, t) for t in texts] if lm.tokenizer.chat_template else texts
        tensors, meta = _null_bases(lm, site, {"v": vector, "token_norm": float(first["token_norm"])}, prompts,
                                    alpha_rel, tuple(config.get("signs", (1, -1))), tolerances, positions,
                                    max_new_tokens, int(config.get("seed", 0)))
        header = {"format": "steerid-nullspace", "trait": trait, "site": str(site), "alpha_rel": repr(alpha_rel),
                  "tolerances": json.dumps(list(tolerances)), "points": json.dumps(meta),
                  "fisher": json.dumps({"prompts": len(prompts), "positions": positions,
                                        "continuation_tokens": max_new_tokens}),
                  "v_content_hash": vector.content_hash(),
                  "v_provenance": json.dumps(vector.provenance.to_dict(), sort_keys=True)}
        atomic_write_with(folder / "nullspace.safetensors",
                          lambda tmp, t=tensors, h=header: save_file({k: v.contiguous() for k, v in t.items()}, str(tmp),
                                                                     metadata=h))
        written = []
        for u in trait_units:
            if u["experiment"] not in ("likelihood", "e1"):
                continue
            u = {**u, "seed": unit_seed(int(config.get("seed", 0)), u["unit_id"])}
            for found in [*_draws(u, vector, float(u["token_norm"])), *_farthest(u)]:
                delta = found.pop("delta")
                equivalent = equivalent_vector(vector, delta, sign=int(found["sign"]), alpha_rel=float(u["alpha_rel"]),
                                               token_norm=float(u["token_norm"]), unit=u["unit_id"], test=found)
                path = folder / f"equivalent-{len(written)}.safetensors"
                equivalent.save(path)
                written.append({"file": path.name, "cosine_to_v": float(equivalent.direction @ vector.direction),
                                "alpha_rel_to_steer": equivalent.norm / float(u["token_norm"]), **found})
        index["traits"][trait] = {"nullspace": "nullspace.safetensors", "points": meta, "equivalent": written}
        atomic_write_text(folder / "class.json", json.dumps(index["traits"][trait], indent=2, default=float))
    return index
