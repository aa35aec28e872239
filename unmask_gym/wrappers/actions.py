"""Low-dimensional actions: a learned *schedule* instead of a per-token decision.

``TopKAction``: the action says how many of the most confident selectable positions to commit this step
(``Discrete(K)``, action a commits a + 1). ``ThresholdAction``: the action is Fast-dLLM's confidence threshold
for this step (``Box(0, 1, (1,))``; every selectable position at or above it, and always the most confident one).
Value-based agents (DQN) play the first, continuous-control agents (SAC, TD3, PPO with a Gaussian) the second, and
both compare with the per-token policies on the same env. The ``Vector...`` classes wrap ``UnmaskVectorEnv`` (or
``NumpyVectorEnv``) and translate all N rows in one batched call; the others wrap the single ``UnmaskEnv``.

Each wrapper remembers the observation it last returned, since the translation needs its confidences and
``action_mask``; with SAME_STEP autoreset that observation already belongs to the next episode, as it should.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import VectorEnv, VectorWrapper

from unmask_gym.heuristics import as_batched_tensors, commit_above_threshold, in_kind, select_top


def top_k_commit(obs: dict[str, Any], count: Any) -> Any:
    """Commits the ``count`` (one per row) most confident selectable positions; answers in the obs' kind."""
    tensors, was_numpy, single = as_batched_tensors(obs)
    confidence = tensors["confidence"]
    count = torch.as_tensor(count, device=confidence.device).reshape(-1).expand(confidence.shape[0])
    return in_kind(select_top(tensors["confidence"], tensors["action_mask"], count), was_numpy, single)


def threshold_commit(obs: dict[str, Any], threshold: Any) -> Any:
    """Fast-dLLM's rule at ``threshold`` (one per row); answers in the obs' kind."""
    tensors, was_numpy, single = as_batched_tensors(obs)
    threshold = torch.as_tensor(threshold, device=tensors["confidence"].device).float().reshape(-1)
    return in_kind(commit_above_threshold(tensors, threshold), was_numpy, single)


def _selectable_width(env: Any) -> int:
    """The most positions one step can select: the block length in semi-AR decoding, else L."""
    unwrapped = env.unwrapped
    inner = getattr(unwrapped, "vector_env", unwrapped)  # the single env keeps a one-slot vector env
    return min(inner.block_length or inner.answer_length, inner.answer_length)


