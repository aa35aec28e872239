"""The padded canvas layout shared by the env and the dLLM training loop.

A canvas row is ``[PAD ... PAD, prompt, answer]``: prompts are left padded to a fixed prompt length P so the L
answer positions always occupy the last L columns, whatever the prompt's length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def left_pad(
    prompt_ids: Sequence[Sequence[int]], prompt_length: int, pad_token_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Left pads token lists into a (n, P) int64 tensor and its (n, P) bool attention mask.

    Raises:
        ValueError: if a prompt is longer than ``prompt_length``.

    Example:
        >>> tokens, attention = left_pad([[5, 6], [7]], 3, pad_token_id=0)
        >>> tokens.tolist(), attention.tolist()
        ([[0, 5, 6], [0, 0, 7]], [[False, True, True], [False, False, True]])
    """
    tokens, lengths = left_pad_arrays(prompt_ids, prompt_length, pad_token_id)
    attention = np.arange(prompt_length)[None, :] >= prompt_length - lengths[:, None]
    return torch.from_numpy(tokens), torch.from_numpy(attention)


def left_pad_arrays(
    prompt_ids: Sequence[Sequence[int]], prompt_length: int, pad_token_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """``left_pad`` on the host: the (n, P) int64 tokens and the (n,) int64 prompt lengths (which give the mask)."""
    tokens = np.full((len(prompt_ids), prompt_length), pad_token_id, dtype=np.int64)
    lengths = np.zeros(len(prompt_ids), dtype=np.int64)
    for row, ids in enumerate(prompt_ids):
        if len(ids) > prompt_length:
            raise ValueError(f"prompt {row} has {len(ids)} tokens, more than max_prompt_length={prompt_length}")
        if len(ids):
            tokens[row, prompt_length - len(ids) :] = ids
        lengths[row] = len(ids)
    return tokens, lengths


def right_pad_arrays(ids: Sequence[Sequence[int]], width: int, fill: int = -1) -> np.ndarray:
    """(n, width) int64: each sequence from the left, then ``fill`` (the layout of references' ids, -1 after each).

    Example:
        >>> right_pad_arrays([[5, 6], [7]], 3).tolist()
        [[5, 6, -1], [7, -1, -1]]
    """
    out = np.full((len(ids), width), fill, dtype=np.int64)
    for row, values in enumerate(ids):
        out[row, : len(values)] = values
    return out
