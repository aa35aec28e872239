"""PPO: GAE and the clipped losses against hand values, the trainer, the CLI, learning, and training on 2 ranks."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from two_ranks import as_rank, run_two_ranks

from unmask_gym.agents import GRPOTrainer, PolicyConfig, load_policy
from unmask_gym.agents.ppo import PPOConfig, PPOTrainer, clipped_value_loss, generalized_advantages
from unmask_gym.agents.train import main as train_main
from unmask_gym.evaluation import evaluate, make_eval_env
from unmask_gym.testing import CountingTask, FakeDiffusionLM

SMALL = PolicyConfig(width=16, ff_width=32)


def test_gae_by_hand_with_an_episode_end_inside_the_rollout():
    # One env, four steps: an episode terminates at t=1 and another is truncated at t=2 (a time limit).
    rewards = torch.tensor([[0.0], [1.0], [0.0], [0.5]])
    values = torch.tensor([[0.4], [0.6], [0.3], [0.2]])
    terminated = torch.tensor([[False], [True], [False], [False]])
    truncated = torch.tensor([[False], [False], [True], [False]])
    final_values = torch.tensor([[0.0], [0.0], [0.9], [0.0]])  # V(final_obs) of the truncated episode
    next_value = torch.tensor([0.7])
    gamma, lam = 0.9, 0.8
    advantages, returns = generalized_advantages(rewards, values, terminated, truncated, final_values, next_value,
                                                 gamma, lam)  # fmt: skip
    d3 = 0.5 + gamma * 0.7 - 0.2  # bootstraps from the state after the rollout
    d2 = 0.0 + gamma * 0.9 - 0.3  # truncated: bootstraps from the finished episode's last state, trace stops
    d1 = 1.0 + gamma * 0.0 - 0.6  # terminated: the ended episode's value is 0, trace stops
    d0 = 0.0 + gamma * 0.6 - 0.4
    expected = [d0 + gamma * lam * d1, d1, d2, d3]
    assert advantages.flatten().tolist() == pytest.approx(expected, abs=1e-6)
    assert returns.flatten().tolist() == pytest.approx([a + v for a, v in zip(expected, [0.4, 0.6, 0.3, 0.2],
                                                                                 strict=True)], abs=1e-6)  # fmt: skip


def test_value_loss_by_hand_clipped_and_not():
    new, old, returns = torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5]), torch.tensor([1.0, 1.0])
    # unclipped errors: 0, 1; clipped values 0.7 and 0.3 -> errors 0.09, 0.49; max per step: 0.09, 1.0
    assert clipped_value_loss(new, old, returns, 0.2).item() == pytest.approx(0.5 * (0.09 + 1.0) / 2)
    assert clipped_value_loss(new, old, returns, 0.2, clip=False).item() == pytest.approx(0.5 * (0 + 1) / 2)


@pytest.mark.parametrize(("bad", "message"), [
    ({"num_steps": 0}, "num_steps must be an int >= 1"), ({"gamma": 1.5}, "gamma and gae_lambda must lie in"),
    ({"clip_coef": 0.0}, "clip_coef must be > 0"), ({"num_envs": 1, "num_steps": 2}, "num_minibatches=4 exceeds"),
])  # fmt: skip
def test_bad_ppo_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        PPOConfig(**bad)


def small_trainer(**overrides) -> PPOTrainer:
    settings = {"iterations": 3, "num_envs": 8, "num_steps": 4, "block_length": None, "device": "cpu", **overrides}
    return PPOTrainer(PPOConfig(**settings), SMALL, task=CountingTask(6), model=FakeDiffusionLM())


def test_the_rollout_stores_the_executed_actions_and_no_dllm_runs_in_the_update():
    trainer = small_trainer()
    model = trainer.env.model
    rollout, episodes, next_value = trainer.collect()
    assert rollout.action.shape == (4, 8, 6) and rollout.features.shape[:2] == (4, 8)
    assert not (rollout.action & ~rollout.action_mask).any()  # executed actions lie inside the mask
    assert next_value.shape == (8,) and episodes["episodes"] >= 0
    calls = model.calls
    advantages, returns = generalized_advantages(rollout.reward, rollout.value, rollout.terminated,
                                                 rollout.truncated, rollout.final_value, next_value, 1.0, 0.95)
    trainer.update(rollout, advantages, returns)
    assert model.calls == calls


def test_ppo_in_a_sync_free_env_trains_exactly_as_in_a_host_steered_one_and_the_seed_fixes_the_critic():
    runs = []
    for sync_free in (False, True):
        trainer = PPOTrainer(PPOConfig(task="permutation", block_length=4, iterations=2, num_envs=8, num_steps=12,
                                       device="cpu", sync_free=sync_free), SMALL)  # fmt: skip
        assert trainer.env.config.sync_free == sync_free
        torch.rand(3)  # the global RNG moves between the runs: only the seed may decide the agent
        metrics = [{k: v for k, v in m.items() if not k.endswith("seconds")} for m in trainer.run()]
        runs.append((metrics, [parameter.detach().clone() for parameter in trainer.agent.parameters()]))
    assert repr(runs[0][0]) == repr(runs[1][0]) and runs[0][0][-1]["episodes"] > 0  # (repr: nan == nan)
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))


def test_ppo_hands_compile_step_to_its_env():
    trainer = PPOTrainer(PPOConfig(task="permutation", block_length=4, iterations=1, num_envs=8, num_steps=12,
                                   device="cpu", sync_free=True, compile_step=True), SMALL)  # fmt: skip
    assert trainer.env.config.compile_step is True and trainer.env._device_step.mode == "default"


def test_ppo_checkpoints_load_as_policies_and_resume(tmp_path):
    trainer = small_trainer(out=str(tmp_path / "run"), checkpoint_every=1)
    for _ in trainer.run():
        pass
    policy = load_policy(tmp_path / "run")
    assert torch.equal(policy.network.head.weight, trainer.policy.head.weight)
    resumed = PPOTrainer.resume(tmp_path / "run", iterations=4, task=CountingTask(6), model=FakeDiffusionLM())
    assert resumed.iteration == 3 and torch.equal(resumed.agent.value_head.weight, trainer.agent.value_head.weight)
    with pytest.raises(ValueError, match="is a PPO checkpoint; resume it with --algo ppo"):
        GRPOTrainer.resume(tmp_path / "run")


def test_the_cli_refuses_a_flag_of_the_other_algorithm(capsys):
    with pytest.raises(SystemExit):
        train_main(["--algo", "ppo", "--num-groups", "4"])
    assert "--algo ppo has no --num-groups" in capsys.readouterr().err


def test_the_cli_trains_ppo_and_writes_the_run(tmp_path):
    out = tmp_path / "run"
    argv = ["--algo", "ppo", "--task", "addition", "--block-length", "none", "--iterations", "2", "--num-envs", "8",
            "--num-steps", "4", "--width", "16", "--ff-width", "32", "--eval-episodes", "8", "--no-progress",
            "--out", str(out)]  # fmt: skip
    assert train_main(argv) == 0
    assert json.loads((out / "config.json").read_text())["ppo"]["num_steps"] == 4
    assert (out / "policy.pt").exists() and json.loads((out / "eval.json").read_text())["episodes"] == 8


@pytest.mark.slow
def test_ppo_learns_the_one_pass_optimum():
    # On the counting task one pass is right, so the reward's optimum (1.0) is committing everything at once.
    torch.set_num_threads(1)
    trainer = small_trainer(iterations=30, num_envs=32, num_steps=8, learning_rate=1e-3, empty_action="noop")
    kwargs = {"model": FakeDiffusionLM(), "device": "cpu", "block_length": None}
    before = evaluate(make_eval_env(CountingTask(6), 64, 64, **kwargs), trainer.learned_policy(), seed=1)
    for _ in trainer.run():
        pass
    after = evaluate(make_eval_env(CountingTask(6), 64, 64, **kwargs), trainer.learned_policy(), seed=1)
    assert after.mean_reward > before.mean_reward + 0.3 and after.mean_nfe < 1.5, (before, after)


# Two ranks on CPU (gloo), started with torch's multiprocessing launcher as torchrun would.


def rank_worker(rank: int, port: int, algo: str, folder: str) -> None:
    as_rank(rank, port)
    from unmask_gym.agents import GRPOConfig, GRPOTrainer

    if algo == "grpo":
        config = GRPOConfig(iterations=3, num_groups=2, group_size=4, block_length=None, device="cpu", seed=5)
        trainer = GRPOTrainer(config, SMALL, task=CountingTask(6), model=FakeDiffusionLM())
        prompt_ids = trainer.collect(trainer.iteration_seed(0)).prompt_id.tolist()
    else:
        trainer = small_trainer(seed=5)
        prompt_ids = trainer.env.reset(seed=5)[1]["prompt_id"].tolist()
    initial = {key: value.clone() for key, value in trainer.policy.state_dict().items()}
    for _ in trainer.run():
        pass
    torch.save({"initial": initial, "final": trainer.policy.state_dict(), "prompt_ids": prompt_ids},
               f"{folder}/rank{rank}.pt")  # fmt: skip
    trainer.close()


@pytest.mark.parametrize("algo", ["grpo", "ppo"])
def test_two_ranks_end_with_identical_parameters_that_moved(tmp_path, algo):
    if sys.platform == "win32":
        pytest.skip("gloo over TCP on localhost")
    run_two_ranks(rank_worker, algo, str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    for key in ranks[0]["final"]:
        assert torch.equal(ranks[0]["final"][key], ranks[1]["final"][key]), key  # all-reduced: in lockstep
        assert torch.equal(ranks[0]["initial"][key], ranks[1]["initial"][key]), key  # the same initialisation
    assert any(not torch.equal(ranks[0]["initial"][key], ranks[0]["final"][key]) for key in ranks[0]["final"])
    assert not set(ranks[0]["prompt_ids"]) & set(ranks[1]["prompt_ids"])  # each rank its own prompt streams


def eval_worker(rank: int, port: int, folder: str) -> None:
    as_rank(rank, port)
    from unmask_gym.distributed import Distributed
    from unmask_gym.heuristics import top_k_confidence

    distributed = Distributed.from_environment("cpu")
    env = make_eval_env("permutation", episodes=30, num_envs=8, block_length=None, device="cpu")
    assert env.config.prompt_shard == (rank, 2)
    result = evaluate(env, top_k_confidence(k=3), seed=4)
    torch.save(result.records, f"{folder}/records{rank}.pt")
    distributed.close()


def test_two_rank_evaluation_returns_exactly_the_one_process_records(tmp_path):
    from unmask_gym.heuristics import top_k_confidence

    run_two_ranks(eval_worker, str(tmp_path))
    alone = evaluate(make_eval_env("permutation", episodes=30, num_envs=8, block_length=None, device="cpu"),
                     top_k_confidence(k=3), seed=4).records  # fmt: skip
    for rank in range(2):
        records = torch.load(tmp_path / f"records{rank}.pt")
        assert records == alone  # every prompt once, each decoded as in one process; every rank holds them all
    assert [record["prompt_id"] for record in alone] == list(range(30))
