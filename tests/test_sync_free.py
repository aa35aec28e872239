"""``sync_free=True``: the same episodes as the host-steered step, with no host round trip in steady state.

The host-steered step is the reference: on the same seed and actions, every observation, reward, flag and numeric
info must be equal; only the texts are missing (and ``final_obs``/``final_info``/``episode`` are present on every
step, valid where their masks say).
"""

from __future__ import annotations

import re

import pytest
import torch
from gymnasium.vector import AutoresetMode
from test_validation import assert_snapshots_equal, assert_tree_equal, snapshot

from unmask_gym import UnmaskVectorEnv, outputs
from unmask_gym.bank import MIN_BANK_EPISODES, PromptBank, advance
from unmask_gym.heuristics import fast_dllm_threshold
from unmask_gym.models import load_model
from unmask_gym.tasks import make_task
from unmask_gym.testing import CountingTask, FakeDiffusionLM, SyncCounter
from unmask_gym.transfer import HostCopy

TEXTS = ("completion", "_completion", "prompt", "_prompt", "reference", "_reference")
SETTINGS = {
    "semi_ar": {"task": "permutation", "block_length": 4},
    "full": {"task": "sudoku", "block_length": None},
    "sampling": {"task": "permutation", "block_length": 4, "temperature": 1.0, "top_k": 3, "observe_hidden": True},
    "grouped-truncated": {"task": "statetracking", "block_length": 4, "group_size": 4, "max_episode_steps": 9},
    "disabled": {"task": "permutation", "block_length": None, "autoreset_mode": AutoresetMode.DISABLED},
    "budget-additive": {"task": "permutation", "block_length": None, "max_nfe": 4, "reward": "additive"},
    "empty-actions-sampling": {"task": "permutation", "block_length": 4, "temperature": 1.0},
}


def policy_for(name: str):
    """The setting's policy; a fresh one per run (the random one replays its draws)."""
    if name == "budget-additive":  # most episodes run out of passes
        return fast_dllm_threshold(0.5)
    if name == "empty-actions-sampling":  # often selects nothing: those rows keep their sampled prediction
        generator = torch.Generator().manual_seed(0)
        return lambda obs: torch.rand(obs["masked"].shape, generator=generator) < 0.15
    return fast_dllm_threshold(0.7)


def without_texts(info: dict) -> dict:
    """The info with its text keys dropped (sync_free reports none), recursively into final_info."""
    out = {key: value for key, value in info.items() if key not in TEXTS}
    if "final_info" in out:
        out["final_info"] = without_texts(out["final_info"])
    return out


def masked(info: dict, ended: torch.Tensor) -> dict:
    """``final_obs``/``final_info``/``episode`` where the step ended an episode (sync_free always has them)."""
    out = dict(info)
    if not bool(ended.any()):
        for key in ("final_obs", "_final_obs", "final_info", "_final_info", "episode", "_episode"):
            out.pop(key, None)
    return out


def play(setting: dict, sync_free: bool, steps: int, choose) -> list:
    env = UnmaskVectorEnv(16, sync_free=sync_free, **setting)
    obs, info = env.reset(seed=5)
    results = [(obs, without_texts(info))]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(choose(obs))
        if env.autoreset_mode == AutoresetMode.DISABLED and not bool(env.running.any()):
            obs, _ = env.reset(options={"reset_mask": torch.ones(16, dtype=torch.bool)})
        results.append((obs, reward, terminated, truncated, masked(without_texts(info), terminated | truncated)))
    return results


@pytest.mark.parametrize("name", list(SETTINGS))
def test_sync_free_steps_give_the_host_steered_episodes(name):
    setting = SETTINGS[name]
    steps = MIN_BANK_EPISODES + 5  # past a bank refill
    reference, sync_free = play(setting, False, steps, policy_for(name)), play(setting, True, steps, policy_for(name))
    assert_tree_equal(sync_free, reference)
    assert sum(int((result[2] | result[3]).sum()) for result in reference[1:]) > 16  # many ended and restarted
    final = [result[4].get("final_info", result[4]) for result in reference[1:]]  # (DISABLED: the info itself)
    ended = torch.cat([result[2] for result in reference[1:]])
    scores = torch.cat([info["score"] for info in final])[ended]
    exhausted = torch.cat([info["nfe_budget_exhausted"] for info in final])[ended]
    assert scores.sum() > 0  # right answers were scored, on the device and on the host
    if name == "budget-additive":
        assert bool(exhausted.any()) and scores.sum() < len(scores)


