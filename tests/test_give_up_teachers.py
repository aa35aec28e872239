"""``benchmarks/give_up_teachers.py``: give the hard Sudoku puzzles up, and the alphas where each rule pays."""

from __future__ import annotations

import math

import pytest
from scripts import benchmark_script

give_up_teachers = benchmark_script("give_up_teachers")


def test_each_envelope_point_is_the_additive_optimum_between_its_segments_slopes():
    rows = [{"name": "one pass", "mean_nfe": 1.0, "accuracy": 0.3}, {"name": "U=8", "mean_nfe": 1.4, "accuracy": 0.7},
            {"name": "under", "mean_nfe": 1.5, "accuracy": 0.72}, {"name": "solve", "mean_nfe": 2.0, "accuracy": 0.9}]
    bands = give_up_teachers.additive_bands(rows, answer_length=16)
    assert bands == {"one pass": (16.0, math.inf), "U=8": (5.33, 16.0), "solve": (0.0, 5.33)}  # "under": no vertex
    # the claim itself: at an alpha inside a band its point has the best reward accuracy - alpha * NFE / L
    for name, (low, high) in bands.items():
        alpha = low + 0.5 if math.isinf(high) else (low + high) / 2
        best = max(rows, key=lambda r: r["accuracy"] - alpha * r["mean_nfe"] / 16)
        assert best["name"] == name


def test_every_u_is_give_up_following_the_shipped_solver():
    from unmask_gym.agents.experts import GiveUpElse
    from unmask_gym.agents.loading import policy_from_spec

    for uncertain in give_up_teachers.UNCERTAIN:
        policy, env_kwargs = policy_from_spec(give_up_teachers.spec(uncertain))
        assert isinstance(policy, GiveUpElse) and policy.rule.uncertain == uncertain
        assert env_kwargs["task"] == "sudoku" and env_kwargs["block_length"] is None


@pytest.mark.parametrize("band", [[7.6, 9.4], [14.7, None], None])
def test_the_table_names_each_band(band):
    row = {"name": "x", "accuracy": 0.5, "ci95": [0.4, 0.6], "mean_nfe": 1.4, "hull_accuracy": 0.45,
           "hull_gain": 0.05, "hull_gain_ci95": [0.01, 0.08], "alpha_band": band}
    text = give_up_teachers.markdown([row])
    assert {None: "| – |", (7.6, 9.4): "| 7.6 to 9.4 |", (14.7, None): "| from 14.7 |"}[
        None if band is None else tuple(band)] in text
