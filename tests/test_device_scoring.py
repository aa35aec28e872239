"""The built-in tasks score finished episodes on the device: the same rewards, scores and infos as the host's scoring.

``outputs.scores_on_device`` picks the device path for a built-in task under a named reward; forcing it off gives
the host path (decode, ``task.score``, the reward formula on the host) to compare against, step by step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_validation import assert_tree_equal

from unmask_gym import UnmaskVectorEnv, outputs
from unmask_gym.testing import SyncCounter

SETTINGS = {
    "permutation-full-budget": {"task": "permutation", "block_length": None, "max_nfe": 5},
    "permutation-blocks-truncated": {"task": "permutation", "block_length": 4, "max_episode_steps": 11},
    "sudoku-full": {"task": "sudoku", "block_length": None, "max_nfe": 6},
    "statetracking-sampled-groups": {"task": "statetracking", "block_length": None, "temperature": 1.0,
                                     "group_size": 4, "reward": "additive", "alpha": 0.5},
}  # fmt: skip


def run(setting: dict, on_device: bool, monkeypatch: pytest.MonkeyPatch, steps: int = 32) -> list:
    """Every output of a few reset + step calls under random actions, with scoring on the device or the host."""
    with monkeypatch.context() as patch:
        if not on_device:
            patch.setattr(outputs, "scores_on_device", lambda *args: False)
        env = UnmaskVectorEnv(16, **setting)
        assert (env._state is None) and env._score_on_device == on_device
        results = [env.reset(seed=3)]
        generator = torch.Generator().manual_seed(0)
        for _ in range(steps):
            action = torch.rand(16, env.answer_length, generator=generator) < 0.5
            results.append(env.step(action))
    return results


@pytest.mark.parametrize("name", list(SETTINGS))
def test_device_scoring_equals_host_scoring_output_for_output(name, monkeypatch):
    on_device, on_host = run(SETTINGS[name], True, monkeypatch), run(SETTINGS[name], False, monkeypatch)
    assert_tree_equal(on_device, on_host)
    ended = np.concatenate([result[4]["_episode"] for result in on_device[1:] if "_episode" in result[4]])
    scores = torch.cat([result[4]["final_info"]["score"] for result in on_device[1:] if "final_info" in result[4]])
    assert ended.sum() > 16 and 0 < scores.sum() < ended.sum()  # right and wrong answers were scored


def test_a_callable_reward_or_a_text_task_keeps_the_hosts_scoring():
    def reward(prompts, completions, **kwargs):
        return [float(len(text)) for text in completions]

    assert not UnmaskVectorEnv(2, task="permutation", reward=reward)._score_on_device
    assert UnmaskVectorEnv(2, task="permutation")._score_on_device


def test_scoring_on_the_device_adds_no_transfer_to_a_step():
    env = UnmaskVectorEnv(16, task="permutation", block_length=4)
    obs, _ = env.reset(seed=0)
    ended = 0
    for _ in range(10):
        with SyncCounter() as counter:
            obs, _, terminated, _, _ = env.step(obs["action_mask"])  # every position: episodes end
        assert (counter.device_to_host, counter.host_to_device) == (1, 0), counter.calls
        ended += int(terminated.sum())
    assert ended > 0
