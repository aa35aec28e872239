"""Gymnasium's own checkers, registration, make/make_vec and the numpy path with Gymnasium wrappers."""

from __future__ import annotations

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers.vector import RecordEpisodeStatistics

import unmask_gym
from unmask_gym import NumpyVectorEnv, UnmaskEnv, UnmaskVectorEnv
from unmask_gym.registration import registered_ids
from unmask_gym.testing import CountingTask, FakeDiffusionLM

REGISTERED_IDS = registered_ids()


@pytest.mark.parametrize("block_length", [None, 3])
def test_gymnasium_check_env_passes_without_warnings_on_the_single_env(block_length):
    env = UnmaskEnv(task=CountingTask(6), model=FakeDiffusionLM(), block_length=block_length)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)


@pytest.mark.parametrize("env_id", REGISTERED_IDS)
def test_gymnasium_check_env_passes_on_every_registered_id(env_id):
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", REGISTERED_IDS)
def test_make_vec_uses_the_vector_entry_point(env_id):
    env = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    assert isinstance(env.unwrapped, UnmaskVectorEnv) and env.num_envs == 3
    obs, _ = env.reset(seed=0)
    assert obs["confidence"].shape[0] == 3


def test_registered_envs_share_one_loaded_model():
    first = gym.make_vec("UnmaskGym/Addition-v0", num_envs=2, vectorization_mode="vector_entry_point")
    second = gym.make("UnmaskGym/Addition-v0")
    assert first.unwrapped.model is second.unwrapped.model


def test_importing_twice_registers_once():
    unmask_gym.register_envs()
    assert sum(env_id.startswith("UnmaskGym/Addition") for env_id in gym.registry) == 1


def test_record_episode_statistics_on_the_numpy_path_agrees_with_the_env_statistics():
    env = NumpyVectorEnv(UnmaskVectorEnv(3, task=CountingTask(5), model=FakeDiffusionLM()))
    env = RecordEpisodeStatistics(env, stats_key="gym_episode")
    obs, _ = env.reset(seed=0)
    generator = np.random.default_rng(0)
    finished = 0
    for _ in range(30):
        action = generator.random((3, 5)) < 0.3
        obs, reward, terminated, _truncated, info = env.step(action)
        assert isinstance(obs["confidence"], np.ndarray) and isinstance(reward, np.ndarray)
        if terminated.any():
            done = info["_episode"]
            np.testing.assert_array_equal(done, info["_gym_episode"])
            np.testing.assert_allclose(info["episode"]["r"][done], info["gym_episode"]["r"][done], rtol=1e-6)
            np.testing.assert_array_equal(info["episode"]["l"][done], info["gym_episode"]["l"][done])
            finished += done.sum()
    assert finished >= 5


def test_single_env_render_shows_the_prompt_and_masked_positions():
    env = UnmaskEnv(task=CountingTask(4), model=FakeDiffusionLM(), render_mode="ansi")
    with pytest.raises(RuntimeError, match=re.escape("call reset() before render()")):
        env.render()
    env.reset(seed=0, options={"prompt": "2:345"})
    assert env.render() == "2:345____"
    env.step(np.array([1, 0, 0, 0]))
    assert env.render() == "2:3453___"
    env.step(np.array([0, 1, 1, 1]))
    assert env.render() == "2:34534$$"  # end tokens show as $, as in the replay
    env.close()
    with pytest.raises(RuntimeError, match="this env was closed"):
        env.render()


@pytest.mark.parametrize("env_id", REGISTERED_IDS)
def test_check_env_passes_with_its_render_check_and_no_warnings(env_id):
    env = gym.make(env_id, render_mode="ansi")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_single_env_reports_episode_end_keys_only_when_the_episode_ends():
    env = UnmaskEnv(task=CountingTask(4), model=FakeDiffusionLM())
    _, info = env.reset(seed=0)
    end_keys = {"completion", "prompt", "reference", "unmask_step", "episode"}
    assert not end_keys & info.keys()
    _, _, terminated, _, info = env.step(np.array([1, 0, 0, 0]))
    assert not terminated and not end_keys & info.keys()
    assert all(type(info[key]) in (int, float, bool) for key in ("nfe", "correct", "score", "prompt_id"))
    _, _, terminated, _, info = env.step(np.ones(4))
    assert terminated and end_keys <= info.keys() and isinstance(info["completion"], str)


def test_sync_vector_mode_masks_episode_end_keys_to_the_rows_that_ended():
    envs = gym.make_vec("UnmaskGym/Addition-v0", num_envs=2, vectorization_mode="sync", block_length=None)
    envs.reset(seed=0)
    _, _, terminated, _, info = envs.step(np.array([[1] * 12, [0] * 12], dtype=np.int8))
    assert terminated.tolist() == [True, False]
    assert info["_completion"].tolist() == [True, False]


def test_single_env_accepts_torch_actions_and_returns_python_scalars():
    env = UnmaskEnv(task=CountingTask(4), model=FakeDiffusionLM())
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(torch.ones(4))
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
    assert isinstance(info["completion"], str)


def test_stable_baselines3_check_env_passes_without_warnings():
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = UnmaskEnv(task=CountingTask(6), model=FakeDiffusionLM(), block_length=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_checker.check_env(env)


def test_torchrl_check_env_specs_passes_through_its_gym_wrapper():
    torchrl_envs = pytest.importorskip("torchrl.envs")
    from torchrl.envs.utils import check_env_specs

    env = torchrl_envs.GymWrapper(UnmaskEnv(task=CountingTask(6), model=FakeDiffusionLM()))
    check_env_specs(env)
    with torch.random.fork_rng():  # TorchRL draws random actions from the global generator: pin it, then restore it
        torch.manual_seed(0)
        rollout = env.rollout(8, break_when_any_done=False)  # episodes end early: TorchRL resets them
    assert rollout["next", "reward"].shape == (8, 1)
    assert rollout["next", "done"].any()


def test_max_episode_steps_means_gymnasiums_time_limit_in_make_and_make_vec():
    single = gym.make("UnmaskGym/Sudoku-v1", max_episode_steps=3, block_length=None)
    assert single.unwrapped.vector_env.max_nfe == 16 and single.spec.max_episode_steps == 3
    single.reset(seed=0)
    flags = [single.step(np.zeros(16, dtype=np.int8))[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]
    vector = gym.make_vec("UnmaskGym/Sudoku-v1", num_envs=2, vectorization_mode="vector_entry_point",
                          max_episode_steps=3, block_length=None)  # fmt: skip
    assert vector.unwrapped.max_nfe == 16
    vector.reset(seed=0)
    for _ in range(3):
        _, _, terminated, truncated, _ = vector.step(np.zeros((2, 16), dtype=np.int8))
    assert truncated.tolist() == [True, True] and not terminated.any()


def test_rgb_array_render_passes_the_checker_and_draws_one_cell_per_position():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("UnmaskGym/Addition-v0", render_mode="rgb_array").unwrapped)  # both render modes checked
    env = UnmaskEnv(task=CountingTask(4), model=FakeDiffusionLM(), render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (24, 4 * 24, 3) and frame.dtype == np.uint8
    masked_colour = frame[12, 12].copy()
    env.step(np.array([1, 0, 0, 0], dtype=np.int8))
    assert not np.array_equal(env.render()[12, 12], masked_colour)  # the committed cell changed colour
    assert np.array_equal(env.render()[12, 36], masked_colour)  # the others are still masked
