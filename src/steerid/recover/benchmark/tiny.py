r"""The tiny-transformer part: a planted rank-4 readout subspace R ∋ w at the last residual site.

logits = W_U P_R RMSNorm(h) (applied functionally; the weights are not changed); its exact output
Fisher E[Jᵀ(diag p − ppᵀ)J] (autograd) feeds ``gauge/fisher`` (97 % of tr F), the activation
covariance ``gauge/covariance`` (95 %). Contrastive data: pos = h + s·w + v⊥, v⊥ ∈ R^⊥,
s = ½ × median token norm; the behaviour check reports KL(p(h+v) ‖ p(h+v+δ)) for δ = v⊥, a
same-norm δ inside R ⊥ w, and a δ from the whole complement of v, beside KL(p(h) ‖ p(h+v)).
"""

from __future__ import annotations

import numpy as np
import torch

from steerid.capture import capture
from steerid.errors import ModelError
from steerid.models.loader import LoadedModel, load_model
from steerid.models.site import Site
from steerid.recover._common import unit
from steerid.recover.benchmark.config import BenchmarkConfig
from steerid.recover.benchmark.result import BenchmarkRow
from steerid.recover.benchmark.synthetic import _drift_row
from steerid.recover.benchmark.worlds import Estimate, _complement_direction, _orthonormal
from steerid.recover.gauge import GaugeFix


def _random_texts(rng: np.random.Generator, count: int, length: int = 16) -> list[str]:
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;!?")
    return ["".join(rng.choice(alphabet, size=length)) for _ in range(count)]


class _RestrictedReadout:
    """logits(h) = W_U P_R norm(h) for the final norm and unembedding of a llama-style model."""

    def __init__(self, lm: LoadedModel, range_basis: np.ndarray) -> None:
        inner = getattr(lm.model, "model", None)
        norm = getattr(inner, "norm", None)
        head = lm.model.get_output_embeddings()
        if norm is None or head is None:
            raise ModelError(f"{lm.info.name} has no final norm / unembedding where the benchmark expects them",
                             "run the benchmark on tiny:llama")
        projector = torch.as_tensor(range_basis @ range_basis.T, dtype=torch.float32)
        self.norm = norm
        self.weight = head.weight.detach().to(torch.float32) @ projector

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(self.norm(hidden), self.weight)

    def log_probs(self, hidden: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = torch.log_softmax(self.logits(torch.as_tensor(hidden, dtype=torch.float32)), dim=-1)
        return out.double().numpy()

    def fisher(self, hidden: np.ndarray) -> np.ndarray:
        """E_t[J_tᵀ(diag p_t − p_t p_tᵀ)J_t], J_t = ∂logits/∂h at token t (exact, autograd)."""
        h = torch.as_tensor(hidden, dtype=torch.float32)
        with torch.no_grad():
            jac = torch.func.vmap(torch.func.jacrev(self.logits))(h).double()  # (n, V, d)
            p = torch.softmax(self.logits(h), dim=-1).double()  # (n, V)
        weighted = torch.einsum("nvd,nv,nve->de", jac, p, jac)
        mean_grad = torch.einsum("nvd,nv->nd", jac, p)
        return ((weighted - mean_grad.T @ mean_grad) / h.shape[0]).numpy()


def _kl(logp: np.ndarray, logq: np.ndarray) -> float:
    return float(np.mean(np.sum(np.exp(logp) * (logp - logq), axis=1)))


def _tiny_rows(cfg: BenchmarkConfig, seed: int, lm: LoadedModel | None) -> tuple[list[BenchmarkRow], dict[str, float]]:
    rng = np.random.default_rng(seed + 5)
    model = lm if lm is not None else load_model("tiny:llama")
    d = model.info.hidden_size
    site = Site(model.info.n_layers - 1, "out")
    hidden = capture(model, _random_texts(rng, cfg.tiny_texts), site, pooling="all")[site]
    hidden = hidden[rng.permutation(hidden.shape[0])]
    half = hidden.shape[0] // 2
    fit_tokens, data_tokens = hidden[:half], hidden[half:]
    q = _orthonormal(rng, d)
    rank = 4
    range_basis, null_basis = q[:, :rank], q[:, rank:]
    w = range_basis[:, 0]
    readout = _RestrictedReadout(model, range_basis)
    fisher_gauge = GaugeFix("fisher", variance=0.97).fit(readout.fisher(fit_tokens))
    cov_gauge = GaugeFix("covariance", variance=0.95).fit(np.cov(fit_tokens, rowvar=False))
    token_norm = float(np.median(np.linalg.norm(hidden, axis=1)))
    shift = 0.5 * token_norm
    per_class = data_tokens.shape[0] // 2
    pos_pool, neg_pool = data_tokens[:per_class], data_tokens[per_class : 2 * per_class]
    gauges = {"gauge/fisher": fisher_gauge, "gauge/covariance": cov_gauge}
    part = model.info.spec
    rows: list[BenchmarkRow] = []

    for n in cfg.tiny_n_grid:
        n_use = min(n, per_class)
        pos, neg = pos_pool[:n_use] + shift * w, neg_pool[:n_use]
        delta = pos.mean(axis=0) - neg.mean(axis=0)
        for name, gauge in gauges.items():
            rows.append(BenchmarkRow(part, name, "recovery", n_use, 0.0, 0.0, float(unit(delta) @ w),
                                     float(gauge.transform(delta).direction @ w), note=f"rank {gauge.rank_}"))

    prng = np.random.default_rng(seed + 11)
    behaviour: dict[str, list[float]] = {"kl_v_vs_none": [], "kl_null_perturbation": [],
                                         "kl_range_perturbation": [], "kl_random_perturbation": []}
    v = shift * w
    base_lp = readout.log_probs(data_tokens)
    steered = readout.log_probs(data_tokens + v)
    behaviour["kl_v_vs_none"].append(_kl(base_lp, steered))
    for rho in cfg.rho_grid:
        base_pos, neg = pos_pool + shift * w, neg_pool
        results: dict[str, list[Estimate]] = {name: [] for name in gauges}
        for _ in range(cfg.draws):
            v_perp = rho * shift * (null_basis @ unit(prng.normal(size=null_basis.shape[1])))
            delta = (base_pos + v_perp).mean(axis=0) - neg.mean(axis=0)
            for name, gauge in gauges.items():
                results[name].append((unit(delta), gauge.transform(delta).direction, f"rank {gauge.rank_}"))
            random_perp = rho * shift * _complement_direction(prng, w[:, None])
            range_perp = rho * shift * unit(range_basis[:, 1:] @ prng.normal(size=rank - 1))
            behaviour["kl_range_perturbation"].append(_kl(steered, readout.log_probs(data_tokens + v + range_perp)))
            behaviour["kl_null_perturbation"].append(_kl(steered, readout.log_probs(data_tokens + v + v_perp)))
            behaviour["kl_random_perturbation"].append(_kl(steered, readout.log_probs(data_tokens + v + random_perp)))
        for name in gauges:
            rows.append(_drift_row(part, name, per_class, 0.0, rho, w, results[name]))
    summary = {k: float(np.mean(v)) for k, v in behaviour.items()}
    summary["fisher_rank"] = float(fisher_gauge.rank_)
    summary["covariance_rank"] = float(cov_gauge.rank_)
    summary["planted_rank"] = float(rank)
    return rows, summary
