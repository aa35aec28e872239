"""Every shipped policy loads, builds the env it was trained for, and plays episodes there."""

from __future__ import annotations

import argparse
import itertools
import re
import shlex

import pytest

from unmask_gym.agents import list_policies, load_policy
from unmask_gym.agents.train import add_train_arguments
from unmask_gym.evaluation import evaluate, make_eval_env

TASKS = ("permutation", "permutation-v0", "sudoku", "statetracking")


def parse(name: str) -> tuple[str, str, str]:
    """A shipped name is TASK-SETTING-TAG (the task may hold a dash: permutation-v0)."""
    match = re.fullmatch(r"(.+)-(semi_ar|full)-(.+)", name)
    assert match, name
    return match.group(1), match.group(2), match.group(3)


def test_policies_are_shipped_for_every_non_control_task():
    names = list_policies()
    assert {parse(name)[0] for name in names} <= set(TASKS)
    assert {parse(name)[0] for name in names} >= {"permutation", "sudoku", "statetracking"}


@pytest.mark.parametrize("name", list_policies())
def test_a_shipped_policy_builds_its_env_and_runs_episodes(name):
    policy = load_policy(name)
    task, setting, _ = parse(name)
    assert policy.env_kwargs["task"] == task
    assert (policy.env_kwargs["block_length"] is None) == (setting == "full")
    env = make_eval_env(episodes=8, num_envs=8, **policy.env_kwargs, **policy.observation_kwargs)
    first = evaluate(env, policy, seed=0)
    assert first.episodes == 8 and 1 <= first.mean_nfe <= env.max_nfe
    again = evaluate(make_eval_env(episodes=8, num_envs=8, **policy.env_kwargs), policy, seed=0)
    assert again.to_dict() == first.to_dict()  # a policy's evaluation reproduces


def test_every_shipped_policy_records_the_command_that_trained_it():
    import json
    from pathlib import Path

    import unmask_gym.agents

    manifest = json.loads((Path(unmask_gym.agents.__file__).parent / "pretrained" / "policies.json").read_text())
    assert sorted(manifest) == list_policies()
    for name, entry in manifest.items():
        task, setting, _ = parse(name)
        assert entry["command"].startswith("unmask-gym train --algo grpo") and f"--task {task}" in entry["command"]
        assert ("--block-length none" in entry["command"]) == (setting == "full")
        assert 0 < entry["train_seconds"] <= 30 * 60  # the budget per policy
        # The command is the trainer's own flags and nothing else (no shell redirection): it parses as is.
        parser = argparse.ArgumentParser(exit_on_error=False)
        add_train_arguments(parser)
        runs = [parser.parse_args(shlex.split(stage["command"])[2:]) for stage in entry.get("after", [])]
        runs.append(parser.parse_args(shlex.split(entry["command"])[2:]))
        for args in runs:
            assert args.task == task and str(args.out).startswith("runs/"), entry["command"]
        # A policy trained in several runs: each starts where the one before ended, and the totals count them all.
        for before, after in itertools.pairwise(runs):
            assert after.init_policy == str(before.out), entry["command"]
        if "after" in entry:
            assert entry["train_seconds"] > sum(stage["train_seconds"] for stage in entry["after"])
            assert entry["iterations"] == sum(stage["iterations"] for stage in entry["after"]) + runs[-1].iterations


def test_a_loaded_policy_plays_the_single_numpy_env():
    import gymnasium as gym
    import numpy as np

    policy = load_policy(list_policies()[0])
    kwargs = {k: v for k, v in policy.env_kwargs.items() if k != "task"}
    from unmask_gym.registration import registered_ids

    env_id = next(env_id for env_id in registered_ids() if policy.env_kwargs["task"] in env_id.lower())
    env = gym.make(env_id, **kwargs)
    obs, _ = env.reset(seed=0)
    terminated = False
    while not terminated:
        action = policy(obs)
        assert isinstance(action, np.ndarray) and action.shape == obs["masked"].shape
        obs, _, terminated, _, _ = env.step(action)
