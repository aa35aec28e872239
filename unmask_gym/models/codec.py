"""The codec seam: how the env turns a prompt into ids and an answer's ids into text, for any backend.

The built-in ``CharTokenizer`` encodes characters and decodes up to the first end token; a transformers tokenizer
needs a chat template on the way in and ``skip_special_tokens`` on the way out. A backend that knows better offers
``encode_prompt(text)`` and ``decode_answer(ids)`` itself (the transformers backend does); any other model falls
back to its tokenizer's ``encode``/``decode``, so the built-in models, ``FakeDiffusionLM`` and user models keep
working unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch


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


def completion_tokens(answers: torch.Tensor, end_token_ids: Iterable[int], pad_token_id: int,
                      width: int | None = None) -> torch.Tensor:  # fmt: skip
    """``decode_answer`` on the device, for ids: each row's tokens before its first end token, padding dropped.

    Args:
        answers: (D, L) int64 answer tokens.
        end_token_ids: the ids that end an answer (the model's ``end_token_ids``).
        pad_token_id: the id that ``CharTokenizer.decode`` skips.
        width: columns of the result (default L); a kept token beyond it is cut.

    Returns:
        (D, width) int64: the kept tokens left-aligned, then -1. A mask token stays (it decodes to ``_``, which
        no reference holds).

    Example:
        >>> completion_tokens(torch.tensor([[5, 0, 6, 2, 7]]), end_token_ids=[2], pad_token_id=0, width=6).tolist()
        [[5, 6, -1, -1, -1, -1]]
    """
    ends = torch.zeros_like(answers, dtype=torch.bool)
    for token in sorted(end_token_ids):  # comparisons with Python ints: no host -> device copy of the ids
        ends |= answers == token
    keep = (ends.cumsum(1) == 0) & (answers != pad_token_id)  # (D, L): before the first end token, not padding
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept positions first, in their order
    kept = torch.where(keep.gather(1, order), answers.gather(1, order), -1)
    width = answers.shape[1] if width is None else width
    if width <= kept.shape[1]:
        return kept[:, :width]
    return torch.nn.functional.pad(kept, (0, width - kept.shape[1]), value=-1)


def decode_token(model: Any, token: int) -> str:
    """One token as text, for replays (end tokens are the replay's business, not this function's)."""
    if hasattr(model, "decode_token"):
        return str(model.decode_token(int(token)))
    return str(model.tokenizer.decode([int(token)], end_token_ids=()))
