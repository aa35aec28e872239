"""Reward formulas at hand-computed cases and the TRL-style reward callable."""

from __future__ import annotations

import pytest
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym import UnmaskVectorEnv
from unmask_gym.reward import additive_reward, multiplicative_reward
from unmask_gym.testing import CountingTask, FakeDiffusionLM


@pytest.mark.parametrize(
    ("nfe", "alpha", "expected"),
    [
        (1, 0.0, 1.0),
        (4, 0.0, 1.0),
        (1, 1.0, 1.0),
        (2, 1.0, 0.75),
        (4, 1.0, 0.25),
        (6, 1.0, 0.25),  # n > L is clamped to L
        (2, 3.0, 0.75**3),
        (4, 3.0, 0.25**3),
    ],
)
def test_multiplicative_reward_matches_hand_computed_values(nfe, alpha, expected):
    reward = multiplicative_reward(torch.tensor([1.0]), torch.tensor([nfe]), answer_length=4, alpha=alpha)
    assert reward.item() == pytest.approx(expected)


def test_multiplicative_reward_scales_a_partial_score_and_zeroes_a_wrong_answer():
    reward = multiplicative_reward(torch.tensor([0.5, 0.0]), torch.tensor([2, 1]), answer_length=4, alpha=1.0)
    assert reward.tolist() == pytest.approx([0.375, 0.0])


def test_additive_reward_subtracts_alpha_times_the_nfe_fraction():
    reward = additive_reward(torch.tensor([1.0, 0.0]), torch.tensor([2, 4]), answer_length=4, alpha=0.5)
    assert reward.tolist() == pytest.approx([0.75, -0.5])


def run_one_episode(steps: int, **kwargs) -> tuple[float, dict]:
    """Commits one position per step for ``steps - 1`` steps, then everything left."""
    env = UnmaskVectorEnv(
        1, task=CountingTask(4), model=FakeDiffusionLM(), autoreset_mode=AutoresetMode.NEXT_STEP, **kwargs
    )
    env.reset(seed=0, options={"prompts": ["4:123"]})
    for step in range(steps):
        action = torch.zeros(1, 4)
        if step == steps - 1:
            action[:] = 1
        else:
            action[0, step] = 1
        _obs, reward, terminated, _, info = env.step(action)
    assert terminated.item()
    return reward.item(), info


@pytest.mark.parametrize(("steps", "alpha"), [(1, 1.0), (2, 1.0), (3, 3.0), (4, 0.0), (4, 1.0)])
def test_the_env_pays_the_multiplicative_reward_of_its_nfe(steps, alpha):
    reward, info = run_one_episode(steps, alpha=alpha)
    assert info["nfe"].item() == steps
    assert reward == pytest.approx(((4 - steps + 1) / 4) ** alpha)


def test_the_env_pays_the_additive_reward_when_asked():
    reward, _ = run_one_episode(2, reward="additive", alpha=1.0)
    assert reward == pytest.approx(1.0 - 2 / 4)


def test_a_trl_style_reward_callable_receives_prompts_completions_and_nfe():
    calls = []

    def length_bonus(prompts, completions, **kwargs):
        calls.append((prompts, completions, kwargs))
        return [len(c) + 10 * n for c, n in zip(completions, kwargs["nfe"], strict=True)]

    reward, _ = run_one_episode(2, reward=length_bonus)
    assert reward == 4 + 20
    prompts, completions, kwargs = calls[0]
    assert prompts == ["4:123"] and completions == ["1231"]
    assert kwargs["references"] == ["1231"] and kwargs["scores"] == [1.0] and kwargs["answer_length"] == 4
