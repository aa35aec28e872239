"""Seeded determinism and isolation from the global random number generators."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from unmask_gym import UnmaskVectorEnv
from unmask_gym.testing import CountingTask, FakeDiffusionLM


def trajectory(seed: int, temperature: float = 0.0) -> list:
    env = UnmaskVectorEnv(4, task=CountingTask(5), model=FakeDiffusionLM(), temperature=temperature)
    obs, _ = env.reset(seed=seed)
    policy = torch.Generator().manual_seed(123)
    out = [(obs["tokens"].clone(), obs["pred_token"].clone(), list(env._book.prompts))]
    for _ in range(12):
        obs, reward, _terminated, _, _info = env.step(torch.rand(4, 5, generator=policy) < 0.4)
        out.append((obs["tokens"].clone(), obs["pred_token"].clone(), reward.clone(), list(env._book.prompts)))
    return out


def same(a: list, b: list) -> bool:
    return all(
        all(torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y for x, y in zip(s, t, strict=True))
        for s, t in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_the_same_seed_gives_identical_trajectories(temperature):
    assert same(trajectory(7, temperature), trajectory(7, temperature))


def test_different_seeds_give_different_prompts():
    assert not same(trajectory(7), trajectory(8))


def test_the_env_never_touches_the_global_random_generators():
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    expected = (torch.rand(1), np.random.rand(), random.random())
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    trajectory(3, temperature=1.0)
    assert (torch.rand(1), np.random.rand(), random.random()) == expected


def test_reset_without_seed_continues_the_streams_instead_of_repeating_them():
    env = UnmaskVectorEnv(2, task=CountingTask(5), model=FakeDiffusionLM())
    env.reset(seed=0)
    first = list(env._book.prompts)
    env.reset()
    assert env._book.prompts != first
    env.reset(seed=0)
    assert env._book.prompts == first
