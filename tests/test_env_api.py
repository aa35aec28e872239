"""Spaces, shapes, dtypes, device placement, NFE accounting, blocks, budget and info keys of UnmaskVectorEnv."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym import UnmaskVectorEnv
from unmask_gym.testing import CountingTask, FakeDiffusionLM

TORCH_DTYPES = {np.dtype("float32"): torch.float32, np.dtype("int64"): torch.int64, np.dtype("bool"): torch.bool}


def make_env(num_envs: int = 3, answer_length: int = 6, **kwargs) -> UnmaskVectorEnv:
    kwargs.setdefault("model", FakeDiffusionLM())
    return UnmaskVectorEnv(num_envs, task=CountingTask(answer_length), **kwargs)


def first_masked(obs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Commits the leftmost selectable position of each row."""
    mask = obs["action_mask"]
    action = torch.zeros_like(mask)
    rows = mask.any(1)
    action[rows, mask[rows].int().argmax(1)] = True
    return action


def test_every_observation_tensor_has_its_space_dtype_shape_and_lies_in_the_space():
    env = make_env(top_k=3, observe_prompt=True)
    obs, _ = env.reset(seed=0)
    for _ in range(4):
        for key, space in env.single_observation_space.spaces.items():
            assert obs[key].dtype == TORCH_DTYPES[np.dtype(space.dtype)], key
            assert tuple(obs[key].shape) == (env.num_envs, *space.shape), key
            for row in range(env.num_envs):
                assert space.contains(obs[key][row].numpy()), (key, obs[key][row])
        obs, *_ = env.step(first_masked(obs))


def test_observation_features_match_a_direct_softmax_of_the_model_logits(fake_model, counting_task):
    env = UnmaskVectorEnv(2, task=counting_task, model=fake_model)
    obs, _ = env.reset(seed=1)
    canvas = env._state.canvas
    logits = fake_model.logits(canvas, env._state.attention, positions=torch.arange(env.prompt_length, canvas.shape[1]))
    probs = logits.softmax(-1)
    top2 = probs.topk(2, -1).values
    torch.testing.assert_close(obs["confidence"], top2[..., 0])
    torch.testing.assert_close(obs["margin"], top2[..., 0] - top2[..., 1])
    torch.testing.assert_close(obs["entropy"], -(probs * probs.log()).sum(-1))
    assert torch.equal(obs["pred_token"], logits.argmax(-1))


def test_nfe_equals_steps_and_forward_calls_equal_steps_minus_noop_steps(fake_model, counting_task):
    env = UnmaskVectorEnv(1, task=counting_task, model=fake_model, autoreset_mode=AutoresetMode.DISABLED)
    obs, _ = env.reset(seed=0)
    calls_after_reset = fake_model.calls
    plan = [True, False, True, False, False, True, True, True, True]  # commit one position or nothing
    steps = noops = 0
    for commit in plan:
        action = first_masked(obs) if commit else torch.zeros_like(obs["action_mask"])
        obs, _, terminated, _, info = env.step(action)
        steps += 1
        noops += not commit
        if terminated[0]:
            break
    assert terminated[0]
    assert info["nfe"][0].item() == steps == info["episode"]["nfe"][0].item()
    # The last step commits the final position and needs no forward afterwards.
    assert fake_model.calls - calls_after_reset == steps - noops - 1


def test_finished_sub_envs_are_never_sent_through_the_dllm(fake_model, counting_task):
    env = UnmaskVectorEnv(2, task=counting_task, model=fake_model, autoreset_mode=AutoresetMode.DISABLED)
    obs, _ = env.reset(seed=0)
    everything = torch.tensor([[True] * 6, [False] * 6])
    everything[1, 0] = True
    obs, _, terminated, _, _ = env.step(everything)
    assert terminated.tolist() == [True, False]
    rows_before = fake_model.rows
    for _ in range(3):
        obs, *_ = env.step(first_masked(obs))
    assert fake_model.rows - rows_before == 3  # only row 1, once per step
    assert not obs["action_mask"][0].any()


def test_semi_autoregressive_blocks_never_commit_outside_the_current_block():
    env = make_env(2, answer_length=6, block_length=2)
    obs, _ = env.reset(seed=3)
    assert obs["block"].tolist() == [0, 0]
    assert obs["action_mask"][:, 2:].sum() == 0
    tokens_before = obs["tokens"].clone()
    obs, *_ = env.step(torch.ones(2, 6, dtype=torch.bool))  # selects everything; only block 0 may be committed
    committed = obs["tokens"] != tokens_before
    assert committed[:, :2].all() and not committed[:, 2:].any()
    assert obs["block"].tolist() == [1, 1]
    assert obs["action_mask"][:, 2:4].all() and not obs["action_mask"][:, 4:].any()


def test_full_diffusion_lets_any_masked_position_be_committed():
    env = make_env(2, answer_length=6)
    obs, _ = env.reset(seed=3)
    assert obs["action_mask"].all()
    action = torch.zeros(2, 6, dtype=torch.bool)
    action[:, 5] = True
    obs, *_ = env.step(action)
    assert (~obs["masked"][:, 5]).all() and obs["masked"][:, :5].all()


def test_one_commit_per_step_ends_every_episode_within_answer_length_steps():
    env = make_env(4, answer_length=6, autoreset_mode=AutoresetMode.DISABLED)
    obs, _ = env.reset(seed=5)
    ended_at = []
    for step in range(1, 7):
        obs, _, terminated, _, info = env.step(first_masked(obs))
        ended_at += [step] * int(terminated.sum())
    assert ended_at == [6, 6, 6, 6]
    assert not info["nfe_budget_exhausted"].any()