def test_all_slots_ending_together_move_each_group_past_its_latest_episode():
    # one step commits every position: all 16 slots end at once, every step (EpisodeBook.advance's full reset)
    setting = {"task": "permutation", "block_length": None, "group_size": 4}
    every = lambda obs: obs["action_mask"]  # noqa: E731
    assert_tree_equal(play(setting, True, 40, every), play(setting, False, 40, every))
    index = torch.tensor([3, 5, 4, 4, 7, 7, 7, 8])
    assert advance(index, torch.ones(8, dtype=torch.bool), 4).tolist() == [6] * 4 + [9] * 4
    assert advance(index, torch.tensor([1, 0, 0, 0, 0, 0, 0, 1], dtype=torch.bool), 4).tolist() == [
        4, 5, 4, 4, 7, 7, 7, 9]  # fmt: skip


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.DISABLED])
def test_a_sync_free_step_makes_no_host_round_trip_but_the_banks_refill(mode):
    env = UnmaskVectorEnv(16, task="permutation", block_length=4, sync_free=True, autoreset_mode=mode)
    obs, _ = env.reset(seed=0)
    policy, syncs, ended = fast_dllm_threshold(0.9), [], 0
    for _ in range(3 * MIN_BANK_EPISODES):
        actions = policy(obs)
        with SyncCounter() as counter:
            obs, _, terminated, truncated, _ = env.step(actions)
        syncs.append((counter.device_to_host, counter.host_to_device))
        ended += int((terminated | truncated).sum())
        if mode == AutoresetMode.DISABLED and not bool(env.running.any()):
            obs, _ = env.reset(options={"reset_mask": torch.ones(16, dtype=torch.bool)})
    assert ended > 16
    refills = [step for step, count in enumerate(syncs) if count != (0, 0)]
    assert all(syncs[step] == (1, 0) for step in refills)
    assert refills == ([MIN_BANK_EPISODES, 2 * MIN_BANK_EPISODES] if mode == AutoresetMode.SAME_STEP else [])


def test_only_sync_free_with_a_named_reward_scores_on_the_device():
    def reward(prompts, completions, **kwargs):
        return [0.0] * len(completions)

    assert not outputs.scores_on_device(make_task("permutation"), load_model("permutation"), reward)
    assert outputs.scores_on_device(make_task("permutation"), load_model("permutation"), "additive")
    assert outputs.scores_on_device(CountingTask(4), FakeDiffusionLM(), "additive")  # the testing pair has twins
    assert UnmaskVectorEnv(2, task="permutation", sync_free=True)._streams.encode_reference is not None
    assert UnmaskVectorEnv(2, task="permutation")._streams.encode_reference is None  # the host scores, as it decodes
    host_scored = UnmaskVectorEnv(2, task="permutation", reward=reward, sync_free=True)
    host_scored.reset(seed=0)
    assert host_scored._streams.encode_reference is None and host_scored._state.reference is None
    assert host_scored._bank.references.shape[2] == 0  # no ids to carry


def test_sync_free_refuses_what_it_cannot_do_without_the_host():
    with pytest.raises(ValueError, match="needs num_prompts=None and autoreset_mode SAME_STEP or DISABLED"):
        UnmaskVectorEnv(2, task="permutation", num_prompts=4, sync_free=True)
    with pytest.raises(ValueError, match="got num_prompts=None, autoreset_mode='NextStep'"):
        UnmaskVectorEnv(2, task="permutation", autoreset_mode=AutoresetMode.NEXT_STEP, sync_free=True)


def scaled_by_nfe(prompts, completions, **kwargs):
    """A callable reward (the host scores it): the verifier's score, less a little per pass."""
    return [score * (1.0 - nfe / 64) for score, nfe in zip(kwargs["scores"], kwargs["nfe"], strict=True)]


