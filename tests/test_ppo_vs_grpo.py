"""``benchmarks/ppo_vs_grpo.py``: which points it compares, the two algorithms at equal training time included."""

from __future__ import annotations

import re

import pytest
from scripts import benchmark_script

from unmask_gym.agents import PolicyConfig, UnmaskingPolicy
from unmask_gym.agents.loading import checkpoint_path, save_checkpoint

ppo_vs_grpo = benchmark_script("ppo_vs_grpo")


def fake_run(folder, seconds_per_iteration, checkpoint_every, command=None):
    """A finished run folder: metrics.csv with these iteration times and a checkpoint every few iterations."""
    rows = [f"{i},{spent - 0.25},0.25" for i, spent in enumerate(seconds_per_iteration, start=1)]
    folder.mkdir()
    (folder / "metrics.csv").write_text("iteration,rollout_seconds,update_seconds\n" + "\n".join(rows) + "\n")
    network = UnmaskingPolicy(PolicyConfig(width=8, num_heads=1, ff_width=16))
    for iteration in range(checkpoint_every, len(seconds_per_iteration) + 1, checkpoint_every):
        save_checkpoint(checkpoint_path(folder, iteration), network, {"task": "sudoku"}, {"iteration": iteration})
    if command is not None:
        (folder.parent / f"{folder.name}.cmd").write_text(command + "\n")
    return folder


def test_the_longer_run_is_also_judged_at_the_shorter_runs_time(tmp_path):
    ppo = fake_run(tmp_path / "ppo", [2.0] * 10, checkpoint_every=2, command="unmask-gym train --algo ppo")
    grpo = fake_run(tmp_path / "grpo", [1.0] * 7, checkpoint_every=5)  # 7 s in all
    chosen = ppo_vs_grpo.points(ppo, grpo)
    assert list(chosen) == ["ppo", "grpo", "ppo at grpo's time (iteration 4)"]  # 8 s: the first checkpoint >= 7 s
    equal = chosen["ppo at grpo's time (iteration 4)"]
    assert equal["source"] == checkpoint_path(ppo, 4) and equal["train_seconds"] == 8.0
    assert equal["command"] == chosen["ppo"]["command"] == "unmask-gym train --algo ppo"
    assert chosen["ppo"]["train_seconds"] == 20.0 and chosen["grpo"]["command"] is None


def test_a_run_without_a_checkpoint_that_long_is_refused(tmp_path):
    ppo = fake_run(tmp_path / "ppo", [2.0] * 10, checkpoint_every=20)  # no checkpoint at all
    grpo = fake_run(tmp_path / "grpo", [1.0] * 7, checkpoint_every=7)
    with pytest.raises(ValueError, match="has no checkpoint at or after 7 s of training"):
        ppo_vs_grpo.points(ppo, grpo)
    with pytest.raises(ValueError, match=re.escape("has no metrics.csv: pass a finished run folder")):
        ppo_vs_grpo.points(tmp_path / "missing", grpo)
