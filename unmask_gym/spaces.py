"""Observation and action spaces of one sub-env; the vector env batches them with ``batch_space``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from gymnasium import spaces


def observation_space(
    answer_length: int,
    vocab_size: int,
    max_nfe: int,
    num_blocks: int,
    top_k: int = 0,
    prompt_length: int | None = None,
    hidden_size: int = 0,
) -> spaces.Dict:
    """The observation of one sub-env (answer region only; shapes without the batch dimension).

    Example:
        >>> space = observation_space(answer_length=4, vocab_size=10, max_nfe=4, num_blocks=2)
        >>> space["confidence"].shape, space["masked"].dtype, space["block"].n
        ((4,), dtype('bool'), np.int64(2))
    """
    length = (answer_length,)
    probability = spaces.Box(0.0, 1.0, length, dtype=np.float32)
    flag = spaces.Box(0, 1, length, dtype=np.bool_)
    token = spaces.MultiDiscrete(np.full(length, vocab_size), dtype=np.int64)
    members: dict[str, spaces.Space] = {
        "confidence": probability,
        "pred_token": token,
        "masked": flag,
        "action_mask": flag,
        "margin": probability,
        "entropy": spaces.Box(0.0, math.log(vocab_size), length, dtype=np.float32),
        "tokens": token,
        "step_frac": spaces.Box(0.0, max_nfe / answer_length, (1,), dtype=np.float32),
        "block": spaces.Discrete(num_blocks),
    }
    if top_k > 0:
        members["top_k_probs"] = spaces.Box(0.0, 1.0, (answer_length, top_k), dtype=np.float32)
        members["top_k_tokens"] = spaces.MultiDiscrete(np.full((answer_length, top_k), vocab_size), dtype=np.int64)
    if hidden_size > 0:
        members["hidden"] = spaces.Box(-np.inf, np.inf, (answer_length, hidden_size), dtype=np.float32)
    if prompt_length is not None:
        members["prompt_tokens"] = spaces.MultiDiscrete(np.full((prompt_length,), vocab_size), dtype=np.int64)
    return spaces.Dict(members)


def action_space(answer_length: int) -> spaces.MultiBinary:
    """``MultiBinary(L)``: 1 commits the position's predicted token now."""
    return spaces.MultiBinary(answer_length)


def policy_observation_keys(observation_space: spaces.Dict, keys: Sequence[str] | None = None) -> tuple[str, ...]:
    """The observation keys an adapter (SB3, TorchRL) shows a policy: ``keys``, checked, or the default.

    The default is every key but the token-id (``MultiDiscrete``) ones, which SB3 would one-hot encode into L x V
    inputs each.

    Raises:
        ValueError: for a string, an empty list or a key the space does not have (listing the valid ones).

    Example:
        >>> policy_observation_keys(observation_space(4, 8, 4, 1))
        ('action_mask', 'block', 'confidence', 'entropy', 'margin', 'masked', 'step_frac')
    """
    available = observation_space.spaces
    if keys is None:
        return tuple(key for key, space in available.items() if not isinstance(space, spaces.MultiDiscrete))
    if isinstance(keys, str) or not keys or any(key not in available for key in keys):
        raise ValueError(f"observation_keys must be a non-empty list of the env's keys {sorted(available)}, got "
                         f"{keys!r}")  # fmt: skip
    return tuple(keys)
