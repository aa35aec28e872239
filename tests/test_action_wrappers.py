"""Low-dimensional actions: TopKAction and ThresholdAction on the single and the batched env."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from unmask_gym import UnmaskEnv, UnmaskVectorEnv
from unmask_gym.heuristics import fast_dllm_threshold, top_k_confidence
from unmask_gym.testing import CountingTask, FakeDiffusionLM
from unmask_gym.wrappers import ThresholdAction, TopKAction, VectorThresholdAction, VectorTopKAction


def vector_env(num_envs: int = 4, **kwargs) -> UnmaskVectorEnv:
    settings = {"task": CountingTask(6), "model": FakeDiffusionLM(), "block_length": None, **kwargs}
    return UnmaskVectorEnv(num_envs, **settings)


def test_vector_top_k_is_the_top_k_heuristic_row_by_row():
    wrapped, twin = VectorTopKAction(vector_env()), vector_env()
    obs, _ = wrapped.reset(seed=0)
    twin_obs, _ = twin.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(8):
        counts = rng.integers(0, 6, size=4)
        expected = torch.stack([top_k_confidence(int(k) + 1)(twin_obs)[row] for row, k in enumerate(counts)])
        obs, reward, terminated, _, _ = wrapped.step(counts)
        twin_obs, twin_reward, twin_terminated, _, _ = twin.step(expected)
        assert torch.equal(obs["tokens"], twin_obs["tokens"]) and torch.equal(reward, twin_reward)
        assert torch.equal(terminated, twin_terminated)


def test_vector_threshold_is_fast_dllm_row_by_row():
    wrapped, twin = VectorThresholdAction(vector_env()), vector_env()
    obs, _ = wrapped.reset(seed=1)
    twin_obs, _ = twin.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(8):
        thresholds = rng.random((4, 1)).astype(np.float32)
        expected = torch.stack([fast_dllm_threshold(float(t[0]))(twin_obs)[row] for row, t in enumerate(thresholds)])
        obs, reward, _, _, _ = wrapped.step(thresholds)
        twin_obs, twin_reward, _, _, _ = twin.step(expected)
        assert torch.equal(obs["tokens"], twin_obs["tokens"]) and torch.equal(reward, twin_reward)


def test_semi_ar_top_k_counts_up_to_the_block_length():
    env = VectorTopKAction(vector_env(block_length=2))
    assert env.single_action_space.n == 2
    with pytest.raises(ValueError, match=r"max_k must be an int in \[1, 2\]"):
        VectorTopKAction(vector_env(block_length=2), max_k=3)


@pytest.mark.parametrize(
    "bad", [np.array([0, 1, 2]), np.array([0, 1, 2, 6]), np.array([0.0, 1, 2, 3]), np.array([-1, 0, 0, 0])]
)
def test_a_bad_count_is_refused_before_anything_changes(bad):
    env = VectorTopKAction(vector_env())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must"):
        env.step(bad)
    assert torch.equal(env.unwrapped._state.answer, torch.full_like(env.unwrapped._state.answer,
                                                                    env.unwrapped.model.mask_token_id))  # fmt: skip


@pytest.mark.parametrize("bad", [np.zeros((4,), np.float32), np.array([[np.nan]] * 4, np.float32)])
def test_a_bad_threshold_is_refused(bad):
    env = VectorThresholdAction(vector_env())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must"):
        env.step(bad)


def test_step_before_reset_says_so():
    with pytest.raises(RuntimeError, match="call reset"):
        VectorTopKAction(vector_env()).step(np.zeros(4, dtype=np.int64))


@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")  # checking the wrapper is the point
@pytest.mark.parametrize("wrapper", [TopKAction, ThresholdAction])
def test_single_env_wrappers_pass_gymnasiums_checker(wrapper):
    env = wrapper(UnmaskEnv(task=CountingTask(6), model=FakeDiffusionLM(), block_length=None))
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    _, _, terminated, _, info = env.step(env.action_space.sample() * 0 + (5 if wrapper is TopKAction else 0.0))
    assert terminated and info["nfe"] == 1  # commit all six (k = 6, or threshold 0) in one pass