def play_with_texts(setting: dict, sync_free: bool, steps: int, choose) -> list:
    """``play`` keeping every info key: a host-scored sync-free env reports what the host-steered one does."""
    env = UnmaskVectorEnv(16, sync_free=sync_free, **setting)
    obs, info = env.reset(seed=5)
    results = [(obs, info)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(choose(obs))
        if env.autoreset_mode == AutoresetMode.DISABLED and not bool(env.running.any()):
            obs, _ = env.reset(options={"reset_mask": torch.ones(16, dtype=torch.bool)})
        results.append((obs, reward, terminated, truncated, info))
    return results


@pytest.mark.parametrize("name", ["semi_ar", "full", "sampling", "grouped-truncated", "disabled"])
def test_a_host_scored_sync_free_step_gives_the_host_steered_episodes_and_infos(name):
    setting = {**SETTINGS[name], "reward": scaled_by_nfe}
    steps = MIN_BANK_EPISODES + 5  # past a bank refill
    reference = play_with_texts(setting, False, steps, policy_for(name))
    assert_tree_equal(play_with_texts(setting, True, steps, policy_for(name)), reference)
    final = [result[4].get("final_info", result[4]) for result in reference[1:]]
    completions = [text for info in final if "completion" in info for text in info["completion"] if text is not None]
    assert len(completions) > 16 and sum(float(result[1].sum()) for result in reference[1:]) > 0


def test_a_host_scored_sync_free_step_waits_once_and_only_after_the_forward_is_queued(monkeypatch):
    env = UnmaskVectorEnv(16, task="permutation", block_length=4, reward=scaled_by_nfe, sync_free=True, device="cpu")
    obs, _ = env.reset(seed=0)
    events = []  # (on CUDA the copy is non-blocking, its wait an event's: the exactness test above runs there too)
    logits = env.model.logits
    monkeypatch.setattr(
        env.model, "logits", lambda *args, **kwargs: events.append("forward") or logits(*args, **kwargs)
    )
    wait = HostCopy.wait
    monkeypatch.setattr(HostCopy, "wait", lambda self: events.append("wait") or wait(self))
    policy, syncs, ended = fast_dllm_threshold(0.9), [], 0
    for _ in range(2 * MIN_BANK_EPISODES):
        actions = policy(obs)
        events.clear()
        with SyncCounter() as counter:
            obs, _, terminated, truncated, _ = env.step(actions)
        assert events == ["forward", "wait"]
        syncs.append((counter.device_to_host, counter.host_to_device))
        ended += int((terminated | truncated).sum())
    assert ended > 16
    assert syncs.count((2, 0)) == 1 and syncs[MIN_BANK_EPISODES] == (2, 0)  # the refill's read, then the wait
    assert all(count == (1, 0) for count in syncs[:MIN_BANK_EPISODES] + syncs[MIN_BANK_EPISODES + 1 :])


def test_a_reset_mid_stream_catches_the_host_up_with_the_device():
    env, twin = (UnmaskVectorEnv(8, task="permutation", block_length=4, group_size=2, sync_free=free)
                 for free in (True, False))  # fmt: skip
    obs, _ = env.reset(seed=1)
    twin.reset(seed=1)
    policy = fast_dllm_threshold(0.9)
    for _ in range(20):
        action = policy(obs)
        obs, *_ = env.step(action)
        twin.step(action)
    mask = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0], dtype=torch.bool)
    assert_tree_equal(env.reset(options={"reset_mask": mask}), twin.reset(options={"reset_mask": mask}))
    assert env._book.prompts == twin._book.prompts and env._book.episode_index.tolist() == (
        twin._book.episode_index.tolist())  # fmt: skip
    prompts = {"prompts": ["0123=", "5567=", "1189=", "0001="]}  # given prompts, scored against derived references
    obs, info = env.reset(options=prompts)
    assert_tree_equal((obs, info), twin.reset(options=prompts))
    for _ in range(12):
        action = policy(obs)
        result, twin_result = env.step(action), twin.step(action)
        assert_tree_equal(result[:4], twin_result[:4])
        obs = result[0]


