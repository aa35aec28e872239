"""On a CUDA device: every tensor stays on the device and seeded runs repeat (skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch

from unmask_gym import UnmaskVectorEnv
from unmask_gym.heuristics import fast_dllm_threshold

pytestmark = pytest.mark.gpu


def run(seed: int) -> list[torch.Tensor]:
    env = UnmaskVectorEnv(16, task="permutation", block_length=None, device="cuda")
    obs, _ = env.reset(seed=seed)
    trace = []
    for _ in range(10):
        for value in obs.values():
            assert value.device.type == "cuda"
        obs, reward, terminated, _truncated, info = env.step(fast_dllm_threshold(0.5)(obs))
        assert reward.device.type == terminated.device.type == info["nfe"].device.type == "cuda"
        trace.append(obs["tokens"].clone())
    return trace


def test_observations_rewards_and_info_stay_on_the_gpu_and_seeded_runs_repeat():
    first, second = run(0), run(0)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_host_actions_are_accepted_by_a_gpu_env():
    env = UnmaskVectorEnv(2, task="permutation", device="cuda")
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(obs["action_mask"].cpu().numpy())
    assert obs["masked"].device.type == "cuda"


def test_a_cuda_env_computes_features_at_the_masked_positions_without_changing_a_trajectory(monkeypatch):
    # The positions reach the device in the step's one packed transfer; the trajectory equals the one with features
    # everywhere on the same device.
    from unmask_gym import dynamics

    def trajectory() -> list[torch.Tensor]:
        env = UnmaskVectorEnv(8, task="permutation", block_length=None, device="cuda", temperature=1.0, top_k=3)
        obs, _ = env.reset(seed=1)
        tokens = []
        for _ in range(12):
            obs, *_ = env.step(fast_dllm_threshold(0.7)(obs))
            tokens.append(torch.cat([obs["tokens"], obs["top_k_tokens"].flatten(1)], 1).cpu())
        return tokens

    monkeypatch.setattr(dynamics, "FEATURE_SKIP_MIN_ELEMENTS", 1)  # restrict even at the built-in vocabulary
    restricted = trajectory()
    original = dynamics.feature_positions
    monkeypatch.setattr(dynamics, "feature_positions",
                        lambda rows, stay, masked, length: original(rows, stay, None, length))  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(restricted, trajectory(), strict=True))


def copied(tree):
    """Nested env outputs copied to the host: a ``reduce-overhead`` step's tensors are overwritten by the next one."""
    if isinstance(tree, dict):
        return {key: copied(value) for key, value in tree.items()}
    if isinstance(tree, tuple | list):
        return type(tree)(copied(value) for value in tree)
    return tree.cpu() if isinstance(tree, torch.Tensor) else tree


@pytest.mark.parametrize("mode", [True, "reduce-overhead"])
def test_a_compiled_cuda_step_gives_the_eager_steps_episodes(mode):
    from test_compiled_step import assert_tree_close

    def play(compile_step) -> list:
        env = UnmaskVectorEnv(16, task="permutation", block_length=4, temperature=1.0, top_k=3, sync_free=True,
                              compile_step=compile_step, device="cuda")  # fmt: skip
        obs, _ = env.reset(seed=5)
        policy, results = fast_dllm_threshold(0.7), []
        for _ in range(40):  # past a bank refill
            step = env.step(policy(obs))
            obs = step[0]
            results.append(copied(step))
        return results

    torch._dynamo.reset()
    assert_tree_close(play(mode), play(False))
