"""Batched steered generation and teacher-forced continuation log-probabilities.

Common random numbers. Sampling is done by the Gumbel-max trick inside a greedy decode:

    y_t = argmax_v ( ℓ_t[v] / T + g_t[v] ),   g_t[v] = −log(−log u_t[v]),  u ~ U(0, 1)

is an exact draw from softmax(ℓ_t / T). The uniforms u of row b come from a generator seeded
with that row's *prompt* seed, so the same prompt under different steering conditions consumes
the same random stream: conditions differ only through their logits (a paired design), and the
result does not depend on which other rows share the batch.

Two decode paths give these semantics: steerid's own engine (:mod:`steerid.engine.decode`: static KV
cache, shared prefill, finished rows dropped, counter-based noise keyed by (prompt seed, step,
token) from :mod:`steerid.engine.sampling`), used by default for the families it is tested on, and
``model.generate`` with :class:`PerRowGumbelSampler` (per-row seeded generators), the reference
(``engine="hf"``). Greedy tokens of the two are equal; sampled draws follow the same distribution
with different noise.

Only the continuation is returned (tokens after the prompt, cut at end-of-sequence), never the
prompt text, so scorers can never score the prompt.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList

from steerid.engine import decode as engine_module
from steerid.engine.batching import chunks, encode, left_pad, on_device, position_ids_from_mask
from steerid.errors import DataError
from steerid.engine.fork import distinct_rows, expand_cache, first_forked_block, forked, fork_supported, reduce_cache
from steerid.models.loader import LoadedModel
from steerid.models.site import Site
from steerid.engine.prefix import accepts_logits_to_keep, cache_argument, shared_prefix
from steerid.engine.sampling import Sampling
from steerid.engine.steer import Scope, as_deltas, steering
from steerid.validation import check_texts


class PerRowGumbelSampler(LogitsProcessor):
    """Turns greedy decoding into per-row seeded sampling (temperature and nucleus)."""

    def __init__(self, seeds: Sequence[int], temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0) -> None:
        if temperature <= 0:
            raise DataError(f"temperature must be > 0, got {temperature}", "use --greedy for temperature 0")
        if not 0 < top_p <= 1:
            raise DataError(f"top_p must be in (0, 1], got {top_p}", "pass a value such as 0.9")
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        logits = scores.float() / self.temperature
        if 0 < self.top_k < logits.shape[-1]:
            kth = torch.topk(logits, self.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p < 1.0:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            cumulative = sorted_logits.softmax(-1).cumsum(-1)
            drop_sorted = cumulative - sorted_logits.softmax(-1) >= self.top_p
            drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
            logits = logits.masked_fill(drop, float("-inf"))
        vocab = logits.shape[-1]
        uniforms = torch.stack([torch.rand(vocab, generator=g) for g in self.generators])
        uniforms = uniforms.clamp(1e-12, 1 - 1e-7).to(logits.device)
        return logits - torch.log(-torch.log(uniforms))


@dataclass
class Generation:
    """Continuations of a batch of prompts."""

    texts: list[str]
    tokens: list[list[int]]


def _eos_ids(lm: LoadedModel) -> list[int]:
    ids = {lm.tokenizer.eos_token_id}
    configured = getattr(lm.model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return sorted(i for i in ids if i is not None)


def _row_deltas(deltas, n: int, hidden: int) -> torch.Tensor | None:
    if deltas is None:
        return None
    tensor = as_deltas(deltas, hidden)
    if tensor.ndim == 1:
        tensor = tensor.expand(n, -1)
    if tensor.shape[0] != n:
        raise DataError(f"{tensor.shape[0]} steering rows for {n} prompts", "give one row per prompt or a single vector")
    return tensor


def generate(lm: LoadedModel, prompts: Sequence[str], *, site: Site | None = None, deltas=None, scope: Scope = "all",
             max_new_tokens: int = 32, greedy: bool = True, temperature: float = 1.0, top_p: float = 1.0,
             top_k: int = 0, seeds: Sequence[int] | None = None, batch_size: int = 64, add_special_tokens: bool = True,
             engine: str = "auto", dtype: str = "model") -> Generation:
    """Generate continuations, optionally steered with one displacement per prompt.

    Args:
        prompts: fully formatted prompt strings (apply the chat template beforehand).
        site, deltas: steering site and ``(d,)`` or ``(n_prompts, d)`` displacements (α included).
        scope: steering scope (see :mod:`steerid.engine.steer`).
        greedy: argmax decoding; otherwise seeded sampling with ``temperature``/``top_p``.
        top_k: sample among the k most likely tokens (0 = the whole vocabulary).
        seeds: one sampling seed per prompt (common random numbers across conditions).
        batch_size: rows per forward pass.
        engine: ``auto`` (steerid's decode engine where the family is supported, else HF),
            ``steerid`` or ``hf`` (``model.generate``, the reference).
        dtype: ``model`` (the model's own), ``auto`` (bfloat16 where the device computes it
            natively and, on a CPU, the batch has enough rows to gain from it, see
            :func:`steerid.engine.decode.choose_dtype`), ``float32`` or ``bfloat16``; a
            copy of the model in that dtype decodes, the model itself is untouched.
    """
    prompts = check_texts(prompts, "prompts")
    if max_new_tokens < 1:
        raise DataError(f"max_new_tokens must be ≥ 1, got {max_new_tokens}", "pass --max-new-tokens 1 or more")
    if not greedy and (seeds is None or len(seeds) != len(prompts)):
        raise DataError("sampling needs one seed per prompt", "pass seeds=[...] of the same length as prompts")
    rows = _row_deltas(deltas, len(prompts), lm.info.hidden_size)
    if rows is not None and site is None:
        raise DataError("steering deltas given without a site", "pass site=Site(layer)")
    ids = encode(lm, prompts, add_special_tokens=add_special_tokens)
    limit = lm.info.max_positions
    longest = max(len(row) for row in ids)
    if limit is not None and longest + max_new_tokens > limit:
        raise DataError(
            f"a prompt of {longest} tokens plus {max_new_tokens} new tokens exceeds the model's context of {limit}",
            "shorten the prompt or lower --max-new-tokens",
        )
    eos = _eos_ids(lm)
    if engine not in ("auto", "steerid", "hf"):
        raise DataError(f"unknown decode engine '{engine}'", "use auto, steerid or hf")
    if dtype != "model":
        rows_per_forward = min(len(prompts), batch_size)
        lm = engine_module.in_dtype(lm, engine_module.choose_dtype(dtype, lm.device, rows=rows_per_forward))
    if engine == "steerid" or (engine == "auto" and engine_module.supports(lm)):
        sampling = Sampling(greedy=greedy, temperature=temperature, top_k=top_k, top_p=top_p)
        tokens = engine_module.decode(lm, ids, site=site, deltas=rows, scope=scope, max_new_tokens=max_new_tokens,
                                      sampling=sampling, seeds=seeds, eos=eos, batch_size=batch_size)
        texts = [lm.tokenizer.decode(row, skip_special_tokens=True) for row in tokens]
        return Generation(texts=texts, tokens=tokens)
    pad = lm.tokenizer.pad_token_id
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                              pad_token_id=pad, eos_token_id=eos)
    texts: list[str] = []
    tokens: list[list[int]] = []
    for part in chunks(len(ids), batch_size):
        batch = left_pad(ids[part], pad)
        processors = LogitsProcessorList()
        if not greedy:
            processors.append(PerRowGumbelSampler(seeds[part], temperature, top_p, top_k))  # type: ignore[index]
        context = steering(lm, site, rows[part], scope=scope) if rows is not None else nullcontext()
        with context, torch.inference_mode():
            out = lm.model.generate(**on_device({"input_ids": batch.input_ids, "attention_mask": batch.attention_mask},
                                                lm.device), generation_config=config, logits_processor=processors)
        for row in out[:, batch.input_ids.shape[1]:].tolist():
            cut = next((i for i, t in enumerate(row) if t in eos), len(row))
            tokens.append(row[:cut])
            texts.append(lm.tokenizer.decode(row[:cut], skip_special_tokens=True))
    return Generation(texts=texts, tokens=tokens)


@dataclass
class TeacherForcedChunk:
    """Log-softmax over the vocabulary at each continuation position of a chunk of rows."""

    rows: slice
    logprobs: torch.Tensor  # (b, C, V) float32, position j predicts continuation token j
    targets: torch.Tensor  # (b, C) token ids (pad where mask is 0)
    mask: torch.Tensor  # (b, C) bool, real continuation tokens


def _right_pad(rows: Sequence[Sequence[int]], width: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token rows to ``width``: ids and a 0/1 mask of the real tokens."""
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def teacher_forced(lm: LoadedModel, prompts: Sequence[str], continuations: Sequence[str] | Sequence[Sequence[int]], *,
                   site: Site | None = None, deltas=None, scope: Scope = "all", batch_size: int = 16,
                   add_special_tokens: bool = True, share_prefix: bool = True) -> Iterator[TeacherForcedChunk]:
    """Yield next-token log-distributions over each continuation, teacher-forced, under steering.

    Rows are laid out ``[left pads][prompt][continuation][right pads]`` so every prompt ends at
    the same index P; with ``scope="generated"`` steering starts at P (the continuation).
    Continuations are strings (tokenised without special tokens) or token-id lists.

    With ``share_prefix`` the token prefix common to all prompts (a chat template's system
    prompt) is run once per distinct steering row and reused from the KV cache
    (:mod:`steerid.engine.prefix`); the layout becomes ``[prefix][left pads][rest]…`` with the same
    positions, so the log-probabilities agree with the unshared forward to float rounding.
    """
    prompts = check_texts(prompts, "prompts")
    if len(continuations) != len(prompts):
        raise DataError(f"{len(continuations)} continuations for {len(prompts)} prompts", "pair each prompt with one continuation")
    prompt_ids = encode(lm, prompts, add_special_tokens=add_special_tokens)
    cont_ids = [list(c) if not isinstance(c, str) else lm.tokenizer(c, add_special_tokens=False)["input_ids"]
                for c in continuations]
    rows = _row_deltas(deltas, len(prompts), lm.info.hidden_size)
    pad = lm.tokenizer.pad_token_id
    longest = max(len(ids) for ids in prompt_ids) + max(1, max(len(c) for c in cont_ids))
    prefix = shared_prefix(lm, prompt_ids, site=site, rows=rows, scope=scope, longest_row=longest) if share_prefix else None
    shared = prefix.length if prefix is not None else 0
    keep = accepts_logits_to_keep(lm)
    for part in chunks(len(prompt_ids), batch_size):
        left = left_pad([ids[shared:] for ids in prompt_ids[part]], pad)
        conts = cont_ids[part]
        width = max(1, max(len(c) for c in conts))
        b, rest = left.input_ids.shape
        p = shared + rest
        right, right_mask = _right_pad(conts, width, pad)
        input_ids = torch.cat([left.input_ids, right], dim=1)
        mask = torch.cat([torch.ones((b, shared), dtype=torch.long), left.attention_mask, right_mask], dim=1)
        inputs = dict(input_ids=input_ids, attention_mask=mask, position_ids=position_ids_from_mask(mask)[:, shared:])
        if prefix is not None:
            inputs.update({cache_argument(lm): prefix.cache_for(part), "use_cache": True})
        else:
            inputs.update(use_cache=False)
        if keep:
            inputs.update(logits_to_keep=width + 1)
        context = (steering(lm, site, rows[part], scope=scope, prompt_length=p) if rows is not None else nullcontext())
        with context, torch.inference_mode():
            logits = lm.model(**on_device(inputs, lm.device)).logits
        first = logits.shape[1] - (width + 1)  # index of position P − 1 among the returned logits
        logprobs = torch.log_softmax(logits[:, first : first + width].float(), dim=-1).cpu()
        yield TeacherForcedChunk(rows=part, logprobs=logprobs, targets=right, mask=right_mask.bool())


def continuation_logprob(lm: LoadedModel, prompts: Sequence[str], continuations: Sequence[str], *,
                         site: Site | None = None, deltas=None, scope: Scope = "all", batch_size: int = 16,
                         reduce: str = "sum", share_prefix: bool = True) -> np.ndarray:
    """Log-probability of each continuation given its prompt (``sum`` or per-token ``mean``)."""
    out = np.empty(len(prompts), dtype=np.float64)
    for chunk in teacher_forced(lm, prompts, continuations, site=site, deltas=deltas, scope=scope, batch_size=batch_size,
                                share_prefix=share_prefix):
        picked = chunk.logprobs.gather(-1, chunk.targets.unsqueeze(-1)).squeeze(-1) * chunk.mask
        total = picked.sum(-1).double()
        if reduce == "mean":
            total = total / chunk.mask.sum(-1).clamp(min=1)
        out[chunk.rows] = total.numpy()
    return out


HEAD_TAP_FAMILIES: frozenset[str] = frozenset({"llama", "mistral", "qwen2", "qwen3", "phi3", "gpt2", "gpt_neox",
                                                "gemma3_text"})
"""Families whose logits are ``get_output_embeddings()(base_model(...).last_hidden_state)`` (no softcap or
scale), tested equal to the model's own logits: teacher forcing then applies the LM head to the scored
positions only."""


class HeadTap:
    """Capture the base model's final hidden states and apply the LM head to chosen positions only.

    The LM head is ``V × d`` (49k × 576 for SmolLM2): evaluating it at every position of a
    right-padded batch costs a (rows × width × V) product and its log-softmax; the scored positions
    are the real tokens only. With the tap the model runs with ``logits_to_keep=1`` and

        log p(y_j | ·) = ℓ[y_j] − logsumexp(ℓ),   ℓ = W_head h_j   for every real position j.
    """

    def __init__(self, lm: LoadedModel) -> None:
        self.base = lm.model.base_model
        self.head = lm.model.get_output_embeddings()
        self.hidden: torch.Tensor | None = None
        self._handle = None

    def _grab(self, module, args, output) -> None:
        self.hidden = output[0]

    def __enter__(self) -> HeadTap:
        self.hidden = None
        self._handle = self.base.register_forward_hook(self._grab)
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def scored(self, real: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``log p`` of ``targets[real]`` from the captured hidden states (float32, CPU)."""
        if self.hidden is None:
            raise RuntimeError("the head tap saw no forward pass")
        hidden = self.hidden[real.to(self.hidden.device)]
        logits = self.head(hidden).float()
        picked = logits.gather(-1, targets[real].to(logits.device)[:, None]).squeeze(-1)
        self.hidden = None
        return (picked - torch.logsumexp(logits, dim=-1)).cpu()


def head_tap(lm: LoadedModel) -> HeadTap | None:
    """A :class:`HeadTap` where the family's logits are its plain output embedding, else None."""
    config = lm.model.config
    if (lm.info.family not in HEAD_TAP_FAMILIES or getattr(config, "final_logit_softcapping", None) is not None
            or getattr(config, "logit_scale", None) not in (None, 1.0) or lm.model.get_output_embeddings() is None
            or not accepts_logits_to_keep(lm)):
        return None
    return HeadTap(lm)


def continuation_logprobs(lm: LoadedModel, prompts: Sequence[str], continuation_sets: Sequence[Sequence[str]], *,
                          site: Site | None = None, deltas=None, scope: Scope = "all", batch_size: int = 16,
                          reduce: str = "sum", share_prefix: bool = True) -> np.ndarray:
    """Log-probabilities of k continuations of each prompt, shape ``(n, k)``; each prompt runs once.

    Rows that repeat a prompt under other steering deltas (an experiment's conditions) share the
    blocks below the site: they run once per distinct prompt and fork at the site
    (:mod:`steerid.engine.fork`).

    One pass over the prompts (continuing a shared-prefix cache, :mod:`steerid.engine.prefix`) fills a
    KV cache and gives the distribution of every continuation's first token; the cache is
    repeated k times and one more pass scores all k continuations:

        log p(y | x) = log p(y₁ | x) + Σ_{j ≥ 2} log p(y_j | x, y_<j)

    — the same numbers as :func:`continuation_logprob` on each (prompt, continuation) pair, at
    the cost of ``|x| + k·|y|`` token-forwards instead of ``k·(|x| + |y|)``. ``reduce="mean"``
    divides by the continuation's token count.
    """
    prompts = check_texts(prompts, "prompts")
    if len(continuation_sets) != len(prompts) or len({len(s) for s in continuation_sets}) != 1:
        raise DataError(f"{len(continuation_sets)} continuation sets for {len(prompts)} prompts (or sets of unequal size)",
                        "give every prompt the same number of continuations")
    k = len(continuation_sets[0])
    prompt_ids = encode(lm, prompts)
    cont_ids = [[lm.tokenizer(c, add_special_tokens=False)["input_ids"] for c in s] for s in continuation_sets]
    rows = _row_deltas(deltas, len(prompts), lm.info.hidden_size)
    # rows sorted by prompt length, then reply length (rows of one prompt adjacent, so they share a chunk):
    # chunks then pad little; every row's numbers are its own, so the results are put back in the caller's order
    first_seen: dict[tuple[int, ...], int] = {}
    order = sorted(range(len(prompt_ids)), key=lambda i: (len(prompt_ids[i]), max(len(c) for c in cont_ids[i]),
                                                          first_seen.setdefault(tuple(prompt_ids[i]), i)))
    prompt_ids, cont_ids = [prompt_ids[i] for i in order], [cont_ids[i] for i in order]
    if rows is not None:
        rows = rows[torch.as_tensor(order, dtype=torch.long)]
    pad = lm.tokenizer.pad_token_id
    longest = max(len(ids) for ids in prompt_ids) + max(1, max(len(c) for s in cont_ids for c in s))
    prefix = shared_prefix(lm, prompt_ids, site=site, rows=rows, scope=scope, longest_row=longest) if share_prefix else None
    shared = prefix.length if prefix is not None else 0
    cache_key = cache_argument(lm)
    keep = accepts_logits_to_keep(lm)
    out = np.empty((len(prompts), k), dtype=np.float64)
    tap = head_tap(lm)
    for part in chunks(len(prompt_ids), batch_size):
        tails = [tuple(ids[shared:]) for ids in prompt_ids[part]]
        distinct, group, representative = distinct_rows(tails)
        repeated = len(distinct) < len(tails)
        # an unsteered prompt (no deltas, or scope 'generated') is the same for every row of it: run once
        share = repeated and (rows is None or site is None or scope == "generated")
        fork = not share and repeated and rows is not None and site is not None and fork_supported(lm, site)
        left = left_pad(distinct if (fork or share) else tails, pad)
        b, rest = left.input_ids.shape
        p = shared + rest
        prompt_mask = torch.cat([torch.ones((b, shared), dtype=torch.long), left.attention_mask], dim=1)
        inputs = {"input_ids": left.input_ids, "attention_mask": prompt_mask,
                  "position_ids": position_ids_from_mask(prompt_mask)[:, shared:], "use_cache": True}
        if prefix is not None:
            inputs[cache_key] = prefix.cache_for(part)
        if keep:
            inputs["logits_to_keep"] = 1
        if fork:  # blocks below the site once per distinct prompt, then one row per condition
            first_block = first_forked_block(lm, site)
            if prefix is not None:
                reduce_cache(inputs[cache_key], first_block, representative)
            context = forked(lm, site, group, rows[part])
        elif share:  # every block once per distinct prompt; rows copied from the cache afterwards
            first_block = len(lm.blocks)
            if prefix is not None:
                reduce_cache(inputs[cache_key], first_block, representative)
            context = nullcontext()
        else:
            context = steering(lm, site, rows[part], scope=scope, prompt_length=p) if rows is not None else nullcontext()
        with context, torch.inference_mode():
            prompt_out = lm.model(**on_device(inputs, lm.device))
        cache = prompt_out.get(cache_key)
        last = prompt_out.logits[:, -1]
        if fork or share:
            expand_cache(cache, first_block, group)
            prompt_mask = prompt_mask.index_select(0, group)
            b = prompt_mask.shape[0]
            if share:
                last = last.index_select(0, group.to(last.device))
        first = torch.log_softmax(last.float(), dim=-1).cpu().repeat_interleave(k, dim=0)
        conts = [c for i in range(part.start, part.stop) for c in cont_ids[i]]
        width = max(1, max(len(c) for c in conts))
        right, right_mask = _right_pad(conts, width, pad)
        later = torch.zeros((right.shape[0], width - 1), dtype=torch.float32)
        if width > 1:  # the last token of a continuation predicts nothing that is scored: it is not fed
            cache.batch_repeat_interleave(k)
            fed_mask = right_mask[:, :-1]
            mask = torch.cat([prompt_mask.repeat_interleave(k, dim=0), fed_mask], dim=1)
            inputs = {"input_ids": right[:, :-1], "attention_mask": mask,
                      "position_ids": position_ids_from_mask(mask)[:, p:], cache_key: cache, "use_cache": True}
            if keep:
                inputs["logits_to_keep"] = 1 if tap is not None else width - 1
            context = (steering(lm, site, rows[part].repeat_interleave(k, dim=0), scope=scope, prompt_length=p)
                       if rows is not None else nullcontext())
            targets, real = right[:, 1:], right_mask[:, 1:].bool()
            with context, torch.inference_mode(), (tap if tap is not None else nullcontext()):
                result = lm.model(**on_device(inputs, lm.device))
                if tap is not None:  # the LM head at the scored positions only (not at pads)
                    later[real] = tap.scored(real, targets)
                else:
                    logits = result.logits[:, -(width - 1):].float().cpu()
                    later = logits.gather(-1, targets[:, :, None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)
        picked = torch.cat([first.gather(-1, right[:, :1]), later], dim=1) * right_mask
        total = picked.sum(-1).double()
        if reduce == "mean":
            total = total / right_mask.sum(-1).clamp(min=1)
        out[order[part]] = total.view(b, k).numpy()
    return out
