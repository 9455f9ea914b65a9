"""The exact output Fisher (top-token rows, full spectrum) vs today's route (Lanczos on double-backward products).

Same points for both arms: the first 16 evaluation prompts of the trait (chat-formatted) each
followed by its greedy 16-token continuation, the last 8 positions of each (128 points; ``--quick``
4 prompts × 4 positions), at SmolLM2-135M ``in:15``, unsteered.

- exact: :func:`steerid.experiments.fisher.exact.exact_fisher` (top tokens up to a left-out mass
  of 1e-3, at most 256 per point, the Lanczos bound on ‖∂ĥ/∂δ‖ included) and ``eigh``: all 576
  eigenvalues with the truncation bound β (0 ⪯ F̄ − F̄_S ⪯ β·I);
- today: :class:`~steerid.experiments.fisher.SiteLinearization` (retained double-backward graphs)
  and ``eigsh`` for the top 32 eigenpairs — what E6 and the farthest-vector search ran.

Reported: the ratio today / exact of wall and process-CPU seconds (one run each, exact first; the
arms are minutes long, so they are not interleaved: the load averages at both ends are recorded),
whether the exact full spectrum met the goal (≤ 60 s), and the agreement of the top 32
eigenvalues: max |λ_k(exact) − λ_k(Lanczos)| / λ_max against max(1e-4, β/λ_max).
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks.common import SITE, Row, eval_prompts, model
from steerid.engine.batching import encode
from steerid.engine.generation import generate
from steerid.experiments.fisher import PointSet, SiteLinearization, spectrum
from steerid.experiments.fisher.exact import exact_fisher

GOAL_SECONDS = 60.0


def _points(quick: bool) -> PointSet:
    lm = model()
    n_prompts, positions = (4, 4) if quick else (16, 8)
    prompts = list(eval_prompts(n_prompts))
    ids = encode(lm, prompts)
    gen = generate(lm, prompts, max_new_tokens=16, greedy=True, batch_size=16)
    sequences = [row + cont for row, cont in zip(ids, gen.tokens, strict=True)]
    return PointSet(lm, SITE, sequences, positions=positions, batch_size=32)


def run(quick: bool = False) -> dict:
    points = _points(quick)
    load = [os.getloadavg()[0]]
    t0, c0 = time.perf_counter(), time.process_time()
    exact = exact_fisher(points, tail=1e-3, max_tokens=256)
    vals = exact.eigh()[0]
    t_exact, c_exact = time.perf_counter() - t0, time.process_time() - c0
    load.append(os.getloadavg()[0])
    t1, c1 = time.perf_counter(), time.process_time()
    lin = SiteLinearization(points)
    k = 8 if quick else 32
    today = spectrum(lin, method="lanczos", k=k, seed=0)
    t_today, c_today = time.perf_counter() - t1, time.process_time() - c1
    load.append(os.getloadavg()[0])
    lam = vals[0]
    diff = float(np.abs(vals[:k] - today.eigenvalues).max() / lam)
    allowed = max(1e-4, exact.bound_over_max)
    note = (f"{points.n_points} points; exact: tokens/point mean {exact.tokens_mean:.0f} (max {exact.tokens_max}), "
            f"left-out mass ≤ {exact.tail_mass_max:.2g}, β/λ_max = {exact.bound_over_max:.2g}; today: {today.n_products} "
            f"FVPs; load {' → '.join(f'{x:.1f}' for x in load)}")
    rows = [
        Row("fisher_exact", f"wall time, Lanczos top-{k} (today) / exact full spectrum", t_today / t_exact,
            note=note),
        Row("fisher_exact", f"CPU time, Lanczos top-{k} (today) / exact full spectrum", c_today / c_exact, note=note),
        Row("fisher_exact", f"exact full spectrum ({points.n_points} points), wall", t_exact, unit=" s",
            goal=f"≤ {GOAL_SECONDS:g} s on 2 cores", met=bool(t_exact <= GOAL_SECONDS),
            note=f"CPU {c_exact:.1f} s; the load from other processes at its start/end: {load[0]:.1f}/{load[1]:.1f}"),
        Row("fisher_exact", f"max |λ_k exact − λ_k Lanczos| / λ_max, top {k}", diff, unit="",
            goal=f"≤ max(1e-4, β/λ_max) = {allowed:.2g}", met=bool(diff <= allowed)),
    ]
    detail = {"exact": exact.to_dict(), "eigenvalues": vals.tolist(), "today": today.to_dict(),
              "seconds": {"exact": t_exact, "today": t_today}, "cpu_seconds": {"exact": c_exact, "today": c_today},
              "null_space": [n.to_dict() for n in exact.spectrum().null_space], "loadavg": load}
    return {"rows": [r.to_dict() for r in rows], "detail": detail}


if __name__ == "__main__":
    import json
    import sys

    out = run(quick="--quick" in sys.argv)
    for row in out["rows"]:
        print(f"{row['metric']:<60} {row['value']:.4g}{row['unit']}  {row['goal']} {row['met']}  {row['note']}")
    print(json.dumps(out["detail"]["null_space"]))
