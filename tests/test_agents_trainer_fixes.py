"""Trainer defects, each with the reproduction that failed before its fix.

Zero-advantage batches, torchrun resume, callable rewards at checkpoints, empty minibatches, truncating envs in
``rollout.collect`` and PPO's resume replaying the opening prompts.
"""

from __future__ import annotations

import gc
import json
import re
import sys

import pytest
import torch
from gymnasium.vector import AutoresetMode
from two_ranks import as_rank, run_two_ranks

from unmask_gym.agents import GRPOConfig, GRPOTrainer, PolicyConfig, load_policy
from unmask_gym.agents.policy import UnmaskingPolicy
from unmask_gym.agents.ppo import PPOConfig, PPOTrainer
from unmask_gym.agents.rollout import collect
from unmask_gym.env import UnmaskVectorEnv
from unmask_gym.evaluation import evaluate, make_eval_env
from unmask_gym.testing import CountingTask, FakeDiffusionLM

SMALL = PolicyConfig(width=16, ff_width=32)


def grpo(**overrides) -> GRPOTrainer:
    settings = {"iterations": 4, "num_groups": 2, "group_size": 4, "block_length": None, "device": "cpu", **overrides}
    return GRPOTrainer(GRPOConfig(**settings), SMALL, task=CountingTask(6), model=FakeDiffusionLM())


def test_grpo_leaves_the_policy_untouched_when_every_advantage_is_zero():
    trainer = grpo(alpha=0.0)  # the fake dLLM is always right and alpha 0 ignores NFE: every reward is 1
    before = [p.clone() for p in trainer.policy.parameters()]
    metrics = trainer.train_iteration()
    assert metrics["skipped_update"] == 1.0 and metrics["reward"] == 1.0
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.policy.parameters(), strict=True))
    assert trainer.optimizer.state_dict()["state"] == {}  # no AdamW step: no momentum to carry either
    moving = grpo(alpha=3.0)  # rewards now differ with NFE: the update runs
    assert moving.train_iteration()["skipped_update"] == 0.0


def test_grpo_refuses_more_minibatches_than_an_iteration_can_store():
    with pytest.raises(ValueError, match=re.escape("num_minibatches=9 exceeds the 8 rollouts of an iteration")):
        GRPOConfig(num_groups=2, group_size=4, num_minibatches=9)
    GRPOConfig(num_groups=2, group_size=4, num_minibatches=8)  # one stored step each at least


def reward_of_length(prompts, completions, **kwargs):
    return [len(c) / 6 for c in completions]


def test_a_callable_reward_survives_checkpoints_and_resume_asks_for_it_again(tmp_path):
    trainer = grpo(iterations=2, reward=reward_of_length, out=str(tmp_path), checkpoint_every=1)
    list(trainer.run())
    policy = load_policy(tmp_path)
    assert "reward" not in policy.env_kwargs  # the function cannot be rebuilt from a name: the default stands in
    assert trainer.env_kwargs["reward"] == f"callable:{__name__}.reward_of_length"
    result = evaluate(make_eval_env(CountingTask(6), 8, model=FakeDiffusionLM(), **{
        k: v for k, v in policy.env_kwargs.items() if k not in ("task", "model")}), policy)  # fmt: skip
    assert result.episodes == 8
    with pytest.raises(ValueError, match=r"reward function .*reward_of_length; pass it again"):
        GRPOTrainer.resume(tmp_path, task=CountingTask(6), model=FakeDiffusionLM())
    resumed = GRPOTrainer.resume(tmp_path, iterations=3, task=CountingTask(6), model=FakeDiffusionLM(),
                                 reward=reward_of_length)  # fmt: skip
    assert resumed.config.reward is reward_of_length and len(list(resumed.run())) == 1


def test_collect_returns_when_the_env_truncates_and_scores_those_episodes_zero():
    env = UnmaskVectorEnv(4, task=CountingTask(6), model=FakeDiffusionLM(), block_length=None,
                          autoreset_mode=AutoresetMode.DISABLED, max_episode_steps=2)  # fmt: skip
    network = UnmaskingPolicy(SMALL.resolved_for(env, 0))

    def one_at_a_time(obs, logits):  # 6 positions, one per step: every episode hits the 2-step limit
        mask = obs["action_mask"]
        return mask & (mask.long().cumsum(1) == 1)

    rollouts = collect(env, network, seed=0, choose=one_at_a_time)
    assert rollouts.num_episodes == 4 and rollouts.num_steps == 8
    assert rollouts.nfe.tolist() == [2, 2, 2, 2] and not rollouts.correct.any() and not rollouts.reward.any()


def test_ppo_resume_starts_new_prompts_instead_of_replaying_the_opening_ones(tmp_path):
    settings = {"iterations": 2, "num_envs": 4, "num_steps": 2, "block_length": None, "device": "cpu",
                "out": str(tmp_path), "checkpoint_every": 1}  # fmt: skip
    trainer = PPOTrainer(PPOConfig(**settings), SMALL, task=CountingTask(6), model=FakeDiffusionLM())
    seeds = []
    original = trainer.env.reset
    trainer.env.reset = lambda seed=None, options=None: (seeds.append(seed), original(seed=seed, options=options))[1]
    list(trainer.run())
    resumed = PPOTrainer.resume(tmp_path, iterations=3, task=CountingTask(6), model=FakeDiffusionLM())
    original = resumed.env.reset
    resumed.env.reset = lambda seed=None, options=None: (seeds.append(seed), original(seed=seed, options=options))[1]
    list(resumed.run())
    assert seeds[0] == 0 and len(seeds) == 2 and seeds[1] != 0


