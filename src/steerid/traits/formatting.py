"""Turn a user turn (and optionally an assistant reply) into the exact string a model reads.

One rule matters more than any other here: **the text in front of a reply must be the same
string whether we extract from it or generate after it.** ``format_chat(tok, user)`` is the
prefix generation starts from; ``format_chat(tok, user, reply)`` is that very prefix with the
reply appended — never a re-rendering of the conversation through the chat template with the
reply as an assistant message. A template round-trip can differ from the generation prefix in
ways that move activations: it closes the turn with an end-of-turn token (so the last token is
no longer a reply token), some templates strip or rewrite the final assistant message (trim
whitespace, insert or drop reasoning blocks), and some render the header differently when
``add_generation_prompt`` is off. Building the pair text as prefix + reply guarantees that the
reply tokens are conditioned on exactly the context the steered model sees when it generates,
and that token positions after ``len(prefix)`` belong to the reply only.

Models without a chat template (base models such as Gemma-3-270M) get a plain
``"Question: {user}\\nAnswer:"`` prefix, and a reply is appended after one space, so the reply's
first word tokenizes as it would in running text.

Tokenize the returned string with ``add_special_tokens=False`` when the template already writes
a BOS token (Gemma's does), or the model sees two.
"""

from __future__ import annotations

from typing import Any

BASE_PROMPT = "Question: {user}\nAnswer:"
"""Prefix for tokenizers without a chat template."""

BASE_SYSTEM = "{system}\n\n"
"""Written before :data:`BASE_PROMPT` when a system text is given to a base model."""


def has_chat_template(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` carries a chat template and can apply it."""
    return bool(getattr(tokenizer, "chat_template", None)) and callable(
        getattr(tokenizer, "apply_chat_template", None)
    )


def format_chat(tokenizer: Any, user: str, assistant: str | None = None, *, system: str | None = None) -> str:
    """Render one user turn, optionally followed by the start of the assistant's reply.

    Args:
        tokenizer: a Hugging Face tokenizer (or anything with ``chat_template`` and
            ``apply_chat_template``); without a chat template the base-model format is used.
        user: the user's message.
        assistant: reply text to append; ``None`` renders the generation prefix only.
        system: optional system message.

    Returns:
        With a chat template: ``apply_chat_template(messages, tokenize=False,
        add_generation_prompt=True)``, plus ``assistant`` appended verbatim. Without one:
        ``"Question: {user}\\nAnswer:"`` (after ``"{system}\\n\\n"`` if given), plus
        ``" " + assistant``. In both cases ``format_chat(tok, u, a) == format_chat(tok, u) + ...``:
        the reply continues the exact generation prefix (see the module docstring for why).

    Example:
        >>> class Plain:  # a tokenizer without a chat template
        ...     chat_template = None
        >>> format_chat(Plain(), "Tell me about Mondays.", "They start the week.")
        'Question: Tell me about Mondays.\\nAnswer: They start the week.'
    """
    if has_chat_template(tokenizer):
        messages = [] if system is None else [{"role": "system", "content": system}]
        messages.append({"role": "user", "content": user})
        prefix = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if not isinstance(prefix, str):
            raise TypeError(
                f"apply_chat_template(tokenize=False) returned {type(prefix).__name__}, expected str"
            )
        return prefix if assistant is None else prefix + assistant
    prefix = BASE_PROMPT.format(user=user)
    if system is not None:
        prefix = BASE_SYSTEM.format(system=system) + prefix
    return prefix if assistant is None else f"{prefix} {assistant}"
