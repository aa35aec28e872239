"""``SB3VecEnv``: the batched env as a Stable-Baselines3 ``VecEnv``, one dLLM forward for all N envs per step.

SB3's ``DummyVecEnv`` over single envs runs one batch-1 forward per env; this adapter keeps the batch. It follows
SB3's conventions: numpy observations, ``dones = terminated | truncated``, one info dict per env, and on an
episode's end ``info["terminal_observation"]`` (the finished episode's last observation) and
``info["TimeLimit.truncated"]``, while the returned observation already belongs to the next episode.

Observation keys: by default a policy sees the float features and the masks, not the token ids. SB3's
``MultiInputPolicy`` one-hot encodes every ``MultiDiscrete`` key, so ``tokens`` or ``pred_token`` would each feed
L x V inputs; ask for them with ``observation_keys=`` if a custom feature extractor wants them.

sb3-contrib's ``MaskablePPO`` works through ``env_method("action_masks")``: for the ``MultiBinary(L)`` action it
treats each position as a two-way choice, so each env's mask is 2L wide, the pair (may commit 0, may commit 1)
per position, with 1 allowed only inside the observation's ``action_mask``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv

from unmask_gym.spaces import policy_observation_keys
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

    def __init__(self, env: Any, observation_keys: Sequence[str] | None = None) -> None:
        """Wraps ``env``; ``observation_keys`` picks the keys a policy sees (default: every non-token key).

        ``env`` is an ``UnmaskVectorEnv`` or a wrapper of it that keeps its torch observations, such as
        ``VectorTopKAction`` (whose action space SB3 then sees).
        """
        autoreset_mode = env.unwrapped.autoreset_mode
        if autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"SB3VecEnv needs autoreset_mode=SAME_STEP (SB3 resets within the step), got {autoreset_mode}"
            )
        self.env = env
        self.observation_keys = policy_observation_keys(env.single_observation_space, observation_keys)
        available = env.single_observation_space.spaces
        observation_space = spaces.Dict({key: available[key] for key in self.observation_keys})
        super().__init__(env.num_envs, observation_space, env.single_action_space)
        self._actions: Any = None
        self._seed: int | None = None
        self._action_mask: np.ndarray | None = None

    def seed(self, seed: int | None = None) -> list[int | None]:
        """The seed of the next ``reset`` (env i reports ``seed + i``, as SB3 expects)."""
        self._seed = seed
        return [None if seed is None else seed + index for index in range(self.num_envs)]

    def reset(self) -> dict[str, np.ndarray]:
        """Starts every env; the first reset after ``seed(s)`` uses ``s``."""
        obs, _ = self.env.reset(seed=self._seed)
        self._seed = None
        return self._observe(to_numpy(obs))

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
                entry["terminal_observation"] = {key: final_obs[key][row] for key in self.observation_keys}
                entry["TimeLimit.truncated"] = bool(truncated[row] and not terminated[row])
                entry["episode"] = {key: value[row].item() for key, value in episode.items()}  # r, l, nfe
            infos.append(entry)
        return self._observe(obs), reward.astype(np.float32), dones, infos

    def action_masks(self) -> np.ndarray:
        """(N, 2L) bool: for each position, may it be left (always) and may it be committed (in ``action_mask``).

        This is the layout sb3-contrib's ``MaskablePPO`` expects for a ``MultiBinary(L)`` action space.
        """
        if self._action_mask is None:
            raise RuntimeError("call reset() before action_masks()")
        return paired_action_masks(self._action_mask)

    def close(self) -> None:
        """Closes the env."""
        self.env.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """The env's attribute, once per selected env (``action_masks``: this adapter's method)."""
        owner = self if attr_name == "action_masks" else self.env.unwrapped
        return [getattr(owner, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Sets an attribute of the (shared) env."""
        setattr(self.env.unwrapped, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        """Calls a method of the (shared) env once per selected env; ``action_masks`` gives each env its row."""
        if method_name == "action_masks":
            masks = self.action_masks()
            return [masks[index] for index in self._indices(indices)]
        method = getattr(self.env.unwrapped, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """No env is wrapped by a Gymnasium wrapper here."""
        return [False] * len(self._indices(indices))

    def _observe(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Keeps the action mask for ``action_masks`` and returns the selected keys."""
        self._action_mask = obs["action_mask"].astype(bool)
        return {key: obs[key] for key in self.observation_keys}

    def _indices(self, indices: int | Iterable[int] | None) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)


def paired_action_masks(action_mask: np.ndarray) -> np.ndarray:
    """(N, L) selectable positions -> (N, 2L) MaskablePPO masks: (may leave, may commit) per position.

    Example:
        >>> paired_action_masks(np.array([[True, False]])).tolist()
        [[True, True, True, False]]
    """
    action_mask = np.asarray(action_mask, dtype=bool)
    return np.stack([np.ones_like(action_mask), action_mask], axis=-1).reshape(action_mask.shape[0], -1)


def sb3_policy(model: Any, deterministic: bool = True) -> Callable[[dict[str, Any]], Any]:
    """A trained SB3 model as an ``obs -> action`` callable for ``evaluate``, ``sweep`` and the env directly.

    It passes the model only the keys it was trained on (and a ``MaskablePPO`` its action masks), and answers
    with a tensor on the observation's device for torch observations (numpy for numpy ones).
    """
    keys = tuple(model.observation_space.spaces)
    maskable = "action_masks" in inspect.signature(model.predict).parameters

    def policy(obs: dict[str, Any]) -> Any:
        masks = {"action_masks": paired_action_masks(to_numpy(obs["action_mask"]))} if maskable else {}
        action, _ = model.predict({key: to_numpy(obs[key]) for key in keys}, deterministic=deterministic, **masks)
        first = obs[keys[0]]
        return torch.as_tensor(action, device=first.device) if isinstance(first, torch.Tensor) else action

    policy.__name__ = f"sb3:{type(model).__name__}"
    return policy