# Two ranks (gloo on CPU, started as torchrun would): a resumed run equals the uninterrupted one on every rank.


def resume_worker(rank: int, port: int, folder: str, mode: str) -> None:
    as_rank(rank, port)
    config = GRPOConfig(iterations=4, num_groups=2, group_size=4, block_length=None, device="cpu", seed=3,
                        out=f"{folder}/run", checkpoint_every=2, alpha=3.0)  # fmt: skip
    if mode == "resume":
        trainer = GRPOTrainer.resume(f"{folder}/run", task=CountingTask(6), model=FakeDiffusionLM())
    else:
        trainer = GRPOTrainer(config, SMALL, task=CountingTask(6), model=FakeDiffusionLM())
    metrics = []
    for step in trainer.run():
        metrics.append({k: v for k, v in step.items() if not k.endswith("_seconds")})
        if mode == "interrupt" and step["iteration"] == 2:
            break
    trainer.close()  # frees the DDP wrapper and with it the process group, while Python is whole
    ddp_left = sum(isinstance(o, torch.nn.parallel.DistributedDataParallel) for o in gc.get_objects())
    torch.save({"final": trainer.policy.state_dict(), "metrics": metrics, "ddp_left": ddp_left},
               f"{folder}/{mode}{rank}.pt")  # fmt: skip


@pytest.mark.skipif(sys.platform == "win32", reason="gloo over TCP on localhost")
def test_a_two_rank_resume_equals_the_uninterrupted_run_on_every_rank(tmp_path):
    for mode, folder in (("full", tmp_path / "a"), ("interrupt", tmp_path / "b"), ("resume", tmp_path / "b")):
        folder.mkdir(exist_ok=True)
        run_two_ranks(resume_worker, str(folder), mode)
    for rank in range(2):
        full = torch.load(tmp_path / "a" / f"full{rank}.pt")
        resumed = torch.load(tmp_path / "b" / f"resume{rank}.pt")
        assert full["ddp_left"] == resumed["ddp_left"] == 0  # else gloo's teardown waits for interpreter exit
        assert resumed["metrics"] == full["metrics"][2:]  # rank 1's own rollouts too, not rank 0's replayed
        for key, value in full["final"].items():
            assert torch.equal(value, resumed["final"][key]), key


def test_train_refuses_a_folder_holding_another_run_and_leaves_it_byte_identical(tmp_path, capsys):
    from unmask_gym.agents.train import main as train_main

    out = tmp_path / "run"
    flags = ["--block-length", "none", "--iterations", "2", "--num-groups", "2", "--group-size", "2", "--width", "16",
             "--ff-width", "32", "--eval-episodes", "0", "--no-progress", "--out", str(out),
             "--device", "cpu"]  # fmt: skip
    assert train_main(["--task", "sudoku", *flags]) == 0
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    with pytest.raises(SystemExit):
        train_main(["--task", "addition", *flags])
    error = capsys.readouterr().err
    assert f"{out} holds a run already (grpo on 'sudoku', 2 iterations)" in error and f"--resume {out}" in error
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
    assert train_main(["--task", "addition", *flags, "--overwrite"]) == 0  # asked for: the old run goes entirely
    assert json.loads((out / "config.json").read_text())["grpo"]["task"] == "addition"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["iteration_000002.pt"]


def test_ctrl_c_ends_training_with_one_line_naming_the_resume_command(tmp_path):
    import signal
    import subprocess
    import time as clock

    out = tmp_path / "run"
    command = [sys.executable, "-m", "unmask_gym.cli", "train", "--task", "sudoku", "--block-length", "none",
               "--iterations", "100000", "--num-groups", "2", "--group-size", "2", "--width", "16", "--ff-width", "32",
               "--checkpoint-every", "1", "--no-progress", "--out", str(out), "--device", "cpu"]  # fmt: skip
    # A child inherits an ignored SIGINT (and Python then installs no handler): whatever this pytest process's
    # other tests did to its own disposition, the child starts with the default one, as a shell would give it.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = clock.monotonic() + 120
    while not list((out / "checkpoints").glob("*.pt")) and clock.monotonic() < deadline:
        clock.sleep(0.2)
        if process.poll() is not None:
            break
    assert process.poll() is None, process.communicate()[1]  # still training when interrupted
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        disposition, tail = signal.getsignal(signal.SIGINT), process.communicate()[1][-2000:]
        raise AssertionError(f"SIGINT did not stop training (this process's SIGINT disposition: {disposition}); "
                             f"stderr: {tail}") from None
    assert process.returncode == 130
    last = stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"interrupted at iteration \d+; resume from its checkpoint of iteration \d+ with "
                        rf"`unmask-gym train --resume {re.escape(str(out))}`", last), stderr  # fmt: skip
    assert "Traceback" not in stderr
