"""``TorchRLEnv``: TorchRL's spec check on the batched env, both autoreset modes, and what ("next", obs) holds."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from gymnasium.vector import AutoresetMode

pytest.importorskip("torchrl")

from tensordict.nn import TensorDictModule
from torchrl.envs.utils import check_env_specs

from unmask_gym import UnmaskVectorEnv
from unmask_gym.heuristics import top_k_confidence
from unmask_gym.testing import CountingTask, FakeDiffusionLM
from unmask_gym.wrappers.torchrl import TorchRLEnv


def env_for(mode: str, num_envs: int = 4) -> TorchRLEnv:
    return TorchRLEnv(UnmaskVectorEnv(num_envs, task=CountingTask(6), model=FakeDiffusionLM(), block_length=None,
                                      autoreset_mode=mode))  # fmt: skip


@pytest.mark.parametrize("mode", ["SameStep", "Disabled"])
def test_check_env_specs_passes_on_the_batched_env(mode):
    check_env_specs(env_for(mode))


def test_check_env_specs_passes_on_a_registered_id():
    venv = gym.make_vec("UnmaskGym/Addition-v0", num_envs=4, vectorization_mode="vector_entry_point")
    env = TorchRLEnv(venv)
    check_env_specs(env)
    assert env.observation_spec["block"].dtype == torch.int64 and "tokens" not in env.observation_spec.keys()


def test_next_step_autoreset_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="TorchRLEnv needs autoreset_mode SAME_STEP or DISABLED"):
        env_for("NextStep")


def test_unknown_observation_keys_are_refused():
    venv = UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM())
    with pytest.raises(ValueError, match="observation_keys must be a non-empty list"):
        TorchRLEnv(venv, observation_keys=["logits"])


def top_k_policy(k: int) -> TensorDictModule:
    rule = top_k_confidence(k)

    def act(confidence: torch.Tensor, masked: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
        return rule({"confidence": confidence, "masked": masked, "action_mask": action_mask})

    return TensorDictModule(act, in_keys=["confidence", "masked", "action_mask"], out_keys=["action"])


def test_both_modes_give_the_same_transitions_and_next_holds_the_final_observation():
    rollouts = {}
    for mode in ("SameStep", "Disabled"):
        env = env_for(mode)
        env.set_seed(3)
        rollouts[mode] = env.rollout(12, policy=top_k_policy(2), break_when_any_done=False)
    same, disabled = rollouts["SameStep"], rollouts["Disabled"]
    assert same["next", "done"].any()  # episodes (3 steps at k=2 on L=6) ended and restarted inside the rollout
    for key in ("confidence", "masked", "action_mask", "step_frac"):
        assert torch.equal(same[key], disabled[key]), key
        assert torch.equal(same["next", key], disabled["next", key]), key
    assert torch.equal(same["next", "reward"], disabled["next", "reward"])
    done = same["next", "done"].squeeze(-1)
    assert not same["next", "masked"][done].any()  # ("next", obs) of an ended episode is its final, complete state
    assert same["masked"][:, 1:][done[:, :-1]].all()  # and the step after it starts a fresh, fully masked one


def test_the_first_reset_after_set_seed_repeats():
    env = env_for("SameStep")
    env.set_seed(7)
    first = env.reset()
    env.set_seed(7)
    assert torch.equal(env.reset()["confidence"], first["confidence"])


def row_policy(td):
    """Row 0 commits everything (its episodes end inside the env every step), the others nothing (noop)."""
    action = torch.zeros_like(td["action_mask"])
    action[0] = td["action_mask"][0]
    td["action"] = action
    return td


@pytest.mark.parametrize("mode", ["same_step", "disabled"])
def test_a_row_torchrl_truncates_itself_restarts_exactly(mode):
    from torchrl.envs import StepCounter, TransformedEnv

    autoreset = AutoresetMode.SAME_STEP if mode == "same_step" else AutoresetMode.DISABLED
    base = UnmaskVectorEnv(2, task=CountingTask(8), model=FakeDiffusionLM(), block_length=None,
                           autoreset_mode=autoreset)  # fmt: skip
    env = TransformedEnv(TorchRLEnv(base), StepCounter(max_steps=3))
    data = env.rollout(10, row_policy, break_when_any_done=False)
    steps = data["step_count"].reshape(10, 2)
    fraction = data["step_frac"].reshape(10, 2)
    assert (steps[:, 1] == 0).sum() >= 3  # row 1 was truncated by TorchRL and restarted several times
    assert torch.equal(fraction * 8, steps.float())  # the env's episode restarted whenever TorchRL's did


def test_a_collectors_max_frames_per_traj_restarts_the_rows_it_cuts():
    from torchrl.collectors import Collector

    env = TorchRLEnv(UnmaskVectorEnv(2, task=CountingTask(8), model=FakeDiffusionLM(), block_length=None))
    collector = Collector(env, row_policy, frames_per_batch=20, total_frames=20, max_frames_per_traj=3)
    batch = next(iter(collector))
    collector.shutdown()
    steps = batch["step_count"].reshape(2, -1).T
    assert torch.equal(batch["step_frac"].reshape(2, -1).T * 8, steps.float())
