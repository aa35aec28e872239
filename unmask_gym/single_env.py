"""``UnmaskEnv``: one episode at a time with numpy observations, a thin adapter over ``UnmaskVectorEnv``.

This is what ``gymnasium.utils.env_checker.check_env``, notebooks and SB3's ``DummyVecEnv`` use. It adds no
dynamics: every step is one step of a one-slot vector env without autoreset.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym.env import UnmaskVectorEnv


class UnmaskEnv(gym.Env):
    """The unmasking MDP for one prompt at a time: numpy observations, Python ``float`` reward and ``bool`` flags.

    Takes the keyword arguments of ``UnmaskVectorEnv`` except ``num_envs``, ``group_size`` and
    ``autoreset_mode``. ``render_mode="ansi"`` renders the answer with ``_`` for masked positions.

    Example:
        >>> from unmask_gym.testing import FakeDiffusionLM, CountingTask
        >>> env = UnmaskEnv(task=CountingTask(answer_length=4), model=FakeDiffusionLM())
        >>> obs, info = env.reset(seed=0)
        >>> obs["confidence"].shape, obs["masked"].dtype
        ((4,), dtype('bool'))
        >>> obs, reward, terminated, truncated, info = env.step(obs["action_mask"].astype(np.int8))
        >>> type(reward), terminated, info["completion"] == env.task.reference_for(info["prompt"])
        (<class 'float'>, True, True)
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, *, render_mode: str | None = None, **kwargs: Any) -> None:
        """Builds the one-slot vector env; ``kwargs`` go to ``UnmaskVectorEnv``."""
        for name in ("num_envs", "group_size", "autoreset_mode"):
            if name in kwargs:
                raise TypeError(f"UnmaskEnv does not take {name!r}; use UnmaskVectorEnv for batched envs")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.vector_env = UnmaskVectorEnv(1, autoreset_mode=AutoresetMode.DISABLED, **kwargs)
        self.observation_space = self.vector_env.single_observation_space
        self.action_space = self.vector_env.single_action_space

    @property
    def task(self) -> Any:
        """The task prompts come from."""
        return self.vector_env.task

    @property
    def model(self) -> Any:
        """The dLLM backend."""
        return self.vector_env.model

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Starts an episode; ``options`` may hold ``prompt`` (a string) and ``reference``."""
        super().reset(seed=seed)
        options = dict(options or {})
        vector_options = {}
        if "prompt" in options:
            vector_options["prompts"] = [options.pop("prompt")]
        if "reference" in options:
            vector_options["references"] = [options.pop("reference")]
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; valid options are prompt, reference")
        observation, info = self.vector_env.reset(seed=seed, options=vector_options)
        return _row(observation), _info_row(info)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Commits the positions where ``action`` (shape (L,), 0/1) is 1; see ``UnmaskVectorEnv.step``."""
        if isinstance(action, torch.Tensor):
            batched = action.unsqueeze(0)
        else:
            batched = np.asarray(action)[None]
        observation, reward, terminated, truncated, info = self.vector_env.step(batched)
        return _row(observation), float(reward[0]), bool(terminated[0]), bool(truncated[0]), _info_row(info)

    def render(self) -> str | None:
        """The prompt and the answer as text, ``_`` where masked and ``$`` for an end token (``render_mode="ansi"``).

        Raises:
            RuntimeError: before the first ``reset`` or after ``close``.
        """
        from unmask_gym.replay import render_answer

        if self.render_mode != "ansi":
            return None
        if self.vector_env._closed:
            raise RuntimeError("this env was closed; render() needs an open env")
        if self.vector_env._state is None:
            raise RuntimeError("call reset() before render()")
        tokens = self.vector_env._state.answer[0].tolist()
        return f"{self.vector_env._book.prompts[0]}{render_answer(tokens, self.model)}"

    def close(self) -> None:
        """Closes the underlying vector env."""
        self.vector_env.close()


def _info_row(info: dict[str, Any]) -> dict[str, Any]:
    """Row 0 of a batched info as Python values: a key with a ``_key`` mask only where its mask is set.

    Episode-end keys (``completion``, ``episode``, ...) therefore appear only on the step the episode ends, and
    every value is a Python scalar, a string or a numpy array, which Gymnasium's array-conversion wrappers convert.
    """
    out = {}
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = info.get(f"_{key}")
        if mask is not None and not bool(mask[0]):
            continue
        out[key] = _info_row(value) if isinstance(value, dict) else _python(_row(value))
    return out


def _python(value: Any) -> Any:
    """Numpy scalars as Python scalars (arrays and other values unchanged)."""
    return value.item() if isinstance(value, np.generic) else value


def _row(values: Any) -> Any:
    """Row 0 of a batched observation or info, as numpy / Python values; ``_key`` masks are dropped."""
    if isinstance(values, dict):
        return {key: _row(value) for key, value in values.items() if not key.startswith("_")}
    if isinstance(values, torch.Tensor):
        values = values.numpy(force=True)
    if isinstance(values, np.ndarray):
        return values[0]  # a numpy scalar for (N,) arrays, an array for (N, L) ones
    return values
