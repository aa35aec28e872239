"""Gymnasium's vector wrappers on the numpy path (``NumpyVectorEnv``), as the README's wrapper table says."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
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
