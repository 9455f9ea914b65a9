r"""Counter-based, batch-independent sampling of next tokens (common random numbers).

A token is drawn by the Gumbel-max trick over a candidate set C_b (the top-k tokens of row b,
optionally cut to the nucleus of mass top-p):

    y_b = argmax_{v ∈ C_b} ( ℓ_b[v] / T + g(s_b, t, v) ),   g = −log(−log u),

which is an exact draw from softmax(ℓ_b / T) restricted (renormalised) to C_b. The uniform
u = U(s_b, t, v) is a *hash* of the row's prompt seed s_b, the decode step t and the token id v
(murmur3's 64-bit finaliser over s·K₁ + t·K₂ + v), so

* a row's random stream depends only on (its prompt seed, the step) — never on which other rows
  share the batch, on row order, or on rows dropped when they finish;
* every condition of one prompt sees the *same* noise for the same token at the same step (common
  random numbers): two conditions pick different tokens only where their logits differ enough
  to change the argmax;
* all rows are drawn in one vectorised call (no per-row generator).

``top_k = 0`` with ``top_p = 1`` means the whole vocabulary; hashing B × V entries per step
would cost as much as the decode step itself, so that case draws by the inverse CDF instead:

    y_b = min{ v : Σ_{w ≤ v} p_b[w] > u_b },   u_b = U(s_b, t, −1),

one hashed uniform per row and step (exact, still keyed by prompt seed and step, so still common
random numbers; conditions then share u_b rather than per-token noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steerid.errors import DataError

_K_SEED = 0x9E3779B97F4A7C15 - (1 << 64)  # golden-ratio constants as signed int64
_K_STEP = 0xC2B2AE3D27D4EB4F - (1 << 64)
_M1 = 0xFF51AFD7ED558CCD - (1 << 64)
_M2 = 0xC4CEB9FE1A85EC53 - (1 << 64)


def _shr(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 (torch's ``>>`` is arithmetic)."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def _signed(value: int) -> int:
    """``value`` modulo 2⁶⁴ as a signed 64-bit integer."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def hash_uniform(seeds: torch.Tensor, step: int, tokens: torch.Tensor) -> torch.Tensor:
    """U(0, 1) in float64 for each (row seed, step, token id); ``seeds`` (B,), ``tokens`` (B, K).

    Integer products wrap modulo 2⁶⁴ (two's complement), which is all the hash needs.
    """
    step_term = _signed(int(step) * _K_STEP)
    seeds = seeds.to(device=tokens.device, dtype=torch.int64)  # the candidates may live on a GPU, the seeds on the CPU
    x = seeds[:, None] * torch.tensor(_K_SEED) + step_term + tokens.to(torch.int64)
    x = x ^ _shr(x, 33)
    x = x * torch.tensor(_M1)
    x = x ^ _shr(x, 33)
    x = x * torch.tensor(_M2)
    x = x ^ _shr(x, 33)
    return (_shr(x, 11).to(torch.float64) + 0.5) / float(1 << 53)


@dataclass(frozen=True)
class Sampling:
    """How next tokens are chosen: greedy, or seeded sampling with temperature / top-k / top-p."""

    greedy: bool = True
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if not self.greedy and self.temperature <= 0:
            raise DataError(f"temperature must be > 0, got {self.temperature}", "use greedy decoding for temperature 0")
        if not 0 < self.top_p <= 1:
            raise DataError(f"top_p must be in (0, 1], got {self.top_p}", "pass a value such as 0.9")
        if self.top_k < 0:
            raise DataError(f"top_k must be ≥ 0, got {self.top_k}", "pass 0 for the whole vocabulary or e.g. 50")

    def describe(self) -> dict[str, object]:
        """Settings for provenance."""
        if self.greedy:
            return {"greedy": True}
        return {"greedy": False, "temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p,
                "noise": "gumbel-max, murmur3-hash(seed, step, token)"}


def candidates(logits: torch.Tensor, top_k: int, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate token ids (B, K) and their scaled logits, −inf where cut by the nucleus.

    With top-p, a token is kept while the probability mass of the tokens strictly more likely
    than it is below top_p (so the most likely token is always kept), as in HF's TopPLogitsWarper.
    """
    vocab = logits.shape[-1]
    k = vocab if top_k == 0 or top_k >= vocab else top_k
    if k == vocab and top_p >= 1.0:
        ids = torch.arange(vocab, device=logits.device).expand(logits.shape[0], -1)
        return ids, logits
    values, ids = torch.topk(logits, k, dim=-1, sorted=True)
    if top_p < 1.0:
        probs = torch.softmax(values, dim=-1)
        before = probs.cumsum(-1) - probs
        values = values.masked_fill(before >= top_p, float("-inf"))
    return ids, values


def sample_next(logits: torch.Tensor, sampling: Sampling, seeds: torch.Tensor | None, step: int) -> torch.Tensor:
    """Next token per row from ``(B, V)`` logits (float32 is used whatever the model dtype)."""
    logits = logits.float()
    if sampling.greedy:
        return logits.argmax(-1)
    if seeds is None:
        raise DataError("sampling needs one seed per row", "pass seeds of the same length as the rows")
    scaled = logits / sampling.temperature
    if (sampling.top_k == 0 or sampling.top_k >= logits.shape[-1]) and sampling.top_p >= 1.0:
        u = hash_uniform(seeds, step, torch.full((seeds.shape[0], 1), -1, dtype=torch.int64)).to(scaled.device)
        cdf = torch.softmax(scaled, dim=-1).double().cumsum(-1)
        cdf = cdf / cdf[:, -1:]  # exact renormalisation against rounding
        index = torch.searchsorted(cdf, u.to(cdf.dtype), right=True)
        return index.clamp(max=logits.shape[-1] - 1).squeeze(-1)
    ids, values = candidates(scaled, sampling.top_k, sampling.top_p)
    u = hash_uniform(seeds, step, ids).clamp(1e-300, 1 - 1e-16)
    noisy = values.double() - torch.log(-torch.log(u))
    return ids.gather(-1, noisy.argmax(-1, keepdim=True)).squeeze(-1)
