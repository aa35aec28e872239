"""GRPO: advantages and the clipped loss against hand values, rollouts, warm start, resume, CLI and learning."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
import subprocess
import sys

import pytest
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym.agents import (
    GRPOConfig,
    GRPOTrainer,
    PolicyConfig,
    UnmaskingPolicy,
    clipped_surrogate_loss,
    group_advantages,
    load_policy,
    log_prob,
)
from unmask_gym.agents.distribution import highest_logit, most_likely_action
from unmask_gym.agents.grpo import MDP_KEYS
from unmask_gym.agents.rollout import collect
from unmask_gym.agents.train import config_fields
from unmask_gym.agents.train import main as train_main
from unmask_gym.env import UnmaskVectorEnv
from unmask_gym.evaluation import evaluate, make_eval_env
from unmask_gym.heuristics import fast_dllm_threshold
from unmask_gym.testing import CountingTask, FakeDiffusionLM

SMALL = PolicyConfig(width=16, ff_width=32)


def small_trainer(model: FakeDiffusionLM | None = None, **overrides) -> GRPOTrainer:
    settings = {"iterations": 4, "num_groups": 2, "group_size": 4, "block_length": None, "device": "cpu",
                **overrides}  # fmt: skip
    return GRPOTrainer(GRPOConfig(**settings), SMALL, task=CountingTask(6), model=model or FakeDiffusionLM())


def test_group_advantages_subtract_the_group_mean_and_optionally_divide_by_its_std():
    rewards = torch.tensor([1.0, 0.0, 0.5, 0.2, 0.4, 0.9])
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    centred = group_advantages(rewards, groups)
    assert centred.tolist() == pytest.approx([0.5, -0.5, 0.0, -0.3, -0.1, 0.4], abs=1e-6)
    std = [0.5, math.sqrt((0.09 + 0.01 + 0.16) / 2)]  # unbiased group stds
    scaled = group_advantages(rewards, groups, normalize_std=True)
    expected = [0.5 / (std[0] + 1e-4), -0.5 / (std[0] + 1e-4), 0.0, -0.3 / (std[1] + 1e-4), -0.1 / (std[1] + 1e-4),
                0.4 / (std[1] + 1e-4)]  # fmt: skip
    assert scaled.tolist() == pytest.approx(expected, rel=1e-5)
    assert group_advantages(torch.tensor([0.7, 0.7]), torch.tensor([0, 0]), normalize_std=True).tolist() == [0, 0]


def test_the_clipped_loss_matches_hand_values_inside_and_outside_the_clip():
    ratios = torch.tensor([1.2, 2.0, 0.3, 0.3, 2.0])
    advantages = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0])
    weights = torch.tensor([1.0, 0.5, 0.5, 1.0, 1.0])
    # clip 0.5: min(r A, clip(r, 0.5, 1.5) A) = 1.2, 1.5 (clipped), 0.3, -0.5 (clipped), -2.0
    surrogate = [1.2, 1.5, 0.3, -0.5, -2.0]
    expected = -sum(w * s for w, s in zip(weights.tolist(), surrogate, strict=True)) / weights.sum().item()
    loss = clipped_surrogate_loss(ratios.log(), torch.zeros(5), advantages, weights, clip_coef=0.5)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    new = ratios.log().requires_grad_()
    clipped_surrogate_loss(new, torch.zeros(5), advantages, weights, 0.5).backward()
    assert new.grad[1] == 0 and new.grad[3] == 0 and new.grad[0] != 0 and new.grad[4] != 0  # clipped: no gradient


def test_rollouts_group_by_group_and_episode_index_and_store_what_the_env_committed():
    env = UnmaskVectorEnv(6, task=CountingTask(6), model=FakeDiffusionLM(), group_size=3,
                          autoreset_mode=AutoresetMode.DISABLED, block_length=None)  # fmt: skip
    network = GRPOTrainer.__new__(GRPOTrainer)  # only a network is needed: build one directly
    from unmask_gym.agents import UnmaskingPolicy

    network = UnmaskingPolicy(SMALL)
    committed = []

    def choose(obs, logits):
        action = fast_dllm_threshold(0.15)(obs)
        committed.append(action[obs["action_mask"].any(1)])
        return action

    rollouts = collect(env, network, seed=7, choose=choose)
    assert rollouts.group_key == [(0, 0)] * 3 + [(1, 0)] * 3
    assert rollouts.prompt_id[:3].unique().numel() == 1 and rollouts.prompt_id[3:].unique().numel() == 1
    assert torch.equal(rollouts.action, torch.cat(committed))  # heuristics never commit outside action_mask
    assert rollouts.num_steps == int(rollouts.nfe.sum())
    assert torch.equal(torch.bincount(rollouts.episode, minlength=6), rollouts.nfe)
    assert bool(rollouts.correct.all())  # the fake dLLM predicts the right answer


def test_rollouts_are_the_same_whether_collect_checks_for_running_episodes_every_step_or_every_few():
    network = UnmaskingPolicy(SMALL)
    sampled = []
    for check_every in (1, 4, 1000):
        env = UnmaskVectorEnv(8, task="permutation", group_size=4, autoreset_mode=AutoresetMode.DISABLED,
                              block_length=None)  # fmt: skip
        sampled.append(collect(env, network, seed=3, choose=lambda obs, logits: fast_dllm_threshold(0.5)(obs),
                               check_every=check_every))  # fmt: skip
    for rollouts in sampled[1:]:
        for name in ("features", "condition", "action_mask", "action", "fallback", "old_log_prob", "episode", "reward",
                     "score", "correct", "nfe", "prompt_id"):  # fmt: skip
            assert torch.equal(getattr(rollouts, name), getattr(sampled[0], name)), name
    assert sampled[0].num_steps == int(sampled[0].nfe.sum())  # only the running rows' steps are stored


def score_less_nfe(prompts, completions, **kwargs):
    """A callable reward, which a sync-free env scores on the host."""
    return [score - nfe / 32 for score, nfe in zip(kwargs["scores"], kwargs["nfe"], strict=True)]


@pytest.mark.parametrize("reward", ["multiplicative", score_less_nfe])
def test_grpo_in_sync_free_envs_trains_exactly_as_in_host_steered_ones(reward):
    runs = []
    for sync_free in (False, True):
        trainer = GRPOTrainer(GRPOConfig(task="permutation", block_length=None, iterations=2, num_groups=2,
                                         group_size=4, device="cpu", expert_steering=True, sync_free=sync_free,
                                         reward=reward), SMALL)  # fmt: skip
        assert trainer.env.config.sync_free == sync_free == trainer.expert_env.config.sync_free
        assert trainer.env._scores_on_device == (sync_free and not callable(reward))  # a callable: the host scores
        metrics = [{k: v for k, v in m.items() if not k.endswith("seconds")} for m in trainer.run()]
        runs.append((metrics, [parameter.detach().clone() for parameter in trainer.policy.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))


@pytest.mark.slow
def test_grpo_with_a_compiled_step_trains_as_with_the_eager_one():
    runs = []
    for compile_step in (False, True):
        trainer = GRPOTrainer(GRPOConfig(task="permutation", block_length=None, iterations=2, num_groups=2,
                                         group_size=4, device="cpu", sync_free=True, compile_step=compile_step),
                              SMALL)  # fmt: skip
        assert trainer.env._device_step.mode == ("default" if compile_step else None)
        metrics = [{k: v for k, v in m.items() if not k.endswith("seconds")} for m in trainer.run()]
        runs.append((metrics, [parameter.detach().clone() for parameter in trainer.policy.parameters()]))
    (eager, eager_parameters), (compiled, compiled_parameters) = runs
    assert [m.keys() for m in compiled] == [m.keys() for m in eager]
    for compiled_metrics, eager_metrics in zip(compiled, eager, strict=True):  # features within float rounding
        assert all(compiled_metrics[key] == pytest.approx(value, rel=1e-4, abs=1e-6, nan_ok=True)
                   for key, value in eager_metrics.items()), (compiled_metrics, eager_metrics)  # fmt: skip
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(compiled_parameters, eager_parameters, strict=True))


@pytest.mark.parametrize("arguments", [{"compile_step": True}, {"compile_step": "reduce-overhead", "sync_free": True}])
def test_the_trainers_compile_the_sync_free_step_only_without_cuda_graphs(arguments):
    from unmask_gym.agents.ppo import PPOConfig

    for config in (GRPOConfig, PPOConfig):
        with pytest.raises(ValueError, match="compile_step must be a bool and needs sync_free=True"):
            config(task="permutation", **arguments)


def test_the_log_prob_is_of_the_action_the_env_executed():
    # A policy that asks for nothing; with empty_action="top_confidence" the env commits its most confident
    # position, and the stored log-prob must be of that executed action: p_j prod(1 - p_i) + prod(1 - p_i).
    env = UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM(), empty_action="top_confidence",
                          autoreset_mode=AutoresetMode.DISABLED, block_length=None)  # fmt: skip
    from unmask_gym.agents import UnmaskingPolicy

    network = UnmaskingPolicy(PolicyConfig(width=16, init_bias=-1.0))  # every logit -1
    rollouts = collect(env, network, seed=0, choose=lambda obs, logits: torch.zeros_like(obs["action_mask"]))
    assert (rollouts.action.sum(1) == 1).all()  # the env committed one position per step although none was asked
    p = 1 / (1 + math.exp(1.0))
    for step in range(rollouts.num_steps):
        selectable = int(rollouts.action_mask[step].sum())
        assert rollouts.old_log_prob[step].item() == pytest.approx((selectable - 1) * math.log(1 - p), rel=1e-5)
    plain = log_prob(torch.full((1, 4), -1.0), rollouts.action[:1], rollouts.action_mask[:1])
    assert plain.item() < rollouts.old_log_prob[0].item()  # ignoring the fallback would under-count it


def test_an_update_never_calls_the_dllm():
    model = FakeDiffusionLM()
    trainer = small_trainer(model)
    rollouts = trainer.collect(trainer.iteration_seed(0))
    calls, rows = model.calls, model.rows
    assert calls > 0
    before = [parameter.detach().clone() for parameter in trainer.policy.parameters()]
    metrics = trainer.update(rollouts)
    assert (model.calls, model.rows) == (calls, rows)
    assert metrics["grad_norm"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.policy.parameters(), strict=True))


def test_expert_steering_adds_one_heuristic_rollout_per_group_on_the_same_prompt():
    trainer = small_trainer(expert_steering=True, expert="fast_dllm_threshold:threshold=0.15")
    rollouts = trainer.collect(trainer.iteration_seed(0))
    assert rollouts.num_episodes == 2 * (4 + 1) and int(rollouts.is_expert.sum()) == 2
    assert rollouts.group_key[8:] == [(0, 0), (1, 0)]  # expert row g joins policy group g
    assert torch.equal(rollouts.prompt_id[8:], rollouts.prompt_id[:8:4])
    expert_env = UnmaskVectorEnv(2, task=CountingTask(6), model=FakeDiffusionLM(), block_length=None,
                                 autoreset_mode=AutoresetMode.DISABLED)  # fmt: skip
    obs, _ = expert_env.reset(seed=trainer.iteration_seed(0))
    nfe = torch.zeros(2, dtype=torch.long)
    while expert_env.running.any():
        obs, _, terminated, _, info = expert_env.step(fast_dllm_threshold(0.15)(obs))
        nfe = torch.where(terminated, info["nfe"], nfe)
    assert torch.equal(rollouts.nfe[8:], nfe)


def test_the_imitation_warm_start_reaches_its_agreement_on_held_out_steps():
    trainer = small_trainer(
        iterations=0, warm_start=True, warm_start_learning_rate=3e-3, expert="fast_dllm_threshold:threshold=0.15"
    )
    assert list(trainer.run()) == []
    result = trainer.warm_start_result
    assert result["agreement"] >= 0.9 and result["epochs"] >= 1
    # Independently: on new prompts the network's most likely action is the heuristic's on >= 90% of steps.
    heuristic = fast_dllm_threshold(0.15)
    fresh = collect(trainer.env, trainer.policy, seed=12345, choose=lambda obs, logits: heuristic(obs))
    with torch.no_grad():
        logits = trainer.policy(fresh.features, fresh.condition)
    chosen = most_likely_action(logits, fresh.action_mask, highest_logit(logits, fresh.action_mask))
    assert (chosen == fresh.action).all(1).float().mean().item() >= 0.9


def test_env_kwargs_are_exactly_the_mdp_settings():
    trainer = small_trainer()
    kwargs = trainer.env_kwargs
    assert tuple(kwargs) == MDP_KEYS
    assert kwargs["block_length"] is None and kwargs["task"] == "Counting" and kwargs["max_nfe"] == 6
    assert trainer.policy.config.tau_eval == 1.0  # full diffusion; with blocks the paper's 0.5
    assert small_trainer(block_length=2).policy.config.tau_eval == 0.5


def test_a_trainer_checkpoint_round_trips(tmp_path):
    trainer = small_trainer(iterations=2, out=str(tmp_path), checkpoint_every=1)
    list(trainer.run())
    loaded = load_policy(tmp_path)  # the run folder's policy.pt
    assert all(torch.equal(a, b) for a, b in zip(loaded.network.state_dict().values(),
                                                 trainer.policy.state_dict().values(), strict=True))  # fmt: skip
    assert loaded.env_kwargs == trainer.env_kwargs
    resumed = GRPOTrainer.resume(tmp_path, task=CountingTask(6), model=FakeDiffusionLM())
    assert resumed.iteration == 2 and resumed.config == trainer.config
    assert resumed.optimizer.state_dict()["state"][0]["step"] == trainer.optimizer.state_dict()["state"][0]["step"]
    with pytest.raises(ValueError, match=re.escape("holds a policy only, no trainer state to resume from")):
        GRPOTrainer.resume(tmp_path / "policy.pt", task=CountingTask(6), model=FakeDiffusionLM())


@pytest.mark.filterwarnings("ignore:imitation warm start stopped")  # 3 epochs: it must run, not converge
def test_resume_equals_the_uninterrupted_run(tmp_path):
    settings = {"iterations": 4, "checkpoint_every": 2, "expert_steering": True, "warm_start": True,
                "warm_start_max_epochs": 3, "expert": "fast_dllm_threshold:threshold=0.15"}  # fmt: skip
    uninterrupted = small_trainer(out=str(tmp_path / "a"), **settings)
    full = list(uninterrupted.run())
    interrupted = small_trainer(out=str(tmp_path / "b"), **settings)
    for metrics in interrupted.run():
        if metrics["iteration"] == 2:
            break  # the process dies after the checkpoint of iteration 2
    resumed = GRPOTrainer.resume(tmp_path / "b", task=CountingTask(6), model=FakeDiffusionLM())
    rest = list(resumed.run())
    for a, b in zip(uninterrupted.policy.parameters(), resumed.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    timing = ("rollout_seconds", "update_seconds")
    assert [{k: v for k, v in m.items() if k not in timing} for m in full[2:]] == [
        {k: v for k, v in m.items() if k not in timing} for m in rest
    ]
    assert full[2]["loss"] != full[3]["loss"]  # the compared iterations did train


def test_bad_trainer_settings_are_refused():
    with pytest.raises(ValueError, match=re.escape("group_size must be an int >= 1, got 0")):
        GRPOConfig(group_size=0)
    with pytest.raises(ValueError, match=re.escape('empty_action="error" would stop training')):
        GRPOConfig(empty_action="error", policy_fallback=False)


def test_a_run_with_the_position_feature_and_an_answer_length_resumes_from_its_own_command(tmp_path):
    # The policy's embedded positions (num_positions) are its own field, not the env's --answer-length flag.
    out = tmp_path / "run"
    argv = ["--task", "addition", "--block-length", "none", "--answer-length", "12", "--iterations", "1",
            "--num-groups", "1", "--group-size", "4", "--width", "16", "--ff-width", "32", "--features",
            "confidence,masked,step_frac,position", "--eval-episodes", "0", "--checkpoint-every", "1", "--out",
            str(out), "--no-progress"]  # fmt: skip
    assert train_main(argv) == 0
    assert load_policy(out).config.num_positions == 12
    longer = [*argv[:argv.index("--iterations")], "--iterations", "2", *argv[argv.index("--iterations") + 2:]]
    assert train_main([*longer, "--resume", str(out)]) == 0
    with (out / "metrics.csv").open() as file:
        assert [row["iteration"] for row in csv.DictReader(file)] == ["1", "2"]


def test_the_train_command_writes_its_run_folder_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--task", "addition", "--block-length", "none", "--alpha", "2", "--iterations", "2", "--num-groups", "1",
            "--group-size", "4", "--width", "16", "--ff-width", "32", "--eval-episodes", "8", "--checkpoint-every",
            "1", "--out", str(out), "--no-progress"]  # fmt: skip
    assert train_main(argv) == 0
    printed = capsys.readouterr().out
    assert "GRPO on addition: block_length=None alpha=2.0" in printed and "held-out (8 prompts" in printed
    assert sorted(path.name for path in out.iterdir()) == ["checkpoints", "config.json", "eval.json", "metrics.csv",
                                                          "policy.pt"]  # fmt: skip
    policy = load_policy(out)
    assert policy.env_kwargs["alpha"] == 2.0 and policy.env_kwargs["block_length"] is None
    assert policy.config.width == 16
    written = json.loads((out / "eval.json").read_text())
    direct = evaluate(make_eval_env("addition", 8, **{k: v for k, v in policy.env_kwargs.items() if k != "task"}),
                      policy, seed=0)  # fmt: skip
    assert written["accuracy"] == direct.accuracy and written["mean_nfe"] == direct.mean_nfe
    assert train_main(["--resume", str(out), "--iterations", "3", "--eval-episodes", "0", "--no-progress"]) == 0
    with (out / "metrics.csv").open() as file:
        assert [row["iteration"] for row in csv.DictReader(file)] == ["1", "2", "3"]
    # The starting command plus --resume and a longer --iterations continues it: equal flags are no difference.
    again = [*argv[:argv.index("--iterations")], "--iterations", "4", *argv[argv.index("--iterations") + 2:]]
    assert train_main([*again, "--resume", str(out), "--eval-episodes", "0"]) == 0
    with (out / "metrics.csv").open() as file:
        assert [row["iteration"] for row in csv.DictReader(file)] == ["1", "2", "3", "4"]
    capsys.readouterr()
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    with pytest.raises(SystemExit):
        train_main(["--resume", str(out), "--task", "sudoku", "--alpha", "3", "--width", "16", "--features",
                    "confidence,masked"])  # fmt: skip
    error = capsys.readouterr().err
    assert "these flags differ from it: --task sudoku (the run has addition); --alpha 3.0 (the run has 2.0); " \
           "--features confidence,masked (the run has confidence,masked,step_frac)" in error
    assert "--width 16" not in error.splitlines()[-1]  # equal to the run's
    with pytest.raises(SystemExit):
        train_main(["--resume", str(out), "--algo", "ppo"])
    assert f"{out}" in capsys.readouterr().err
    assert before == {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}  # nothing touched


def test_the_flags_read_from_the_source_match_the_config_dataclasses():
    for module, cls in (("grpo", GRPOConfig), ("policy", PolicyConfig)):
        parsed = {item.name: item.default for item in config_fields(module, cls.__name__)}
        assert parsed == {item.name: item.default for item in dataclasses.fields(cls)}
        assert all(item.doc for item in config_fields(module, cls.__name__))  # every field is documented


def test_the_train_flags_are_built_without_importing_torch():
    code = ("import argparse, sys; import unmask_gym.agents.train as train; "
            "train.add_train_arguments(argparse.ArgumentParser()); print('torch' in sys.modules)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"  # `unmask-gym train --help` answers at once


@pytest.mark.slow
def test_grpo_learns_to_commit_everything_at_once_on_addition():
    # Addition's dLLM is right in one pass, so the optimum is one NFE (reward 1); the policy starts cautious
    # (p = 0.12 per position, about 9.5 NFE, reward ~0.3). Default policy (d = 128), 1 CPU thread, ~15 s. With the
    # default single AdamW step per batch, lr 1e-3 gets there in 40 iterations (3e-4 needs several times more).
    torch.set_num_threads(1)
    config = GRPOConfig(task="addition", block_length=None, alpha=1.0, iterations=40, num_groups=8,
                        learning_rate=1e-3, device="cpu")  # fmt: skip
    trainer = GRPOTrainer(config)
    history = list(trainer.run())
    assert history[0]["reward"] < 0.45 and history[0]["nfe"] > 7
    assert sum(m["reward"] for m in history[-5:]) / 5 > 0.9
    policy = trainer.learned_policy()
    result = evaluate(make_eval_env("addition", 64, block_length=None, device="cpu"), policy, seed=0)
    assert result.accuracy > 0.95 and result.mean_nfe < 1.5 and result.mean_reward > 0.9


def test_grpo_trains_the_token_equality_bias_from_the_token_ids_its_rollouts_store():
    features = ("confidence", "masked", "step_frac", "token_equality")
    policy_config = PolicyConfig(width=16, ff_width=32, features=features)
    trainer = GRPOTrainer(GRPOConfig(iterations=4, num_groups=2, group_size=4, block_length=None, device="cpu"),
                          policy_config, task=CountingTask(6), model=FakeDiffusionLM())  # fmt: skip
    rollouts = collect(trainer.env, trainer.policy, seed=0, choose=lambda obs, logits: fast_dllm_threshold(0.9)(obs))
    tokens = rollouts.features[..., -1]  # the ids, exact in float32
    assert rollouts.features.shape[-1] == 4 and torch.equal(tokens, tokens.round()) and tokens.max() > 0
    bias = trainer.policy.block.attention.equality_bias
    updates = sum(not metrics["skipped_update"] for metrics in trainer.run())
    # adaLN-Zero's gates open at the first update; from the second the bias gets a gradient and moves.
    assert updates >= 2 and bias.weight.abs().sum() > 0
