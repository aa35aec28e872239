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
from unmask_gym.wrappers.sb3 import SB3VecEnv, sb3_policy


def test_sb3_vec_env_returns_what_the_vector_env_returns_in_sb3s_layout():
    model = FakeDiffusionLM()
    venv = SB3VecEnv(UnmaskVectorEnv(4, task=CountingTask(4), model=model), observation_keys=["tokens", "confidence"])
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
        return evaluate(make_eval_env(CountingTask(6), 64, 64, **kwargs), sb3_policy(agent), seed=1)

    before = held_out()
    agent.learn(total_timesteps=8192)
    after = held_out()
    assert before.mean_nfe > 2.5 and after.mean_nfe < 1.5  # measured: 3.36 -> 1.00 NFE
    assert after.mean_reward > before.mean_reward + 0.25  # measured: 0.61 -> 1.00


def test_sb3_vec_env_refuses_an_env_that_does_not_reset_within_the_step():
    env = UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM(), autoreset_mode="NextStep")
    with pytest.raises(ValueError, match="SB3VecEnv needs autoreset_mode=SAME_STEP"):
        SB3VecEnv(env)


def test_by_default_a_policy_sees_no_vocabulary_sized_keys():
    venv = SB3VecEnv(UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM(), top_k=2))
    assert set(venv.observation_space.spaces) == {"action_mask", "block", "confidence", "entropy", "margin", "masked",
                                                  "step_frac", "top_k_probs"}  # fmt: skip
    assert set(venv.reset()) == set(venv.observation_space.spaces)
    with pytest.raises(ValueError, match=r"observation_keys must be a non-empty list of the env's keys \["):
        SB3VecEnv(UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM()), observation_keys=["logits"])
    with pytest.raises(ValueError, match="observation_keys"):
        SB3VecEnv(UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM()), observation_keys="confidence")


def test_action_masks_pair_each_position_for_maskable_ppo():
    venv = SB3VecEnv(UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM(), block_length=2))
    obs = venv.reset()
    masks = np.stack(venv.env_method("action_masks"))
    assert masks.shape == (2, 8)
    assert masks[:, 0::2].all()  # leaving a position is always allowed
    assert np.array_equal(masks[:, 1::2], obs["action_mask"])  # committing only inside the current block
    assert np.array_equal(masks[:, 1::2], [[True, True, False, False]] * 2)
    assert np.array_equal(venv.env_method("action_masks", indices=[1])[0], masks[1])


def test_sb3_make_vec_env_works_and_points_to_the_batched_env():
    from stable_baselines3.common.env_util import make_vec_env

    import unmask_gym.single_env

    unmask_gym.single_env.UnmaskEnv._warned = False  # the warning is once per process
    with pytest.warns(UserWarning, match="SB3's make_vec_env builds one UnmaskEnv per sub-env.*vector_entry_point"
                      ".*env_kwargs={'empty_action': 'top_confidence'}"):  # fmt: skip
        venv = make_vec_env("UnmaskGym/Addition-v0", n_envs=2, seed=0)
    unmask_gym.single_env.UnmaskEnv._warned = False
    with pytest.warns(UserWarning, match="builds one UnmaskEnv") as record:  # the setting given: no advice to give it
        make_vec_env("UnmaskGym/Addition-v0", n_envs=2, seed=0, env_kwargs={"empty_action": "top_confidence"})
    assert "env_kwargs" not in str(record[0].message)
    obs = venv.reset()
    assert obs["confidence"].shape == (2, 12)
    frame = venv.render()  # SB3 asked for rgb_array: a strip of cells per env, tiled
    assert frame.dtype == np.uint8 and frame.ndim == 3
    venv.step(np.ones((2, 12), dtype=np.int8))


@pytest.mark.slow
def test_maskable_ppo_learns_through_the_adapter():
    sb3_contrib = pytest.importorskip("sb3_contrib")
    torch.set_num_threads(1)
    kwargs = {"model": FakeDiffusionLM(), "device": "cpu", "empty_action": "top_confidence"}
    venv = SB3VecEnv(UnmaskVectorEnv(16, task=CountingTask(6), **kwargs))
    agent = sb3_contrib.MaskablePPO("MultiInputPolicy", venv, n_steps=32, batch_size=128, n_epochs=4,
                                    learning_rate=1e-3, seed=0, device="cpu")  # fmt: skip

    def held_out() -> EvalResult:
        return evaluate(make_eval_env(CountingTask(6), 64, 64, **kwargs), sb3_policy(agent), seed=1)

    before = held_out()
    agent.learn(total_timesteps=8192)
    after = held_out()
    assert after.mean_nfe < before.mean_nfe - 1 and after.mean_reward > before.mean_reward + 0.2


def test_dqn_refuses_the_per_token_action_and_takes_the_top_k_schedule():
    from stable_baselines3 import DQN

    from unmask_gym.wrappers import VectorTopKAction

    env = UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM())
    with pytest.raises(AssertionError, match=r"only supports .*Discrete.* but MultiBinary\(4\) was provided"):
        DQN("MultiInputPolicy", SB3VecEnv(env), device="cpu")
    agent = DQN("MultiInputPolicy", SB3VecEnv(VectorTopKAction(env)), device="cpu")
    assert agent.action_space.n == 4


@pytest.mark.slow
def test_dqn_learns_a_top_k_schedule():
    from stable_baselines3 import DQN

    from unmask_gym.wrappers import VectorTopKAction
    from unmask_gym.wrappers.actions import top_k_commit

    torch.set_num_threads(1)
    kwargs = {"model": FakeDiffusionLM(), "device": "cpu", "block_length": None}
    venv = SB3VecEnv(VectorTopKAction(UnmaskVectorEnv(16, task=CountingTask(6), **kwargs)))
    agent = DQN("MultiInputPolicy", venv, learning_starts=256, batch_size=128, target_update_interval=200,
                exploration_fraction=0.5, gamma=1.0, seed=0, device="cpu")  # fmt: skip

    def held_out() -> EvalResult:
        def schedule(obs):
            counts, _ = agent.predict({key: obs[key].numpy() for key in venv.observation_space.spaces},
                                      deterministic=True)  # fmt: skip
            return top_k_commit(obs, torch.as_tensor(counts) + 1)

        return evaluate(make_eval_env(CountingTask(6), 64, 64, **kwargs), schedule, seed=1)

    before = held_out()
    agent.learn(total_timesteps=6000)
    after = held_out()
    assert after.mean_reward > before.mean_reward + 0.1 and after.mean_nfe == 1.0  # measured: 0.83 @ 2 -> 1.00 @ 1
