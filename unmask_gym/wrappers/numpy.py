"""``NumpyVectorEnv``: the vector env with numpy observations, rewards, flags and infos.

Numpy-based vector wrappers (``gymnasium.wrappers.vector.RecordEpisodeStatistics``, ``NormalizeReward``, ...)
and numpy agents use this path; actions may be numpy arrays or tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorEnv, VectorWrapper


def to_numpy(value: Any) -> Any:
    """Tensors (also inside dicts) become numpy arrays; everything else is returned as is.

    Example:
        >>> to_numpy({"a": torch.ones(2)})["a"]
        array([1., 1.], dtype=float32)
    """
    if isinstance(value, torch.Tensor):
        return value.numpy(force=True)
    if isinstance(value, dict):
        return {key: to_numpy(item) for key, item in value.items()}
    return value


class NumpyVectorEnv(VectorWrapper):
    """Converts everything ``UnmaskVectorEnv`` returns to numpy; the spaces are unchanged.

    Example:
        >>> from unmask_gym import UnmaskVectorEnv
        >>> from unmask_gym.testing import FakeDiffusionLM, CountingTask
        >>> env = NumpyVectorEnv(UnmaskVectorEnv(2, task=CountingTask(), model=FakeDiffusionLM()))
        >>> obs, info = env.reset(seed=0)
        >>> type(obs["confidence"]).__name__, type(info["nfe"]).__name__
        ('ndarray', 'ndarray')
    """

    def __init__(self, env: VectorEnv) -> None:
        """Wraps ``env``."""
        super().__init__(env)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Resets and converts to numpy."""
        observation, info = self.env.reset(seed=seed, options=options)
        return to_numpy(observation), to_numpy(info)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Steps and converts to numpy."""
        observation, reward, terminated, truncated, info = self.env.step(actions)
        return to_numpy(observation), to_numpy(reward), to_numpy(terminated), to_numpy(truncated), to_numpy(info)