class _Translates:
    """Turns each low-dimensional action into the per-token one, reading the last observation it returned."""

    _obs: Any = None
    env: Any

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Resets and remembers the observation."""
        self._obs, info = self.env.reset(**kwargs)
        return self._obs, info

    def step(self, action: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        """Checks ``action``, translates it with the last observation, and steps the env."""
        if self._obs is None:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()")
        self._obs, reward, terminated, truncated, info = self.env.step(self.translate(action, self._obs))
        return self._obs, reward, terminated, truncated, info

    def translate(self, action: Any, obs: Any) -> Any:
        """The per-token action for ``action`` (raises ValueError for a bad one)."""
        raise NotImplementedError


class TopKAction(_Translates, gym.Wrapper):
    """The single env with action ``a`` in ``Discrete(K)``: commit the a + 1 most confident selectable positions.

    ``max_k`` (K) defaults to the block length (semi-AR) or L (full diffusion).

    Example:
        >>> from unmask_gym import UnmaskEnv
        >>> from unmask_gym.testing import CountingTask, FakeDiffusionLM
        >>> env = TopKAction(UnmaskEnv(task=CountingTask(4), model=FakeDiffusionLM(), block_length=None))
        >>> env.action_space
        Discrete(4)
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(3)  # all four at once
        >>> terminated, info["nfe"]
        (True, 1)
    """

    def __init__(self, env: gym.Env, max_k: int | None = None) -> None:
        super().__init__(env)
        self.max_k = _check_max_k(max_k, _selectable_width(env))
        self.action_space = spaces.Discrete(self.max_k)

    def translate(self, action: Any, obs: Any) -> Any:
        """Commits ``action + 1`` positions."""
        count = _check_discrete(action, self.max_k, (), self.action_space) + 1
        return top_k_commit(obs, count)


class ThresholdAction(_Translates, gym.Wrapper):
    """The single env with a confidence threshold in ``Box(0, 1, (1,))`` as the action (Fast-dLLM's rule).

    Example:
        >>> from unmask_gym import UnmaskEnv
        >>> from unmask_gym.testing import CountingTask, FakeDiffusionLM
        >>> env = ThresholdAction(UnmaskEnv(task=CountingTask(4), model=FakeDiffusionLM(), block_length=None))
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(np.array([0.0], dtype=np.float32))
        >>> terminated, info["nfe"]
        (True, 1)
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.action_space = spaces.Box(0.0, 1.0, (1,), np.float32)

    def translate(self, action: Any, obs: Any) -> Any:
        """Commits every selectable position at or above the threshold (values are clipped into [0, 1])."""
        threshold = _check_box(action, (1,))
        return threshold_commit(obs, threshold)


class VectorTopKAction(_Translates, VectorWrapper):
    """``TopKAction`` for the batched env: N counts in ``MultiDiscrete([K] * N)``, one batched translation.

    Example:
        >>> from unmask_gym import UnmaskVectorEnv
        >>> from unmask_gym.testing import CountingTask, FakeDiffusionLM
        >>> env = VectorTopKAction(UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM()))
        >>> env.single_action_space, env.action_space
        (Discrete(4), MultiDiscrete([4 4]))
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(np.array([3, 0]))
        >>> terminated.tolist()
        [True, False]
    """

    def __init__(self, env: VectorEnv, max_k: int | None = None) -> None:
        super().__init__(env)
        self.max_k = _check_max_k(max_k, _selectable_width(env))
        self.single_action_space = spaces.Discrete(self.max_k)
        self.action_space = spaces.MultiDiscrete(np.full(self.num_envs, self.max_k))

    def translate(self, action: Any, obs: Any) -> Any:
        """Commits ``actions[i] + 1`` positions in row i."""
        counts = _check_discrete(action, self.max_k, (self.num_envs,), self.action_space) + 1
        return top_k_commit(obs, counts)


class VectorThresholdAction(_Translates, VectorWrapper):
    """``ThresholdAction`` for the batched env: one threshold per row, ``Box(0, 1, (N, 1))``.

    Example:
        >>> from unmask_gym import UnmaskVectorEnv
        >>> from unmask_gym.testing import CountingTask, FakeDiffusionLM
        >>> env = VectorThresholdAction(UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM()))
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(np.array([[0.0], [1.0]], dtype=np.float32))
        >>> terminated.tolist()
        [True, False]
    """

    def __init__(self, env: VectorEnv) -> None:
        super().__init__(env)
        self.single_action_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Box(0.0, 1.0, (self.num_envs, 1), np.float32)

    def translate(self, action: Any, obs: Any) -> Any:
        """Commits, in each row, every selectable position at or above its threshold."""
        thresholds = _check_box(action, (self.num_envs, 1))
        return threshold_commit(obs, thresholds)


def _check_max_k(max_k: int | None, width: int) -> int:
    if max_k is None:
        return width
    if isinstance(max_k, bool) or not isinstance(max_k, int | np.integer) or not 1 <= max_k <= width:
        raise ValueError(f"max_k must be an int in [1, {width}] (the positions one step can select), got {max_k!r}")
    return int(max_k)


def _check_discrete(action: Any, max_k: int, shape: tuple[int, ...], space: spaces.Space) -> Any:
    """The action as an int array/tensor of ``shape`` in [0, max_k), or a ValueError naming what was wrong."""
    if isinstance(action, torch.Tensor):
        values, integral = action, not action.dtype.is_floating_point and action.dtype != torch.bool
    else:
        values = np.asarray(action)
        integral = values.dtype.kind in "iu"
    if tuple(values.shape) != shape or not integral:
        raise ValueError(f"action must be integers of shape {shape} in {space}, got {action!r}")
    if bool((values < 0).any()) or bool((values >= max_k).any()):
        raise ValueError(f"action must lie in [0, {max_k}) ({space}), got {action!r}")
    return values


def _check_box(action: Any, shape: tuple[int, ...]) -> Any:
    """The thresholds clipped into [0, 1], or a ValueError for a wrong shape or a non-finite value."""
    values = action.float() if isinstance(action, torch.Tensor) else np.asarray(action, dtype=np.float32)
    if tuple(values.shape) != shape:
        raise ValueError(f"action must be thresholds of shape {shape}, got shape {tuple(values.shape)}")
    finite = bool(torch.isfinite(values).all()) if isinstance(values, torch.Tensor) else bool(np.isfinite(values).all())
    if not finite:
        raise ValueError(f"action must be finite thresholds in [0, 1], got {action!r}")
    return values.clamp(0, 1) if isinstance(values, torch.Tensor) else np.clip(values, 0, 1)
