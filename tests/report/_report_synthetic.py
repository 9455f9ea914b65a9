"""A results.json of the current schema built from an older one: the per-draw relative test, the
error-controlled decisions, the family claims, the answers' fields and the paper's claims, with
deterministic made-up numbers (the report only reads them; the numbers test the rendering)."""

from __future__ import annotations

import copy
from typing import Any

DECISIONS = ("equivalent", "not equivalent", "undecided")


def upgrade(results: dict[str, Any], *, margin: float = 0.2, level: float = 0.05) -> dict[str, Any]:
    out = copy.deepcopy(results)
    out["schema_version"] = 2
    out["equivalence_plan"] = {"margin": "relative", "margin_rel": margin, "margin_dz": 0.4, "level": level,
                               "correction": "bonferroni", "sequential": True, "first_look": 30,
                               "spending": "obrien-fleming", "effective_correction": "bonferroni"}
    k = 0
    for unit in out["units"]:
        if unit["experiment"] not in ("e1", "likelihood") or unit.get("status", "ok") != "ok":
            continue
        families = unit["result"]["families"]
        size = sum(len(f["draws"]) for f in families)
        for f in families:
            f["steers"] = True
            counts = dict.fromkeys(DECISIONS, 0)
            for d in f["draws"]:
                decision = DECISIONS[k % 3]
                counts[decision] += 1
                centre = {"equivalent": 1.02, "not equivalent": 1.6, "undecided": 0.9}[decision]
                half = {"equivalent": 0.1, "not equivalent": 0.2, "undecided": 0.4}[decision]
                low, high = centre - half, centre + half
                if k % 7 == 6:  # an unbounded Fieller interval (JSON null bounds)
                    low = high = None
                d["relative_tost"] = {"estimate": centre, "ci_low": low, "ci_high": high, "p_lower": 0.001,
                                      "p_upper": 0.002, "p_tost": 0.002, "margin": margin}
                d["decision"] = decision
                d["p_adjusted"] = min(1.0, 0.002 * size)
                d["ci_level"] = 1 - 2 * level / size
                k += 1
            f["claim"] = {"family_size": size, "correction": "bonferroni", "level": level,
                          "n_equivalent": counts["equivalent"], "n_not_equivalent": counts["not equivalent"],
                          "n_undecided": counts["undecided"]}
            f["fraction_equivalent"] = {**(f.get("fraction_equivalent") or {}),
                                        "share": {"estimate": 0.61, "low": 0.32, "high": 0.88}}
            f["steerability"] = {"v": {"fraction_anti": {"estimate": 0.12, "ci_low": 0.05, "ci_high": 0.25,
                                                         "confidence": 0.95}}}
    for a in out["answers"]:
        a.pop("error_statement", None)
        a["kind"] = "not identifiable"
        a["evidence"] = {"condition": "+v+v⊥[ρ=1,#0]", "sign": 1, "rho": 1.0, "draw": 0, "p": 0.0004,
                         "p_adjusted": 0.0064, "method": "bonferroni", "family_size": 16}
        a.update(share=0.61, share_ci=[0.32, 0.88], radius=0.93, farthest_cosine=0.58, power=0.81)
    traits = out["config"]["traits"]
    claims = []
    for cid, text in enumerate(["v + v⊥ reaches 95–100 % of v's efficacy", "with negligible effect sizes",
                                "semantic classifiers agree at the output level", "the equivalence class is large",
                                "this persists across prompt distributions and strengths",
                                "structural constraints restore identifiability"], start=1):
        for trait in traits:
            tested = cid <= 2
            claims.append({"claim_id": cid, "claim": text, "trait": trait, "route": "likelihood",
                           "verdict": "holds" if tested else "not tested",
                           "reason": "every draw within the margin" if tested else "not run",
                           "test": "relative TOST per draw" if tested else None,
                           "effect": 0.97 if tested else None, "ci": [0.91, 1.03] if tested else None,
                           "n": 60 if tested else None, "config_key": None if tested else f"experiments: claim{cid}"})
    out["claims"] = claims
    return out


NEW_DRAW = ("relative_tost", "decision", "p_adjusted", "ci_level", "dz_tost", "margin_kind", "p_try", "p_difference_try",
            "note")
NEW_FAMILY = ("claim", "steerability", "sampler")
NEW_ANSWER = ("evidence", "share", "share_ci", "radius", "farthest_cosine", "power", "error_statement", "family_size",
              "method", "margin", "n_needed", "share_sign")


def downgrade(results: dict[str, Any]) -> dict[str, Any]:
    """The same run as an older steerid wrote it (schema 1): no per-draw relative test or error-controlled
    decision, no claims and no equivalence plan."""
    out = copy.deepcopy(results)
    out["schema_version"] = 1
    for key in ("equivalence_plan", "claims", "non_finite"):
        out.pop(key, None)
    for unit in out["units"]:
        for f in (unit.get("result") or {}).get("families") or []:
            for key in NEW_FAMILY:
                f.pop(key, None)
            for d in f.get("draws") or []:
                for key in NEW_DRAW:
                    d.pop(key, None)
    for a in out["answers"]:
        for key in NEW_ANSWER:
            a.pop(key, None)
    return out