def test_noop_until_the_budget_ends_the_episode_as_terminated_with_the_flag():
    env = make_env(2, answer_length=6, max_nfe=3, autoreset_mode=AutoresetMode.DISABLED)
    obs, _ = env.reset(seed=0)
    nothing = torch.zeros(2, 6, dtype=torch.bool)
    for _ in range(2):
        obs, reward, terminated, truncated, info = env.step(nothing)
        assert not terminated.any()
    obs, reward, terminated, truncated, info = env.step(nothing)
    assert terminated.all() and not truncated.any()
    assert info["nfe_budget_exhausted"].all()
    assert info["completion"].tolist() == ["______", "______"]
    assert reward.tolist() == [0.0, 0.0]
    assert obs["masked"].all()  # positions still masked stay masked


def test_max_episode_steps_is_a_time_limit_that_truncates_unscored():
    env = make_env(2, answer_length=6, max_episode_steps=2, autoreset_mode=AutoresetMode.DISABLED)
    assert env.max_nfe == 6  # the NFE budget is max_nfe alone
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(first_masked(obs))
    assert not truncated.any() and not terminated.any()
    obs, reward, terminated, truncated, info = env.step(first_masked(obs))
    assert truncated.tolist() == [True, True] and not terminated.any()
    assert reward.tolist() == [0.0, 0.0] and info["score"].tolist() == [0.0, 0.0]
    assert not info["nfe_budget_exhausted"].any() and info["_episode"].all() and not env.running.any()
    assert all(isinstance(completion, str) for completion in info["completion"])  # decoded as far as it got


def test_top_confidence_commits_the_most_confident_selectable_position_on_an_empty_action():
    env = make_env(1, answer_length=6, block_length=3, empty_action="top_confidence")
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(torch.zeros(1, 6))
    assert obs["masked"][0].tolist() == [False, True, True, True, True, True]  # the fake is surest on the left


def test_committed_positions_report_their_token_with_certainty():
    env = make_env(1)
    obs, _ = env.reset(seed=0)
    predicted = obs["pred_token"][0, 0].item()
    obs, *_ = env.step(first_masked(obs))
    assert obs["tokens"][0, 0].item() == predicted == obs["pred_token"][0, 0].item()
    assert obs["confidence"][0, 0].item() == 1.0 and obs["entropy"][0, 0].item() == 0.0


def test_observations_are_fresh_tensors_not_views_of_the_state():
    env = make_env(2)
    obs, _ = env.reset(seed=0)
    snapshot = {key: value.clone() for key, value in obs.items()}
    for value in obs.values():
        value.zero_() if value.dtype != torch.bool else value.fill_(False)
    obs2, *_ = env.step(torch.zeros(2, 6))
    for key in ("tokens", "confidence", "masked"):
        assert torch.equal(obs2[key], snapshot[key]), key


def test_end_of_episode_info_carries_completion_prompt_and_unmask_order(fake_model, counting_task):
    env = UnmaskVectorEnv(1, task=counting_task, model=fake_model, autoreset_mode=AutoresetMode.NEXT_STEP)
    obs, info = env.reset(seed=0, options={"prompts": ["3:472"]})
    assert info["prompt_id"].dtype == torch.int64
    for _ in range(3):
        obs, reward, terminated, _, info = env.step(first_masked(obs))
    obs, reward, terminated, _, info = env.step(torch.ones(1, 6))  # the three EOS positions at once
    assert terminated.tolist() == [True]
    assert info["completion"][0] == "472" and info["prompt"][0] == "3:472" and info["_completion"][0]
    assert info["correct"].tolist() == [True] and info["score"].tolist() == [1.0]
    assert info["unmask_step"][0].tolist() == [0, 1, 2, 3, 3, 3]
    assert info["episode"]["l"].tolist() == [4] and info["_episode"].tolist() == [True]
    assert reward.item() == pytest.approx((6 - 4 + 1) / 6)


def test_the_env_exposes_its_model_and_task(fake_model, counting_task):
    env = UnmaskVectorEnv(1, task=counting_task, model=fake_model)
    assert env.model is fake_model and env.task is counting_task
    assert env.metadata["autoreset_mode"] == env.autoreset_mode == AutoresetMode.SAME_STEP


def test_observe_hidden_returns_the_models_last_hidden_states_of_the_answer_region():
    env = UnmaskVectorEnv(2, task="addition", observe_hidden=True)
    obs, _ = env.reset(seed=0)
    assert obs["hidden"].shape == (2, env.answer_length, env.model.hidden_size)
    assert obs["hidden"].dtype == torch.float32
    expected = env.model.hidden_states(env._state.canvas, env._state.attention)[:, env.prompt_length :]
    torch.testing.assert_close(obs["hidden"], expected)
    for row in range(2):
        assert env.single_observation_space["hidden"].contains(obs["hidden"][row].numpy())
    obs, *_ = env.step(first_masked(obs))
    expected = env.model.hidden_states(env._state.canvas, env._state.attention)[:, env.prompt_length :]
    torch.testing.assert_close(obs["hidden"], expected)


def test_observe_hidden_needs_a_model_that_provides_hidden_states(fake_model, counting_task):
    with pytest.raises(TypeError, match="observe_hidden=True needs a model with hidden_size and logits_and_hidden"):
        UnmaskVectorEnv(1, task=counting_task, model=fake_model, observe_hidden=True)
