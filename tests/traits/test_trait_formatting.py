"""format_chat with and without a chat template (fake tokenizers, no model download)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steerid.traits import BASE_PROMPT, format_chat, has_chat_template


class ChatTokenizer:
    """Renders a ChatML-like template and records how it was called."""

    chat_template = "{% for m in messages %}...{% endfor %}"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def apply_chat_template(self, messages: list[dict[str, str]], *, tokenize: bool, add_generation_prompt: bool) -> str:
        self.calls.append({"messages": messages, "tokenize": tokenize, "add_generation_prompt": add_generation_prompt})
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


class BaseTokenizer:
    """A base-model tokenizer: no chat template at all."""


class EmptyTemplateTokenizer(ChatTokenizer):
    """Has the method (as every HF tokenizer does) but no template set."""

    chat_template = None


class TokenizingTokenizer(ChatTokenizer):
    def apply_chat_template(self, messages, *, tokenize, add_generation_prompt):  # type: ignore[override]
        return [1, 2, 3]


def test_chat_prefix_uses_generation_prompt() -> None:
    tok = ChatTokenizer()
    prefix = format_chat(tok, "Tell me about Mondays.")
    assert prefix == "<|im_start|>user\nTell me about Mondays.<|im_end|>\n<|im_start|>assistant\n"
    assert tok.calls == [
        {"messages": [{"role": "user", "content": "Tell me about Mondays."}], "tokenize": False, "add_generation_prompt": True}
    ]


def test_chat_reply_continues_the_generation_prefix() -> None:
    tok = ChatTokenizer()
    full = format_chat(tok, "How was the trip?", "It was lovely.")
    assert full == format_chat(tok, "How was the trip?") + "It was lovely."
    assert not full.endswith("<|im_end|>\n")  # the reply is left open, as during generation
    assert all(call["add_generation_prompt"] for call in tok.calls)


def test_chat_system_message() -> None:
    tok = ChatTokenizer()
    text = format_chat(tok, "Hi?", "Hello.", system="Be brief.")
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?")
    assert text.endswith("<|im_start|>assistant\nHello.")


@pytest.mark.parametrize("tok", [BaseTokenizer(), EmptyTemplateTokenizer()])
def test_base_format(tok: Any) -> None:
    assert not has_chat_template(tok)
    assert format_chat(tok, "Tell me about Mondays.") == "Question: Tell me about Mondays.\nAnswer:"
    assert format_chat(tok, "Tell me about Mondays.", "They start the week.") == (
        "Question: Tell me about Mondays.\nAnswer: They start the week."
    )
    assert format_chat(tok, "Hi?", system="Be brief.") == "Be brief.\n\n" + BASE_PROMPT.format(user="Hi?")


def test_has_chat_template() -> None:
    assert has_chat_template(ChatTokenizer())
    assert not has_chat_template(BaseTokenizer())
    assert not has_chat_template(EmptyTemplateTokenizer())


def test_non_string_template_output_is_rejected() -> None:
    with pytest.raises(TypeError, match="expected str"):
        format_chat(TokenizingTokenizer(), "Hi?")


@settings(max_examples=40, deadline=None)
@given(user=st.text(min_size=1, max_size=40), reply=st.text(min_size=1, max_size=40))
def test_reply_is_always_a_suffix_of_the_prefix(user: str, reply: str) -> None:
    for tok in (ChatTokenizer(), BaseTokenizer()):
        prefix = format_chat(tok, user)
        full = format_chat(tok, user, reply)
        assert full.startswith(prefix)
        assert full.endswith(reply)
        assert len(full) - len(prefix) - len(reply) in (0, 1)
