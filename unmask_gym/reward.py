"""Terminal rewards: the paper's multiplicative compute-penalised reward, the additive one, or a TRL-style callable."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

RewardFunction = Callable[..., Sequence[float]]
"""TRL's reward-function shape: ``f(prompts, completions, **kwargs) -> list[float]``."""

REWARD_NAMES = ("multiplicative", "additive")


def multiplicative_reward(score: torch.Tensor, nfe: torch.Tensor, answer_length: int, alpha: float) -> torch.Tensor:
    """``score × ((L − min(n, L) + 1) / L) ** alpha``: correctness gated by compute (the paper's Eq. for R).

    Example:
        >>> multiplicative_reward(torch.tensor([1.0, 1.0]), torch.tensor([1, 4]), 4, alpha=1.0).tolist()
        [1.0, 0.25]
    """
    remaining = answer_length - nfe.clamp(max=answer_length) + 1
    return score * (remaining.float() / answer_length) ** alpha


def additive_reward(score: torch.Tensor, nfe: torch.Tensor, answer_length: int, alpha: float) -> torch.Tensor:
    """``score − alpha · n / L``; the paper reports that policies reward-hack it, it is kept for study.

    Example:
        >>> additive_reward(torch.tensor([1.0]), torch.tensor([2]), 4, alpha=1.0).tolist()
        [0.5]
    """
    return score - alpha * nfe.float() / answer_length


REWARD_FORMULAS = {"multiplicative": multiplicative_reward, "additive": additive_reward}
"""The named rewards: ``formula(score, nfe, answer_length, alpha)``; alpha may be a tensor (one per episode)."""


def call_reward_function(
    function: RewardFunction,
    prompts: list[str],
    completions: list[str],
    **kwargs: Any,
) -> torch.Tensor:
    """Calls a TRL-style reward function and checks what it returns: one finite number per completion."""
    try:
        values = function(prompts, completions, **kwargs)
    except Exception as error:
        raise RuntimeError(f"the reward callable {function!r} raised {type(error).__name__}: {error}") from error
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"the reward callable must return a sequence of numbers, got {type(values).__name__}: {error}"
        ) from None
    if len(values) != len(completions):
        raise ValueError(f"the reward callable returned {len(values)} rewards for {len(completions)} completions")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"the reward callable returned a non-finite reward: {values}")
    return torch.tensor(values, dtype=torch.float32)
