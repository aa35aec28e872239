"""``UnmaskEnv``: one episode at a time with numpy observations, a thin adapter over ``UnmaskVectorEnv``.

This is what ``gymnasium.utils.env_checker.check_env``, notebooks and SB3's ``DummyVecEnv`` use. It adds no
dynamics: every step is one step of a one-slot vector env without autoreset.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym.env import UnmaskVectorEnv


class UnmaskEnv(gym.Env):
    """The unmasking MDP for one prompt at a time: numpy observations, Python ``float`` reward and ``bool`` flags.

    Takes the keyword arguments of ``UnmaskVectorEnv`` except ``num_envs``, ``group_size`` and
    ``autoreset_mode``. ``render_mode="ansi"`` renders the answer with ``_`` for masked positions;
    ``render_mode="rgb_array"`` draws it as a strip of cells (grey: masked, black: an end token, a colour per token
    otherwise), what ``RecordVideo`` and SB3's ``make_vec_env`` (which asks for ``rgb_array``) use.

    Each single env runs its own batch-1 dLLM forward, so N of them (Gymnasium's sync/async vector modes, SB3's
    ``make_vec_env``) cost N forwards per step: one built by those warns (once per process) and points to the
    batched ``UnmaskVectorEnv`` (``vectorization_mode="vector_entry_point"``, ``unmask_gym.wrappers.sb3.SB3VecEnv``).

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

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    _warned: ClassVar[bool] = False

    def __init__(self, *, render_mode: str | None = None, **kwargs: Any) -> None:
        """Builds the one-slot vector env; ``kwargs`` go to ``UnmaskVectorEnv``."""
        for name in ("num_envs", "group_size", "autoreset_mode"):
            if name in kwargs:
                raise TypeError(f"UnmaskEnv does not take {name!r}; use UnmaskVectorEnv for batched envs")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None, 'ansi' or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.vector_env = UnmaskVectorEnv(1, autoreset_mode=AutoresetMode.DISABLED, **kwargs)
        builder = _vectorizer()
        if builder is not None and not UnmaskEnv._warned:
            UnmaskEnv._warned = True
            advice = ""
            if self.vector_env.empty_action == "noop":  # SB3's PPO from scratch: 0.000 -> 0.002 in 4,096 steps
                advice = ("; and give a policy that learns from scratch env_kwargs={'empty_action': "
                          "'top_confidence'}: with the default 'noop' an empty action spends a pass committing "
                          "nothing, and an untrained policy's actions are mostly empty")  # fmt: skip
            warnings.warn(
                f"{builder} builds one UnmaskEnv per sub-env, each running its own batch-1 dLLM forward per step; one "
                "batched env runs them all in one forward: gym.make_vec(id, num_envs=N, "
                f"vectorization_mode='vector_entry_point'), and for Stable-Baselines3 "
                f"unmask_gym.wrappers.sb3.SB3VecEnv(that env){advice}", stacklevel=2,
            )  # fmt: skip
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
        """Commits the positions where ``action`` (shape (L,), 0/1) is 1; see ``UnmaskVectorEnv.step``.

        Raises:
            ValueError: ``action`` is not one 0/1 value per answer position, shape (L,).
        """
        length = self.vector_env.answer_length
        try:
            shape = tuple(action.shape) if hasattr(action, "shape") else np.shape(action)
        except ValueError:  # numpy refuses a ragged list
            shape = "of a ragged list"
        if shape != (length,):
            raise ValueError(f"action must have shape (answer_length,) = ({length},), one 0/1 value per answer "
                             f"position; got shape {shape}")  # fmt: skip
        if isinstance(action, torch.Tensor):
            batched = action.unsqueeze(0)
        else:
            batched = np.asarray(action)[None]
        observation, reward, terminated, truncated, info = self.vector_env.step(batched)
        return _row(observation), float(reward[0]), bool(terminated[0]), bool(truncated[0]), _info_row(info)

    def render(self) -> str | np.ndarray | None:
        """The answer now, as text (``"ansi"``) or as an RGB image (H, W, 3) uint8 (``"rgb_array"``).

        Text: the prompt, then the answer with ``_`` where masked and ``$`` for an end token. Image: one cell per
        answer position.

        Raises:
            RuntimeError: before the first ``reset`` or after ``close``.
        """
        from unmask_gym.replay import render_answer

        if self.render_mode is None:
            return None
        if self.vector_env._closed:
            raise RuntimeError("this env was closed; render() needs an open env")
        if self.vector_env._state is None:
            raise RuntimeError("call reset() before render()")
        tokens = self.vector_env._state.answer[0].tolist()
        if self.render_mode == "rgb_array":
            return _cells(tokens, self.model.mask_token_id, self.model.end_token_ids)
        return f"{self.vector_env._book.prompts[0]}{render_answer(tokens, self.model)}"

    def close(self) -> None:
        """Closes the underlying vector env."""
        self.vector_env.close()


VECTORIZERS = {
    "gymnasium.vector.sync_vector_env": "Gymnasium's sync vector mode",
    "gymnasium.vector.async_vector_env": "Gymnasium's async vector mode",
    "stable_baselines3.common.env_util": "SB3's make_vec_env",
    "stable_baselines3.common.vec_env.dummy_vec_env": "SB3's DummyVecEnv",
    "stable_baselines3.common.vec_env.subproc_vec_env": "SB3's SubprocVecEnv",
}
"""Modules that build one env per sub-env, by the name the warning gives them."""


def _vectorizer() -> str | None:
    """The name of the per-sub-env vectorizer building this env, from the call stack, or None."""
    frame = sys._getframe(2)
    while frame is not None:
        name = VECTORIZERS.get(frame.f_globals.get("__name__", ""))
        if name is not None:
            return name
        frame = frame.f_back
    return None


CELL = 24
"""Pixels per answer position in ``rgb_array`` frames."""


def _cells(tokens: list[int], mask_id: int, end_ids: Any) -> np.ndarray:
    """One CELL x CELL square per position (1-pixel white gaps): grey masked, black end token, else a token hue."""
    frame = np.full((CELL, CELL * len(tokens), 3), 255, dtype=np.uint8)
    for index, token in enumerate(tokens):
        if token == mask_id:
            colour = (160, 160, 160)
        elif token in end_ids:
            colour = (20, 20, 20)
        else:  # a fixed, well-spread colour per token id (golden-ratio hues)
            hue = (token * 0.618033988749895) % 1.0
            colour = tuple(int(255 * (0.55 + 0.4 * np.cos(2 * np.pi * (hue + shift)))) for shift in (0, 1 / 3, 2 / 3))
        frame[1:-1, index * CELL + 1 : (index + 1) * CELL - 1] = colour
    return frame


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
