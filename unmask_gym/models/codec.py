"""The codec seam: how the env turns a prompt into ids and an answer's ids into text, for any backend.

The built-in ``CharTokenizer`` encodes characters and decodes up to the first end token; a transformers tokenizer
needs a chat template on the way in and ``skip_special_tokens`` on the way out. A backend that knows better offers
``encode_prompt(text)`` and ``decode_answer(ids)`` itself (the transformers backend does); any other model falls
back to its tokenizer's ``encode``/``decode``, so the built-in models, ``FakeDiffusionLM`` and user models keep
working unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def encode_prompt(model: Any, text: str) -> list[int]:
    """The prompt ids the model expects for ``text`` (chat-templated where the backend uses a template).

    Example:
        >>> from unmask_gym.testing import FakeDiffusionLM
        >>> encode_prompt(FakeDiffusionLM(), "3:47") == FakeDiffusionLM().tokenizer.encode("3:47")
        True
    """
    if hasattr(model, "encode_prompt"):
        return list(model.encode_prompt(text))
    return list(model.tokenizer.encode(text))


def decode_answer(model: Any, ids: Sequence[int]) -> str:
    """The answer text of ``ids``: everything before the first of the model's end tokens.

    Example:
        >>> from unmask_gym.testing import FakeDiffusionLM
        >>> model = FakeDiffusionLM()
        >>> decode_answer(model, model.tokenizer.encode("12") + [model.tokenizer.eos_token_id] + [5])
        '12'
    """
    if hasattr(model, "decode_answer"):
        return str(model.decode_answer(list(ids)))
    return str(model.tokenizer.decode(list(ids), sorted(model.end_token_ids)))


def decode_token(model: Any, token: int) -> str:
    """One token as text, for replays (end tokens are the replay's business, not this function's)."""
    if hasattr(model, "decode_token"):
        return str(model.decode_token(int(token)))
    return str(model.tokenizer.decode([int(token)], end_token_ids=()))
