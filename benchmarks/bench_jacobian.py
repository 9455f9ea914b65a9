"""Exact top-k Fisher spectrum (Lanczos on autograd products) vs a finite-difference probe sketch.

On SmolLM2-135M at ``in:15`` (default) and a few prompts, the output Fisher
F̄ = mean Jᵀ(diag p − ppᵀ)J over the last positions of each prompt is computed two ways:

- exact: :class:`steerid.experiments.fisher.SiteLinearization` (prefix KV cache, one re-run
  token per point, double-backward Jacobian-vector products) and Lanczos (``eigsh``) for the
  top k eigenpairs;
- finite differences (the probe approach): KL at ±ε along m random Gaussian probes gives
  qᵢ ≈ gᵢᵀF̄gᵢ; F̂ is sketched from the qᵢ (min-norm least squares, and the unbiased moment
  estimator), then eigen-decomposed.

Reported: wall times and their ratio, the accuracy of single FD quadratic forms against exact
ones (so the step ε is in the quadratic regime), and the error of the FD sketch against the
exact spectrum (relative error of the top eigenvalues, principal angles between top subspaces).
Both wall and process CPU seconds are reported: on a shared machine the CPU ratio is the steadier
one. Both paths share the same prefix KV caches (so FD is timed at its cheapest: one re-run token
per point and probe side).

Usage:
    python benchmarks/bench_jacobian.py [--quick] [--out results.json] [--probes 1000] [--k 16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
import torch

from steerid.capture import median_token_norm
from steerid.experiments.fisher import (
    PointSet,
    SiteLinearization,
    finite_difference_quadratic_forms,
    sketch_from_quadratic_forms,
    spectrum,
    subspace_angles_deg,
)
from steerid.io import atomic_write_text
from steerid.models import Site, load_model

PROMPTS = [
    "The weather this morning was cold and grey, so we stayed inside and read books by the window.",
    "Please explain in simple words how a refrigerator keeps food cold for a long time.",
    "My favourite part of the trip was the small market where people sold fresh bread and cheese.",
    "Write a short note to a colleague thanking them for their help with the project last week.",
]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--layer", type=int, default=15)
    parser.add_argument("--prompts", type=int, default=4, help="number of built-in prompts (≤ 4)")
    parser.add_argument("--positions", type=int, default=4, help="last positions per prompt")
    parser.add_argument("--k", type=int, default=16, help="top eigenpairs by Lanczos")
    parser.add_argument("--probes", type=int, default=1000, help="finite-difference probes")
    parser.add_argument("--eps-rel", type=float, default=0.01, help="FD step relative to the median token norm")
    parser.add_argument("--checks", type=int, default=8, help="probes compared with exact quadratic forms")
    parser.add_argument("--threads", type=int, default=max(1, min(2, os.cpu_count() or 1)),
                        help="torch threads (on an oversubscribed machine 1 is much faster)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="100 probes, k = 8")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.probes, args.k = min(args.probes, 100), min(args.k, 8)
    return args


def main(argv: list[str] | None = None) -> dict:
    args = _parse(argv)
    torch.set_num_threads(args.threads)
    lm = load_model(args.model)
    site = Site(args.layer)
    prompts = PROMPTS[: args.prompts]
    norm = median_token_norm(lm, prompts, site)
    eps = args.eps_rel * norm

    # exact: build (prefix caches + retained graphs) and Lanczos
    t0, c0 = time.perf_counter(), time.process_time()
    points = PointSet(lm, site, prompts, positions=args.positions)
    t_prefix, c_prefix = time.perf_counter() - t0, time.process_time() - c0
    t1, c1 = time.perf_counter(), time.process_time()
    lin = SiteLinearization(points)
    spec = spectrum(lin, method="lanczos", k=args.k, seed=args.seed, lanczos_tol=1e-6)
    t_exact = t_prefix + time.perf_counter() - t1
    c_exact = c_prefix + time.process_time() - c1

    # finite differences: m probes, ± steps (the prefix caches are shared with the exact path)
    rng = np.random.default_rng(args.seed)
    probes = rng.standard_normal((args.probes, lm.info.hidden_size))
    t2, c2 = time.perf_counter(), time.process_time()
    q = finite_difference_quadratic_forms(points, probes, eps)
    t_fd_forward, c_fd_forward = time.perf_counter() - t2, time.process_time() - c2
    sketches = {}
    for estimator in ("minnorm", "moments"):
        t3, c3 = time.perf_counter(), time.process_time()
        matrix = sketch_from_quadratic_forms(probes, q, estimator)
        vals, vecs = np.linalg.eigh(matrix)
        order = np.argsort(vals)[::-1]
        sketches[estimator] = (vals[order], vecs[:, order], time.perf_counter() - t3, time.process_time() - c3)
    t_fd = t_prefix + t_fd_forward + sketches["minnorm"][2]
    c_fd = c_prefix + c_fd_forward + sketches["minnorm"][3]

    # single quadratic forms: FD vs exact (is ε in the quadratic regime?)
    check = probes[: args.checks]
    exact_q = np.array([g @ lin.product(g) for g in check])
    q_rel = np.abs(q[: args.checks] / exact_q - 1)

    k = spec.k
    rows = []
    for estimator, (vals, vecs, secs, _) in sketches.items():
        rel = np.abs(vals[:k] / spec.eigenvalues - 1)
        rows.append({
            "estimator": estimator,
            "top1_rel_error": float(rel[0]),
            "topk_median_rel_error": float(np.median(rel)),
            "angle_top1_deg": float(subspace_angles_deg(vecs[:, :1], spec.eigenvectors[:, :1])[-1]),
            "angle_top5_max_deg": float(subspace_angles_deg(vecs[:, :5], spec.eigenvectors[:, :5])[-1]),
            "eigenvalues_top5": vals[:5].tolist(),
            "sketch_seconds": secs,
        })
    result = {
        "model": lm.info.name, "site": str(site), "d": lm.info.hidden_size, "n_prompts": len(prompts),
        "n_points": points.n_points, "median_token_norm": norm, "eps": eps, "k": k, "n_probes": args.probes,
        "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
        "load_average": os.getloadavg()[0],
        "exact": {"seconds": t_exact, "cpu_seconds": c_exact, "prefix_seconds": t_prefix,
                  "lanczos_seconds": spec.seconds, "n_products": spec.n_products,
                  "eigenvalues": spec.eigenvalues.tolist(),
                  "null_space": [n.to_dict() for n in spec.null_space], "note": spec.note},
        "finite_difference": {"seconds": t_fd, "cpu_seconds": c_fd, "forward_seconds": t_fd_forward, "n_rows": 2 * args.probes * points.n_points,
                              "trace_estimate": float(q.mean()), "quadratic_form_rel_error_median": float(np.median(q_rel)),
                              "quadratic_form_rel_error_max": float(q_rel.max()), "sketches": rows},
        "time_ratio_fd_over_exact": t_fd / t_exact,
        "cpu_ratio_fd_over_exact": c_fd / c_exact,
    }
    _print(result)
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=2))
    return result


def _print(r: dict) -> None:
    ex, fd = r["exact"], r["finite_difference"]
    print(f"{r['model']} {r['site']}  d={r['d']}  points={r['n_points']} ({r['n_prompts']} prompts)  "
          f"threads={r['threads']}  load={r['load_average']:.1f}")
    print(f"{'method':<34}{'wall s':>10}{'cpu s':>10}{'passes':>12}")
    print(f"{'exact Lanczos top-' + str(r['k']):<34}{ex['seconds']:>10.2f}{ex['cpu_seconds']:>10.2f}"
          f"{ex['n_products']:>12} FVPs")
    print(f"{'finite differences, ' + str(r['n_probes']) + ' probes':<34}{fd['seconds']:>10.2f}{fd['cpu_seconds']:>10.2f}"
          f"{fd['n_rows']:>12} rows")
    print(f"ratio FD / exact: wall {r['time_ratio_fd_over_exact']:.1f}×, cpu {r['cpu_ratio_fd_over_exact']:.1f}×")
    print(f"FD quadratic forms vs exact (ε = {r['eps']:.3g}): median rel error {fd['quadratic_form_rel_error_median']:.2e}, "
          f"max {fd['quadratic_form_rel_error_max']:.2e}")
    print(f"exact top eigenvalues: {np.array2string(np.array(ex['eigenvalues'][:5]), precision=4)}")
    print(f"{'FD sketch':<12}{'λ1 rel err':>12}{'median top-k':>14}{'∠ top-1':>10}{'∠ top-5 max':>13}")
    for s in fd["sketches"]:
        print(f"{s['estimator']:<12}{s['top1_rel_error']:>12.3f}{s['topk_median_rel_error']:>14.3f}"
              f"{s['angle_top1_deg']:>10.1f}{s['angle_top5_max_deg']:>13.1f}")
    for n in ex["null_space"]:
        print(f"null space τ={n['tolerance']:g}: {n['dimension']} ({n['kind']})")


if __name__ == "__main__":
    main(sys.argv[1:])
