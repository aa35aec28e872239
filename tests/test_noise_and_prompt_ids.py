"""Sampling noise that belongs to an episode, prompt ids that belong to a prompt, and bad prompts that cannot wedge."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unmask_gym import UnmaskVectorEnv
from unmask_gym.prompts import prompt_hash
from unmask_gym.tasks.base import distinct_prompts
from unmask_gym.testing import CountingTask, FakeDiffusionLM


def sampled_env(num_envs: int, group_size: int = 1, **kwargs) -> UnmaskVectorEnv:
    return UnmaskVectorEnv(
        num_envs, task=CountingTask(6), model=FakeDiffusionLM(), temperature=1.5, group_size=group_size, **kwargs
    )


def test_reset_seed_keys_the_first_forward():
    first = sampled_env(8).reset(seed=0)[0]["pred_token"]
    prompts = [f"6:{100 + 37 * k}" for k in range(8)]  # the same prompts under both seeds
    zero = sampled_env(8).reset(seed=0, options={"prompts": prompts})[0]["pred_token"]
    one = sampled_env(8).reset(seed=1, options={"prompts": prompts})[0]["pred_token"]
    assert not torch.equal(zero, one)  # seeds 0 and 1 sample differently on the same prompts
    env = sampled_env(8)
    env.reset(seed=0)
    env.step(torch.ones(8, 6, dtype=torch.bool))
    again = env.reset(seed=0)[0]["pred_token"]
    assert torch.equal(again, first)  # the same env reset twice with seed 0 samples the same


def row_zero_trajectory(num_envs: int, neighbour_rule: str) -> list[tuple[torch.Tensor, ...]]:
    """Row 0 commits its most confident position each step; the other rows follow ``neighbour_rule``."""
    env = sampled_env(num_envs)
    obs, _ = env.reset(seed=5)
    neighbours = torch.Generator().manual_seed(num_envs)
    out = [(obs["pred_token"][0].clone(), obs["confidence"][0].clone())]
    for _ in range(6):
        if neighbour_rule == "nothing":
            action = torch.zeros(num_envs, 6, dtype=torch.bool)
        else:
            action = torch.rand(num_envs, 6, generator=neighbours) < 0.5
        action[0] = False
        action[0, obs["confidence"][0].masked_fill(~obs["action_mask"][0], -1).argmax()] = True
        obs, _, terminated, _, info = env.step(action)
        if terminated[0]:
            out.append((info["final_obs"]["tokens"][0].clone(), info["episode"]["r"][0].clone()))
            break
        out.append((obs["pred_token"][0].clone(), obs["confidence"][0].clone(), obs["tokens"][0].clone()))
    return out


def test_an_episodes_samples_do_not_depend_on_the_batch_around_it():
    expected = row_zero_trajectory(4, "nothing")
    for num_envs, rule in [(4, "random"), (16, "nothing"), (16, "random")]:
        got = row_zero_trajectory(num_envs, rule)
        assert len(got) == len(expected)
        for left, right in zip(expected, got, strict=True):
            for a, b in zip(left, right, strict=True):
                assert torch.equal(a, b)  # bit-identical


def test_members_of_a_group_share_the_prompt_but_not_the_noise():
    obs, info = sampled_env(8, group_size=4).reset(seed=0)
    assert (info["prompt_id"][:4] == info["prompt_id"][0]).all()
    tokens = obs["pred_token"][:4]
    assert any(not torch.equal(tokens[0], tokens[k]) for k in range(1, 4))


def test_temperature_zero_is_unaffected_by_the_seed():
    prompts = ["3:123", "6:456"]
    zero = UnmaskVectorEnv(2, task=CountingTask(6), model=FakeDiffusionLM()).reset(seed=0, options={"prompts": prompts})
    one = UnmaskVectorEnv(2, task=CountingTask(6), model=FakeDiffusionLM()).reset(seed=9, options={"prompts": prompts})
    assert torch.equal(zero[0]["pred_token"], one[0]["pred_token"])


def served(env: UnmaskVectorEnv, steps: int, seed: int) -> dict[tuple[int, int], tuple[str, int]]:
    """(group, episode_index) -> (prompt, prompt_id) of every episode that ended within ``steps`` random steps."""
    env.reset(seed=seed)
    actions = torch.Generator().manual_seed(env.num_envs)
    out = {}
    for _ in range(steps):
        _, _, terminated, _, info = env.step(torch.rand(env.num_envs, env.answer_length, generator=actions) < 0.3)
        final = info.get("final_info", info)
        for row in np.flatnonzero(terminated.numpy()):
            key = (row // env.group_size, int(final["episode_index"][row]))
            out[key] = (final["prompt"][row], int(final["prompt_id"][row]))
    return out


def test_prompt_ids_are_a_function_of_the_prompt():
    # Different num_envs and actions: episodes end in different orders, yet a prompt keeps its id.
    first = served(UnmaskVectorEnv(4, task=CountingTask(6), model=FakeDiffusionLM(), group_size=2), 40, seed=3)
    second = served(UnmaskVectorEnv(8, task=CountingTask(6), model=FakeDiffusionLM(), group_size=2), 40, seed=3)
    shared = first.keys() & second.keys()
    assert len(shared) >= 12
    for key in shared:
        assert first[key] == second[key]
    for prompt, prompt_id in first.values():
        assert prompt_id == prompt_hash(prompt)


def test_a_finite_prompt_list_numbers_its_prompts_by_position():
    env = UnmaskVectorEnv(3, task=CountingTask(6), model=FakeDiffusionLM(), split="eval", num_prompts=7)
    ids = {}
    obs, info = env.reset(seed=0)
    for row in range(3):
        ids[int(info["prompt_id"][row])] = env._book.prompts[row]
    while env.running.any():
        obs, _, _, _, info = env.step(obs["action_mask"])
        for row in np.flatnonzero(env.running.numpy()):
            ids[int(info["prompt_id"][row])] = env._book.prompts[row]
    assert sorted(ids) == list(range(7))
    prompts, _ = distinct_prompts(env.task, 7, seed=0)
    assert [ids[k] for k in range(7)] == prompts


class SometimesTooLongTask(CountingTask):
    """Every fifth prompt carries a 3-digit n-prefix and is one token longer than ``max_prompt_length`` allows."""

    name = "SometimesTooLong"
    prompt_pattern = r"0?[1-9]\d?:[1-9]\d\d"

    def sample(self, n, generator, split="train"):  # noqa: D102
        prompts, references = super().sample(n, generator, split)
        long = generator.random(n) < 0.2
        return [f"0{p}" if flag else p for p, flag in zip(prompts, long, strict=True)], references


def test_an_over_long_prompt_of_the_stream_is_skipped_and_counted_never_raised():
    env = UnmaskVectorEnv(2, task=SometimesTooLongTask(6), model=FakeDiffusionLM(), max_prompt_length=5)
    served = []

    def play() -> None:
        env.reset(seed=1)
        for _ in range(30):  # every step ends both episodes: 60 new prompts, about 12 of them too long
            env.step(torch.ones(2, 6, dtype=torch.bool))
            served.extend(env._book.prompts)

    with pytest.warns(UserWarning, match="skipping prompts of the stream that do not fit") as caught:
        play()
    assert env.skipped_prompts > 0 and not any(prompt.startswith("0") for prompt in served)  # only prompts that fit
    assert sum("skipping prompts" in str(w.message) for w in caught) == 1  # one warning, then a count


def test_info_committed_is_what_the_step_wrote():
    env = UnmaskVectorEnv(4, task=CountingTask(6), model=FakeDiffusionLM(), block_length=2,
                          empty_action="top_confidence", autoreset_mode="NextStep")  # fmt: skip
    obs, _ = env.reset(seed=0)
    actions = torch.Generator().manual_seed(0)
    for _ in range(20):
        before = obs["masked"].clone()
        action = torch.rand(4, 6, generator=actions) < 0.3  # includes positions outside action_mask
        obs, _, _, _, info = env.step(action)
        running_before = before.any(1)
        expected = before & ~obs["masked"]
        assert torch.equal(info["committed"][running_before], expected[running_before])
        assert (info["committed"].sum(1)[running_before] >= 1).all()  # top_confidence commits at least one


def test_top_k_larger_than_the_vocabulary_is_refused_up_front():
    vocab = FakeDiffusionLM().vocab_size
    with pytest.raises(ValueError, match=f"top_k={vocab + 1} exceeds the model's vocabulary size V={vocab}"):
        UnmaskVectorEnv(1, task=CountingTask(4), model=FakeDiffusionLM(), top_k=vocab + 1)


def test_one_prompt_given_to_several_rows_samples_independently_in_each():
    env = UnmaskVectorEnv(4, task="permutation", block_length=None, temperature=1.0)
    obs, _ = env.reset(seed=0, options={"prompts": ["0123456789="] * 4})  # group_size 1: four groups, one prompt
    rows = {tuple(row) for row in obs["pred_token"].tolist()}
    assert len(rows) == 4  # each episode its own noise (the key holds its group and episode index)
    again, _ = UnmaskVectorEnv(4, task="permutation", block_length=None, temperature=1.0).reset(
        seed=0, options={"prompts": ["0123456789="] * 4})  # fmt: skip
    assert torch.equal(again["pred_token"], obs["pred_token"])  # and it is still a pure function of the seed


def test_a_finite_list_keys_noise_by_prompt_alone_so_policies_share_it_at_any_num_envs():
    first = UnmaskVectorEnv(2, task="permutation", block_length=None, temperature=1.0, split="eval", num_prompts=6)
    second = UnmaskVectorEnv(5, task="permutation", block_length=None, temperature=1.0, split="eval", num_prompts=6)
    a, info_a = first.reset(seed=3)
    b, info_b = second.reset(seed=3)
    for row_a, prompt_id in enumerate(info_a["prompt_id"].tolist()):
        row_b = info_b["prompt_id"].tolist().index(prompt_id)
        assert torch.equal(a["pred_token"][row_a], b["pred_token"][row_b])
