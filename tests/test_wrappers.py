"""Gymnasium's vector wrappers on the numpy path (``NumpyVectorEnv``), as docs/quickstart.md's table says."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.wrappers import vector

from unmask_gym import NumpyVectorEnv

WRAPPERS = {
    "RecordEpisodeStatistics": lambda env: vector.RecordEpisodeStatistics(env, stats_key="gym_episode"),
    "NormalizeReward": vector.NormalizeReward,
    "ClipReward": lambda env: vector.ClipReward(env, 0.0, 1.0),
    "TransformReward": lambda env: vector.TransformReward(env, lambda reward: 2 * reward),
    "DictInfoToList": vector.DictInfoToList,
    "FilterObservation": lambda env: vector.FilterObservation(env, ["confidence", "action_mask"]),
    "FlattenObservation": vector.FlattenObservation,
}
OBSERVATION_WRAPPERS = ("FilterObservation", "FlattenObservation")  # Gymnasium refuses SAME_STEP autoreset for them


def numpy_env(autoreset_mode: str) -> NumpyVectorEnv:
    env = gym.make_vec("UnmaskGym/Addition-v0", num_envs=2, vectorization_mode="vector_entry_point",
                       block_length=None, autoreset_mode=autoreset_mode)  # fmt: skip
    return NumpyVectorEnv(env)


@pytest.mark.parametrize("autoreset_mode", ["SameStep", "NextStep"])
@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_gymnasium_vector_wrappers_run_on_the_numpy_vector_env(name, autoreset_mode):
    env = numpy_env(autoreset_mode)
    if name in OBSERVATION_WRAPPERS and autoreset_mode == "SameStep":
        with pytest.raises(ValueError, match="Expected autoreset_mode to be NEXT_STEP or DISABLED"):
            WRAPPERS[name](env)
        return
    wrapped = WRAPPERS[name](env)
    wrapped.reset(seed=0)
    ended = 0
    for _ in range(4):
        _, reward, terminated, _, _ = wrapped.step(np.ones((2, 12), dtype=np.int8))
        assert isinstance(reward, np.ndarray)
        ended += int(terminated.sum())
    assert ended >= 2


# Gymnasium's array-conversion wrappers (issue: they broke on the env's text infos).


def play_until_an_episode_ends(env, to_action, steps: int = 20):
    obs, info = env.reset(seed=0)
    for _ in range(steps):
        obs, reward, terminated, _, info = env.step(to_action(obs))
        if terminated.any() if hasattr(terminated, "any") else terminated:
            return obs, reward, terminated, info
    raise AssertionError("no episode ended")


def test_numpy_to_torch_on_the_single_env_keeps_text_infos():
    pytest.importorskip("array_api_compat")
    from gymnasium.wrappers import NumpyToTorch

    env = NumpyToTorch(gym.make("UnmaskGym/Addition-v0"))
    obs, info = env.reset(seed=0)
    assert isinstance(obs["confidence"], torch.Tensor) and isinstance(info["nfe"], torch.Tensor)
    _, reward, _, info = play_until_an_episode_ends(env, lambda o: o["action_mask"].to(torch.int8))
    assert isinstance(info["completion"], str) and info["completion"].isdigit()
    assert isinstance(info["reference"], str) and float(reward) > 0


@pytest.mark.parametrize("route", ["numpy_to_torch", "array_conversion"])
def test_vector_array_conversion_wrappers_pass_episode_ends(route):
    pytest.importorskip("array_api_compat")
    from gymnasium.wrappers.vector import ArrayConversion, NumpyToTorch

    venv = gym.make_vec("UnmaskGym/Addition-v0", num_envs=4, vectorization_mode="vector_entry_point")
    if route == "numpy_to_torch":
        env, kind, to_action = NumpyToTorch(NumpyVectorEnv(venv)), torch.Tensor, lambda o: o["action_mask"].int()
    else:
        env, kind, to_action = ArrayConversion(venv, env_xp=torch, target_xp=np), np.ndarray, lambda o: o["action_mask"]
    obs, reward, terminated, info = play_until_an_episode_ends(env, to_action)
    assert isinstance(obs["confidence"], kind) and isinstance(reward, kind)
    ended = np.asarray(terminated, dtype=bool)
    completions = info["final_info"]["completion"]
    assert all(isinstance(completions[row], str) and completions[row].isdigit() for row in np.flatnonzero(ended))