@pytest.mark.parametrize(("reference", "message"), [
    ("3€", "Counting reference '3€' cannot be scored: text '3€' holds character '€'"),
    (34, "a Counting reference must be a str, got 34 of type int"),
])  # fmt: skip
def test_a_reference_the_device_cannot_score_is_refused_before_anything_changes(reference, message):
    env = UnmaskVectorEnv(4, task=CountingTask(4), model=FakeDiffusionLM(), group_size=2, sync_free=True)
    env.reset(seed=0)
    before = snapshot(env)
    with pytest.raises(ValueError, match=re.escape(message)):
        env.reset(options={"prompts": ["1:123", "2:345"], "references": ["1", reference]})
    assert_snapshots_equal(before, snapshot(env))


def test_the_sb3_and_torchrl_wrappers_see_the_same_episodes_through_a_sync_free_env():
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("torchrl")
    import numpy as np

    from unmask_gym.wrappers.sb3 import SB3VecEnv
    from unmask_gym.wrappers.torchrl import TorchRLEnv

    steps, rollouts = [], []
    for sync_free in (False, True):
        venv = SB3VecEnv(UnmaskVectorEnv(8, task="permutation", block_length=4, sync_free=sync_free))
        venv.seed(3)
        venv.reset()
        generator, seen = np.random.default_rng(0), []
        for _ in range(30):
            _, reward, dones, infos = venv.step((generator.random((8, 16)) < 0.6).astype(np.int8))
            ends = [(info["episode"], info["terminal_observation"]["confidence"].tolist()) for info in infos if info]
            seen.append((reward.tolist(), dones.tolist(), ends))
        steps.append(seen)
        env = TorchRLEnv(UnmaskVectorEnv(8, task="permutation", block_length=4, sync_free=sync_free))
        env.set_seed(3)
        torch.manual_seed(0)  # the rollout's random actions
        rollouts.append(env.rollout(30, break_when_any_done=False))
    assert steps[0] == steps[1] and sum(sum(dones) for _, dones, _ in steps[0]) > 8
    assert all(torch.equal(rollouts[0][key], rollouts[1][key]) for key in rollouts[0].keys(True, True))


def test_a_refill_slides_the_bank_and_equals_a_bank_built_afresh():
    env = UnmaskVectorEnv(16, task="permutation", block_length=None, group_size=4, sync_free=True)
    obs, _ = env.reset(seed=2)
    policy = fast_dllm_threshold(0.9)
    for _ in range(MIN_BANK_EPISODES - 1):
        obs, *_ = env.step(policy(obs))
    index = env._state.episode_index.cpu().numpy()
    slid = PromptBank.build(env._streams, index, env.config, env.model, env.device, previous=env._bank)
    fresh = PromptBank.build(env._streams, index, env.config, env.model, env.device)
    assert bool((slid.first > env._bank.first).any())  # the groups moved on: episodes were slid and added
    for name in ("tokens", "lengths", "references", "prompt_id", "first"):
        assert torch.equal(getattr(slid, name), getattr(fresh, name)), name
    assert slid.lasts == fresh.lasts


def test_decode_answers_gives_the_completions_the_host_steered_info_holds():
    env, twin = (UnmaskVectorEnv(8, task="permutation", block_length=4, sync_free=free) for free in (False, True))
    obs, _ = env.reset(seed=4)
    twin.reset(seed=4)
    policy, compared = fast_dllm_threshold(0.7), 0
    for _ in range(20):
        action = policy(obs)
        obs, _, terminated, _, info = env.step(action)
        _, _, _, _, twin_info = twin.step(action)
        ended = terminated.nonzero()[:, 0]
        if len(ended):
            expected = info["final_info"]["completion"][ended.numpy()].tolist()
            assert env.decode_answers(info["final_obs"]["tokens"][ended]) == expected
            assert twin.decode_answers(twin_info["final_obs"]["tokens"][ended]) == expected
            compared += len(ended)
    assert compared > 8
    with pytest.raises(ValueError, match=re.escape("tokens must be integer ids of shape (R, L=16), got (16,)")):
        env.decode_answers(torch.zeros(16, dtype=torch.long))
