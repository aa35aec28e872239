"""Unbiased evaluation, NFE accounting, confidence intervals, Pareto fronts and sweeps on the fake backend."""

from __future__ import annotations

import json
import re

import pytest

from unmask_gym import UnmaskVectorEnv
from unmask_gym.evaluation import evaluate, make_eval_env, pareto_front, save_json, wilson_interval
from unmask_gym.heuristics import LeftToRight, make_policy, top_k_confidence
from unmask_gym.testing import CountingTask, FakeDiffusionLM


def eval_env(episodes: int = 40, num_envs: int = 8, **kwargs) -> UnmaskVectorEnv:
    return make_eval_env(CountingTask(4), episodes, num_envs, model=FakeDiffusionLM(), **kwargs)


def test_every_eval_prompt_runs_exactly_once_whatever_the_episode_lengths():
    result = evaluate(eval_env(), make_policy("random_k:k=1"), seed=0)
    assert [r["prompt_id"] for r in result.records] == list(range(40))
    assert result.episodes == 40


def test_accuracy_and_nfe_are_counted_exactly():
    result = evaluate(eval_env(), top_k_confidence(2), seed=0)
    assert result.accuracy == 1.0 and result.mean_nfe == 2.0 and result.nfe_histogram == {2: 40}
    assert result.accuracy_ci95[0] > 0.9


def test_a_budget_too_small_fails_exactly_the_answers_that_do_not_fit():
    result = evaluate(eval_env(max_nfe=2), LeftToRight(1), seed=1)
    for record in result.records:
        assert record["correct"] == (len(record["reference"]) <= 1)
    assert result.accuracy == pytest.approx(sum(len(r["reference"]) <= 1 for r in result.records) / 40)


def test_premature_eos_counts_completions_cut_before_the_reference_length():
    class CutAfterOne(FakeDiffusionLM):
        def _target(self, prompt, length):
            ids = super()._target(prompt, length)
            return ids[:1] + [self.tokenizer.eos_token_id] * (length - 1)

    env = make_eval_env(CountingTask(4), 40, 8, model=CutAfterOne())
    result = evaluate(env, top_k_confidence(4), seed=0)
    cut = sum(len(r["reference"]) > 1 for r in result.records) / 40
    assert result.premature_eos_rate == pytest.approx(cut) and cut > 0.3


def test_evaluate_refuses_an_env_without_a_finite_eval_list():
    env = UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM())
    with pytest.raises(ValueError, match=re.escape("evaluate needs an env with split='eval' and a finite num_prompts")):
        evaluate(env, top_k_confidence(1))
    with pytest.raises(ValueError, match=re.escape("episodes=10 differs from the env's num_prompts=40")):
        evaluate(eval_env(), top_k_confidence(1), episodes=10)


def test_the_same_seed_gives_the_same_result_and_another_seed_other_prompts():
    first = evaluate(eval_env(), make_policy("random_k:k=2"), seed=3)
    again = evaluate(eval_env(), make_policy("random_k:k=2"), seed=3)
    other = evaluate(eval_env(), make_policy("random_k:k=2"), seed=4)
    assert first.records == again.records
    assert [r["prompt"] for r in first.records] != [r["prompt"] for r in other.records]


def test_wilson_interval_contains_the_estimate_and_narrows_with_more_trials():
    low, high = wilson_interval(30, 100)
    low_big, high_big = wilson_interval(300, 1000)
    assert low < 0.3 < high and high_big - low_big < high - low
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


def test_pareto_front_keeps_only_undominated_points():
    points = [{"mean_nfe": n, "accuracy": a} for n, a in [(1, 0.2), (2, 0.1), (2, 0.6), (3, 0.5), (5, 0.9)]]
    assert [(p["mean_nfe"], p["accuracy"]) for p in pareto_front(points)] == [(1, 0.2), (2, 0.6), (5, 0.9)]


def test_save_json_writes_indented_json_creating_the_folder(tmp_path):
    result = evaluate(eval_env(16, 4), top_k_confidence(4), seed=0)
    save_json(result.to_dict(), tmp_path / "deep" / "result.json")
    assert json.loads((tmp_path / "deep" / "result.json").read_text())["episodes"] == 16


def test_the_bench_plot_draws_intervals_that_round_past_the_accuracy(tmp_path):
    pytest.importorskip("matplotlib")
    from unmask_gym.benchmarking import SCHEMA, BenchReport

    point = {"name": "x", "accuracy": 1.0, "ci95": [0.96, 0.9999999999], "mean_nfe": 2.0}
    setting = {"block_length": None, "heuristics": [point], "hull": [[2.0, 1.0]], "agents": {"x": [point]},
               "summary": {"x": 0.0}}  # fmt: skip
    data = {"schema": SCHEMA, "task": "T", "seed": 0, "distinct_prompts": 1, "settings": {"full": setting}}
    report = BenchReport(data)
    assert report.plot(tmp_path / "plot.png").stat().st_size > 1000
