"""``SB3VecEnv``: the batched env as a Stable-Baselines3 ``VecEnv``, one dLLM forward for all N envs per step.

SB3's ``DummyVecEnv`` over single envs runs one batch-1 forward per env; this adapter keeps the batch. It follows
SB3's conventions: numpy observations, ``dones = terminated | truncated``, one info dict per env, and on an
episode's end ``info["terminal_observation"]`` (the finished episode's last observation) and
``info["TimeLimit.truncated"]``, while the returned observation already belongs to the next episode.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv

from unmask_gym.wrappers.numpy import to_numpy


class SB3VecEnv(VecEnv):
    """Wraps an ``UnmaskVectorEnv`` (SAME_STEP autoreset) for SB3's ``PPO``/``A2C``/``MaskablePPO`` ``.learn``.

    Example:
        >>> from unmask_gym import UnmaskVectorEnv
        >>> from unmask_gym.testing import FakeDiffusionLM, CountingTask
        >>> venv = SB3VecEnv(UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM()))
        >>> venv.seed(0)
        [0, 1]
        >>> obs = venv.reset()
        >>> obs["confidence"].shape
        (2, 4)
        >>> obs, rewards, dones, infos = venv.step(np.ones((2, 4), dtype=np.int8))
        >>> dones.tolist(), "completion" in infos[0], "terminal_observation" in infos[0]
        ([True, True], True, True)
    """

    def __init__(self, env: Any) -> None:
        env = env.unwrapped if hasattr(env, "unwrapped") else env
        if env.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"SB3VecEnv needs autoreset_mode=SAME_STEP (SB3 resets within the step), got {env.autoreset_mode}"
            )
        self.env = env
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: Any = None
        self._seed: int | None = None

    def seed(self, seed: int | None = None) -> list[int | None]:
        """The seed of the next ``reset`` (env i reports ``seed + i``, as SB3 expects)."""
        self._seed = seed
        return [None if seed is None else seed + index for index in range(self.num_envs)]

    def reset(self) -> dict[str, np.ndarray]:
        """Starts every env; the first reset after ``seed(s)`` uses ``s``."""
        obs, _ = self.env.reset(seed=self._seed)
        self._seed = None
        return to_numpy(obs)

    def step_async(self, actions: np.ndarray) -> None:
        """Stores the (N, L) actions for ``step_wait``."""
        self._actions = actions

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """One batched step: observations, rewards, dones and one info dict per env."""
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        obs, reward = to_numpy(obs), to_numpy(reward)
        terminated, truncated = to_numpy(terminated), to_numpy(truncated)
        dones = terminated | truncated
        final_info = to_numpy(info.get("final_info", {}))
        final_obs = to_numpy(info.get("final_obs", {}))
        episode = to_numpy(info.get("episode", {}))
        infos: list[dict[str, Any]] = []
        for row in range(self.num_envs):
            entry: dict[str, Any] = {}
            if dones[row]:
                entry = {key: value[row] for key, value in final_info.items()
                         if not key.startswith("_") and not isinstance(value, dict)}  # fmt: skip
                entry["terminal_observation"] = {key: value[row] for key, value in final_obs.items()}
                entry["TimeLimit.truncated"] = bool(truncated[row] and not terminated[row])
                entry["episode"] = {key: value[row].item() for key, value in episode.items()}  # r, l, nfe
            infos.append(entry)
        return obs, reward.astype(np.float32), dones, infos

    def close(self) -> None:
        """Closes the env."""
        self.env.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """The env's attribute, once per selected env."""
        return [getattr(self.env, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Sets an attribute of the (shared) env."""
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        """Calls a method of the (shared) env once per selected env."""
        return [getattr(self.env, method_name)(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """No env is wrapped by a Gymnasium wrapper here."""
        return [False] * len(self._indices(indices))

    def _indices(self, indices: int | Iterable[int] | None) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)
