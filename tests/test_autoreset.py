"""Autoreset modes step by step on the counting task, partial resets, and GRPO prompt groups."""

from __future__ import annotations

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym import UnmaskVectorEnv
from unmask_gym.testing import CountingTask, FakeDiffusionLM

L = 4


def make_env(mode: AutoresetMode, num_envs: int = 2, **kwargs) -> UnmaskVectorEnv:
    return UnmaskVectorEnv(num_envs, task=CountingTask(L), model=FakeDiffusionLM(), autoreset_mode=mode, **kwargs)


def fast_and_slow(obs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Env 0 commits everything (1-step episodes); env 1 commits its leftmost masked position (L-step episodes)."""
    action = torch.zeros_like(obs["action_mask"])
    action[0] = True
    mask = obs["action_mask"][1]
    if mask.any():
        action[1, mask.int().argmax()] = True
    return action


def run(env: UnmaskVectorEnv, steps: int) -> list[tuple]:
    obs, info = env.reset(seed=0)
    trace = []
    for _ in range(steps):
        obs, reward, terminated, _, info = env.step(fast_and_slow(obs))
        trace.append((terminated.tolist(), info["nfe"].tolist(), reward.tolist(), info))
    return trace


def test_same_step_resets_a_finished_env_within_the_step_and_reports_the_final_obs():
    trace = run(make_env(AutoresetMode.SAME_STEP), 5)
    assert [t[0] for t in trace] == [[True, False], [True, False], [True, False], [True, True], [True, False]]
    assert [t[1] for t in trace] == [[0, 1], [0, 2], [0, 3], [0, 0], [0, 1]]  # the new episodes' NFE
    info = trace[3][3]
    assert info["_final_obs"].tolist() == [True, True]
    assert info["final_info"]["nfe"].tolist() == [1, 4]
    assert info["final_obs"]["masked"].sum().item() == 0  # the final observation is the finished canvas
    assert info["episode"]["l"].tolist() == [1, 4]
    assert info["episode_index"].tolist() == [4, 1]
    assert trace[0][3]["_final_obs"].tolist() == [True, False]


def test_next_step_resets_on_the_step_after_termination_with_zero_reward():
    trace = run(make_env(AutoresetMode.NEXT_STEP), 6)
    assert [t[0] for t in trace] == [
        [True, False], [False, False], [True, False], [False, True], [True, False], [False, False],
    ]  # fmt: skip
    assert [t[1] for t in trace] == [[1, 1], [0, 2], [1, 3], [0, 4], [1, 0], [0, 1]]
    assert trace[1][2][0] == 0.0  # the reset step of env 0 has no reward
    assert "final_obs" not in trace[0][3]
    assert trace[0][3]["completion"][0] is not None and trace[0][3]["completion"][1] is None


def test_disabled_freezes_finished_envs_until_reset_with_a_mask():
    env = make_env(AutoresetMode.DISABLED)
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, _, info = env.step(fast_and_slow(obs))
    assert terminated.tolist() == [True, False]
    frozen = obs["tokens"][0].clone()
    only_env_0 = torch.zeros(2, L)
    only_env_0[0] = 1
    for _ in range(2):
        obs, reward, terminated, _, info = env.step(only_env_0)
        assert torch.equal(obs["tokens"][0], frozen) and reward[0] == 0 and not terminated[0]
        assert info["nfe"][0] == 1
    prompt_before = env._book.prompts[1]
    obs, info = env.reset(options={"reset_mask": np.array([True, False])})
    assert obs["masked"][0].all() and info["nfe"].tolist() == [0, 3]
    assert env._book.prompts[1] == prompt_before  # the other slot kept its episode


def test_reset_mask_accepts_a_bool_tensor():
    env = make_env(AutoresetMode.DISABLED)
    env.reset(seed=0)
    _obs, info = env.reset(options={"reset_mask": torch.tensor([False, True])})
    assert info["episode_index"].tolist() == [0, 1]


def test_group_members_get_the_same_prompt_for_their_kth_episode_whatever_order_they_finish_in():
    env = UnmaskVectorEnv(6, task=CountingTask(L), model=FakeDiffusionLM(), group_size=3)
    _, info = env.reset(seed=11)
    generator = torch.Generator().manual_seed(0)
    seen: dict[tuple[int, int], set[str]] = {}

    def record(rows, prompts, episodes):
        for row in rows:
            seen.setdefault((row // 3, int(episodes[row])), set()).add(prompts[row])

    record(range(6), env._book.prompts, info["episode_index"])
    for _ in range(40):
        action = torch.rand(6, L, generator=generator) < 0.5  # members finish at different steps
        _obs, _reward, terminated, _, info = env.step(action)
        record(np.flatnonzero(terminated.numpy()), env._book.prompts, info["episode_index"])
    assert len(seen) > 12
    assert all(len(prompts) == 1 for prompts in seen.values())
    first_prompts = {key[0]: next(iter(value)) for key, value in seen.items() if key[1] == 0}
    assert first_prompts[0] != first_prompts[1]  # the two groups draw from different streams


def test_reset_prompts_option_gives_each_group_its_prompt():
    env = UnmaskVectorEnv(4, task=CountingTask(L), model=FakeDiffusionLM(), group_size=2)
    env.reset(seed=0, options={"prompts": ["1:123", "4:456"]})
    assert env._book.prompts == ["1:123", "1:123", "4:456", "4:456"]
    assert env._book.references == ["1", "1", "4564", "4564"]


def test_eval_split_with_a_finite_list_serves_each_prompt_exactly_once():
    env = UnmaskVectorEnv(
        3, task=CountingTask(L), model=FakeDiffusionLM(), split="eval", num_prompts=10, empty_action="top_confidence"
    )
    _, info = env.reset(seed=0)
    served = list(info["prompt_id"].tolist())
    for _ in range(30):
        _obs, _reward, terminated, _, info = env.step(torch.zeros(3, L))
        started = terminated & env.running
        served += info["prompt_id"][started].tolist()
        if not env.running.any():
            break
    assert sorted(served) == list(range(10))
    assert env.prompts_remaining == 0 and not env.running.any()
