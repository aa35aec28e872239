"""``TorchRLEnv``: the batched env as a TorchRL ``EnvBase``, tensors on the env's device end to end.

TorchRL resets finished sub-envs itself (its collectors call ``reset`` with a ``"_reset"`` mask after a step
whose ``done`` is set) and expects ``("next", obs)`` to be the finished episode's last observation. The wrapper
therefore accepts either autoreset mode that can give that:

- ``SAME_STEP`` (the env's default): the env has already started the next episode in the step; the wrapper
  returns ``final_obs`` as ``("next", ...)`` for finished rows and hands out the new episode's observation when
  TorchRL asks for the reset. No extra forward, no numpy. A row TorchRL ends itself (a ``StepCounter``, a
  collector's ``max_frames_per_traj``) is restarted at that reset (``reset_mask``), exactly the rows asked for.
- ``DISABLED``: the wrapper forwards TorchRL's mask as ``reset(options={"reset_mask": ...})``.

``NEXT_STEP`` is refused: its step after an episode end is a reset step that TorchRL would record as a transition.

Specs come from the Gymnasium spaces: ``Box`` -> ``Bounded``, bool ``Box`` -> ``Binary``, ``MultiDiscrete`` /
``Discrete`` -> ``Categorical`` (integers, not one-hot), the action ``MultiBinary(L)`` -> ``Binary(L)`` (bool).
As in ``SB3VecEnv``, the default ``observation_keys`` leave out the token-id keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from tensordict import TensorDict, TensorDictBase
from torchrl.data import Binary, Bounded, Categorical, Composite, Unbounded
from torchrl.envs import EnvBase

from unmask_gym.spaces import policy_observation_keys


def spec_from_space(space: spaces.Space, num_envs: int, device: torch.device) -> Any:
    """The TorchRL spec of one sub-env's Gymnasium space, batched over ``num_envs``.

    Example:
        >>> import numpy as np
        >>> spec_from_space(spaces.Discrete(3), 2, torch.device("cpu")).shape
        torch.Size([2, 1])
    """
    if isinstance(space, spaces.Discrete):
        return Categorical(int(space.n), shape=(num_envs, 1), dtype=torch.int64, device=device)
    if isinstance(space, spaces.MultiDiscrete):
        return Categorical(int(space.nvec.max()), shape=(num_envs, *space.shape), dtype=torch.int64, device=device)
    if isinstance(space, spaces.MultiBinary):
        return Binary(n=int(space.n), shape=(num_envs, int(space.n)), dtype=torch.bool, device=device)
    if isinstance(space, spaces.Box) and space.dtype == bool:
        return Binary(n=space.shape[-1], shape=(num_envs, *space.shape), dtype=torch.bool, device=device)
    if isinstance(space, spaces.Box):
        low, high = (torch.as_tensor(bound, device=device).expand(num_envs, *space.shape)
                     for bound in (space.low, space.high))  # fmt: skip
        return Bounded(low, high, shape=(num_envs, *space.shape), dtype=torch.float32, device=device)
    raise TypeError(f"no TorchRL spec for a {type(space).__name__} observation")


class TorchRLEnv(EnvBase):
    """Wraps an ``UnmaskVectorEnv`` (SAME_STEP or DISABLED autoreset) as a batched TorchRL environment.

    Example:
        >>> from unmask_gym import UnmaskVectorEnv
        >>> from unmask_gym.testing import CountingTask, FakeDiffusionLM
        >>> env = TorchRLEnv(UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM()))
        >>> env.batch_size, env.action_spec.shape
        (torch.Size([2]), torch.Size([2, 4]))
        >>> data = env.rollout(8)  # random actions until a row is done
        >>> data["next", "done"].shape[-1]
        1
    """

    def __init__(self, env: Any, observation_keys: Sequence[str] | None = None) -> None:
        """Wraps ``env``; ``observation_keys`` picks the keys (default: every non-token key), ``selected_keys``."""
        env = env.unwrapped if hasattr(env, "unwrapped") else env
        if env.autoreset_mode not in (AutoresetMode.SAME_STEP, AutoresetMode.DISABLED):
            raise ValueError(f"TorchRLEnv needs autoreset_mode SAME_STEP or DISABLED (TorchRL resets finished rows "
                             f"itself), got {env.autoreset_mode}")  # fmt: skip
        available = env.single_observation_space.spaces
        keys = policy_observation_keys(env.single_observation_space, observation_keys)
        super().__init__(device=env.device, batch_size=torch.Size([env.num_envs]))
        self.env = env
        self.selected_keys = keys
        n, device = env.num_envs, env.device
        self.observation_spec = Composite(
            {key: spec_from_space(available[key], n, device) for key in self.selected_keys}, shape=(n,),
            device=device,
        )  # fmt: skip
        self.action_spec = spec_from_space(env.single_action_space, n, device)
        self.reward_spec = Unbounded(shape=(n, 1), dtype=torch.float32, device=device)
        flag = Categorical(2, shape=(n, 1), dtype=torch.bool, device=device)
        self.done_spec = Composite(done=flag, terminated=flag.clone(), truncated=flag.clone(), shape=(n,),
                                   device=device)  # fmt: skip
        self._seed: int | None = None
        self._current: dict[str, torch.Tensor] | None = None  # the env's latest observations (next episodes' firsts)
        self._ended = torch.zeros(n, dtype=torch.bool, device=device)  # SAME_STEP: rows the env itself restarted
        self._started = False

    def _observation(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {key: obs[key].reshape(self.observation_spec[key].shape) for key in self.selected_keys}

    def _reset(self, tensordict: TensorDictBase | None = None, **kwargs: Any) -> TensorDictBase:
        mask = None if tensordict is None or "_reset" not in tensordict.keys() else tensordict["_reset"].reshape(-1)
        if not self._started or mask is None:
            obs, _ = self.env.reset(seed=self._seed)
            self._seed, self._started = None, True
        else:
            # SAME_STEP: rows whose episode ended inside the env already run their next one; the rest of the mask
            # (rows TorchRL ended itself: a StepCounter, a collector's max_frames_per_traj) restart here.
            # DISABLED: every masked row restarts.
            same_step = self.env.autoreset_mode == AutoresetMode.SAME_STEP
            restart = mask.to(self._ended.device) & ~self._ended if same_step else mask
            obs = self.env.reset(options={"reset_mask": restart})[0] if bool(restart.any()) else self._current
        self._current, self._ended = obs, torch.zeros_like(self._ended)
        return TensorDict(self._observation(obs), batch_size=self.batch_size, device=self.device)

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        obs, reward, terminated, truncated, info = self.env.step(tensordict["action"])
        self._current, self._ended = obs, torch.zeros_like(self._ended)
        if self.env.autoreset_mode == AutoresetMode.SAME_STEP and "_final_obs" in info:
            ended = self._ended = info["_final_obs"]
            obs = {key: torch.where(ended.reshape(-1, *[1] * (value.dim() - 1)), info["final_obs"][key], value)
                   for key, value in obs.items() if key in self.selected_keys}  # fmt: skip
        out = self._observation(obs)
        out.update(
            reward=reward.float().reshape(-1, 1), terminated=terminated.reshape(-1, 1),
            truncated=truncated.reshape(-1, 1), done=(terminated | truncated).reshape(-1, 1),
        )  # fmt: skip
        return TensorDict(out, batch_size=self.batch_size, device=self.device)

    def _set_seed(self, seed: int | None) -> None:
        """The seed of the next full reset (TorchRL's ``set_seed``)."""
        self._seed = seed
        self._started = False
