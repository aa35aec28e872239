"""The ``DiffusionLM`` protocol: what the env needs from a masked diffusion language model."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class DiffusionLM(Protocol):
    """A masked diffusion LM seen through one method, ``logits``.

    Attributes:
        mask_token_id: the id of the mask token.
        end_token_ids: ids that end a completion (LLaDA ends on EOS and on end-of-turn).
        pad_token_id: the id used for left padding (key-masked by ``attention_mask``).
        vocab_size: size of the logits' last dimension.
        tokenizer: turns prompts into ids (``encode``) and ids into text (``decode``).
        max_length: the longest canvas the model accepts, or None.
        device: where the model's parameters live.

    A backend may also offer ``hidden_size`` and ``logits_and_hidden(tokens, attention_mask, positions)`` returning
    ``(logits, hidden)`` from the same pass; the env needs them only with ``observe_hidden=True``.
    """

    mask_token_id: int
    end_token_ids: frozenset[int]
    pad_token_id: int
    vocab_size: int
    tokenizer: Any
    max_length: int | None
    device: torch.device

    def logits(
        self,
        tokens: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predicts every position of a canvas in one forward pass (one NFE).

        Args:
            tokens: (N, T) int64 canvas, left padded.
            attention_mask: (N, T) bool, False on padding; None means no padding.
            positions: (S,) int64 canvas columns to return (the answer region), None for all T.

        Returns:
            (N, S, V) logits; ``logits[:, s]`` predicts column ``positions[s]``.
        """
        ...
