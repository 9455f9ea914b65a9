"""Tiny random-config models for tests: every family, built in-process, no download.

Each model has hidden size 48, 3 blocks, a byte-level tokenizer (vocab 256 bytes + 3 specials)
and a small chat template, and is initialised deterministically from ``seed``.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

from steerid.errors import ModelError

SPECIALS = ["<pad>", "<s>", "</s>"]
VOCAB_SIZE = 256 + len(SPECIALS)
CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)

_COMMON = dict(vocab_size=VOCAB_SIZE, pad_token_id=0, bos_token_id=1, eos_token_id=2)
_ATTN = dict(hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4)

TINY_CONFIGS: dict[str, dict] = {
    "llama": dict(model_type="llama", num_key_value_heads=2, max_position_embeddings=512, **_ATTN),
    "mistral": dict(model_type="mistral", num_key_value_heads=2, max_position_embeddings=512, sliding_window=None, **_ATTN),
    "qwen2": dict(model_type="qwen2", num_key_value_heads=2, max_position_embeddings=512, **_ATTN),
    "gemma": dict(
        model_type="gemma3_text",
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=512,
        sliding_window=16,
        **_ATTN,
    ),
    "phi3": dict(model_type="phi3", num_key_value_heads=2, max_position_embeddings=512, **_ATTN),
    "gpt2": dict(model_type="gpt2", n_embd=48, n_layer=3, n_head=4, n_positions=512),
    "gpt_neox": dict(model_type="gpt_neox", max_position_embeddings=512, **_ATTN),
}


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level tokenizer: one token per UTF-8 byte, plus pad/bos/eos, with a chat template."""
    byte_chars = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for char in sorted(byte_chars):
        vocab[char] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", padding_side="left"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_model(family: str, seed: int = 0) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Build a deterministic random tiny model of ``family`` and its tokenizer."""
    if family not in TINY_CONFIGS:
        raise ModelError(
            f"unknown tiny family '{family}'", f"use one of: {', '.join('tiny:' + f for f in TINY_CONFIGS)}"
        )
    params = dict(TINY_CONFIGS[family])
    model_type = params.pop("model_type")
    config = AutoConfig.for_model(model_type, **_COMMON, **params)
    config.tie_word_embeddings = False
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    finally:
        torch.random.set_rng_state(generator_state)
    return model.eval(), tiny_tokenizer()
