"""``SB3VecEnv``: the batched env under Stable-Baselines3, one forward for all envs per step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO

from unmask_gym import UnmaskVectorEnv
from unmask_gym.evaluation import EvalResult, evaluate, make_eval_env
from unmask_gym.testing import CountingTask, FakeDiffusionLM
from unmask_gym.wrappers.sb3 import SB3VecEnv


def test_sb3_vec_env_returns_what_the_vector_env_returns_in_sb3s_layout():
    model = FakeDiffusionLM()
    venv = SB3VecEnv(UnmaskVectorEnv(4, task=CountingTask(4), model=model))
    twin = UnmaskVectorEnv(4, task=CountingTask(4), model=FakeDiffusionLM())
    venv.seed(3)
    obs = venv.reset()
    twin_obs, _ = twin.reset(seed=3)
    assert all(np.array_equal(obs[key], twin_obs[key].numpy()) for key in obs)
    rng = np.random.default_rng(0)
    calls_before = model.calls
    for _ in range(6):
        actions = (rng.random((4, 4)) < 0.5).astype(np.int8)
        obs, rewards, dones, infos = venv.step(actions)
        twin_obs, twin_reward, terminated, truncated, twin_info = twin.step(torch.as_tensor(actions))
        assert np.array_equal(rewards, twin_reward.numpy()) and np.array_equal(dones, (terminated | truncated).numpy())
        assert all(np.array_equal(obs[key], twin_obs[key].numpy()) for key in obs)
        for row in np.flatnonzero(dones):
            final = twin_info["final_obs"]
            assert np.array_equal(infos[row]["terminal_observation"]["tokens"], final["tokens"][row].numpy())
            assert infos[row]["completion"] == twin_info["final_info"]["completion"][row]
    assert model.calls - calls_before <= 6  # one batched forward per step, never one per env


def test_sb3_ppo_learns_through_the_batched_adapter():
    # On the counting task one pass is right, so the reward's optimum is committing everything at once.
    torch.set_num_threads(1)
    kwargs = {"model": FakeDiffusionLM(), "device": "cpu", "empty_action": "top_confidence"}
    venv = SB3VecEnv(UnmaskVectorEnv(16, task=CountingTask(6), **kwargs))
    agent = PPO("MultiInputPolicy", venv, n_steps=32, batch_size=128, n_epochs=4, learning_rate=1e-3, seed=0,
                device="cpu")  # fmt: skip

    def held_out() -> EvalResult:
        def policy(obs):
            return torch.as_tensor(agent.predict({k: v.numpy() for k, v in obs.items()}, deterministic=True)[0])

        return evaluate(make_eval_env(CountingTask(6), 64, 64, **kwargs), policy, seed=1)

    before = held_out()
    agent.learn(total_timesteps=8192)
    after = held_out()
    assert before.mean_nfe > 2.5 and after.mean_nfe < 1.5  # measured: 3.36 -> 1.00 NFE
    assert after.mean_reward > before.mean_reward + 0.25  # measured: 0.61 -> 1.00


def test_sb3_vec_env_refuses_an_env_that_does_not_reset_within_the_step():
    env = UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM(), autoreset_mode="NextStep")
    with pytest.raises(ValueError, match="SB3VecEnv needs autoreset_mode=SAME_STEP"):
        SB3VecEnv(env)
