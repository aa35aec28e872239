"""A step waits for the device at most twice: once to learn which episodes ended, once for opt-in action checks.

On CPU ``SyncCounter`` counts the calls that would synchronise on an accelerator; on a GPU (the ``gpu`` test)
``torch.cuda.set_sync_debug_mode`` counts the real ones.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym import UnmaskVectorEnv
from unmask_gym.heuristics import fast_dllm_threshold, top_k_confidence
from unmask_gym.testing import SyncCounter

SETTINGS = {
    "semi_ar": {"block_length": 4},
    "full": {"block_length": None},
    "next_step": {"block_length": 4, "autoreset_mode": AutoresetMode.NEXT_STEP},
    "disabled": {"block_length": 4, "autoreset_mode": AutoresetMode.DISABLED},
    "sampling": {"block_length": 4, "temperature": 1.0, "top_k": 3},
    "grouped": {"block_length": 4, "group_size": 4, "max_episode_steps": 3},
    "top_confidence": {"block_length": 4, "empty_action": "top_confidence"},
}


def nfe_penalised(prompts, completions, **kwargs):
    """A callable reward: a sync-free env scores it on the host, waiting for the answers' copy once a step."""
    return [score - nfe / 64 for score, nfe in zip(kwargs["scores"], kwargs["nfe"], strict=True)]


SETTINGS_GPU = {**SETTINGS, "host_scored": {"block_length": 4, "reward": nfe_penalised}}


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_a_step_makes_one_device_to_host_sync_and_no_blocking_host_to_device_copy(setting):
    env = UnmaskVectorEnv(16, task="permutation", **SETTINGS[setting])
    obs, _ = env.reset(seed=0)
    policy = fast_dllm_threshold(0.9)
    ended = 0
    for _ in range(12):
        actions = policy(obs)
        with SyncCounter() as counter:
            obs, _, terminated, truncated, _ = env.step(actions)
        assert (counter.device_to_host, counter.host_to_device) == (1, 0), counter.calls
        ended += int((terminated | truncated).sum())
        if setting == "disabled" and not env.running.any():
            obs, _ = env.reset(options={"reset_mask": torch.ones(16, dtype=torch.bool)})
    assert ended > 0  # episode ends, decoding, scoring and restarts were inside the count


def test_opt_in_action_checks_add_one_sync():
    env = UnmaskVectorEnv(8, task="permutation", block_length=4, strict=True, empty_action="error")
    obs, _ = env.reset(seed=0)
    with SyncCounter() as counter:
        env.step(top_k_confidence(1)(obs))
    assert (counter.device_to_host, counter.host_to_device) == (2, 0), counter.calls


def test_the_counter_sees_what_would_synchronise():
    x = torch.arange(6)
    with SyncCounter() as counter:
        host = (x + 1).cpu()  # (on CPU .cpu() returns its own tensor: a fresh one keeps x a "device" tensor)
        host[1:].tolist()  # already on the host: free
        torch.as_tensor([1, 2]).sum().item()  # born on the host: free
        x[x > 2]  # a bool index sizes its output from values
        x.sum().item()
        x.to("cpu")
        x.to(torch.float32)  # a dtype change stays on the device
    assert (counter.device_to_host, counter.host_to_device) == (3, 1), counter.calls


@pytest.mark.gpu
@pytest.mark.parametrize(("setting", "sync_free"), [("semi_ar", False), ("full", False), ("sampling", False),
                                                   ("semi_ar", True), ("full", True), ("sampling", True),
                                                   ("disabled", True), ("host_scored", True)])  # fmt: skip
def test_a_cuda_step_synchronises_at_most_twice_and_a_sync_free_one_only_to_refill(setting, sync_free):
    env = UnmaskVectorEnv(64, task="permutation", device="cuda", sync_free=sync_free, **SETTINGS_GPU[setting])
    obs, _ = env.reset(seed=0)
    policy = fast_dllm_threshold(0.9)
    for _ in range(3):
        obs, *_ = env.step(policy(obs))  # warm-up: allocator and kernels
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        for _ in range(20):
            actions = policy(obs)
            refill = env._bank is not None and env._bank_age >= env._bank.lasts
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                obs, *_ = env.step(actions)
            syncs = [str(item.message) for item in caught if "synchroniz" in str(item.message)]
            waits = int(refill) + (setting == "host_scored")  # its wait comes after the forward is queued
            assert len(syncs) <= (waits if sync_free else 2), syncs
            if setting == "disabled" and not bool(env.running.any()):
                torch.cuda.set_sync_debug_mode("default")
                obs, _ = env.reset(options={"reset_mask": torch.ones(64, dtype=torch.bool, device="cuda")})
                torch.cuda.set_sync_debug_mode("warn")
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_no_heuristic_synchronises():
    from unmask_gym.heuristics import HEURISTICS, make_policy

    env = UnmaskVectorEnv(8, task="permutation", block_length=4, top_k=3)  # top_k_probs: renormalized_confidence
    obs, _ = env.reset(seed=0)
    for name in HEURISTICS:
        with SyncCounter() as counter:
            make_policy(name)(obs)
        assert (counter.device_to_host, counter.host_to_device) == (0, 0), (name, counter.calls)
