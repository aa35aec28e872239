"""``benchmarks/commit_saturation.py``: the share of undecided commit probabilities it reports is measured right."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from scripts import benchmark_script

commit_saturation = benchmark_script("commit_saturation")


def fixed_policy(logit: float) -> SimpleNamespace:
    """A policy-shaped object whose every commit logit is ``logit``."""
    return SimpleNamespace(env_kwargs={"task": "permutation", "block_length": None},
                           config=SimpleNamespace(evaluation_tau=1.0),
                           logits=lambda obs: torch.full(obs["masked"].shape, logit))  # fmt: skip


@pytest.mark.parametrize(("logit", "between", "held_back"), [(0.0, 1.0, 0.0), (10.0, 0.0, 0.0), (-10.0, 0.0, 1.0),
                                                             (-2.0, 1.0, 1.0)])  # fmt: skip
def test_first_decision_counts_undecided_and_held_back_positions(logit, between, held_back):
    stats = commit_saturation.first_decision(fixed_policy(logit), prompts=8)
    assert stats == {"between": between, "median_abs_logit": abs(logit), "held_back": held_back}


def test_a_conditioned_policy_is_measured_at_its_range_ends_and_their_middle():
    rows = commit_saturation.rows_of("statetracking-full-cond", prompts=8)
    assert [row["alpha"] for row in rows] == [1.0, 11.314, 128.0]  # its range 1-128
    assert all(0.0 <= row["between"] <= 1.0 and 0.0 <= row["held_back"] <= 1.0 for row in rows)
    assert "| `statetracking-full-cond` | additive | 1 |" in commit_saturation.markdown(rows)
