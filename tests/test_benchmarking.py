"""Benchmarks you can trust.

Distinct held-out prompts, every episode accounted for, the served alpha's reward, the heuristic hull with paired
bootstrap intervals, and `unmask-gym bench --agent` for anyone's agent.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from unmask_gym.benchmarking import SCHEMA, BenchReport, benchmark, hull_grid, import_agent, resolve_agent
from unmask_gym.cli import main
from unmask_gym.evaluation import (
    area_to_hull,
    evaluate,
    heuristic_hull,
    hull_accuracy,
    hull_gain_interval,
    make_eval_env,
)
from unmask_gym.heuristics import make_policy, top_k_confidence
from unmask_gym.prompts import PromptStreams
from unmask_gym.tasks import make_task
from unmask_gym.tasks.base import distinct_prompts, split_of
from unmask_gym.testing import CountingTask, FakeDiffusionLM

# ---- distinct held-out prompts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["addition", "permutation", "statetracking", "sudoku"])
def test_every_benchmark_task_holds_out_at_least_1000_distinct_prompts_of_its_eval_split(name):
    task = make_task(name)
    held_out = task.held_out_set()
    prompts = [prompt for prompt, _ in held_out]
    assert len(set(prompts)) == len(prompts) >= 1000
    assert {split_of(prompt) for prompt in prompts} == {"eval"}
    assert all(task.check_prompt(prompt) == prompt for prompt in prompts[:50])


def test_the_held_out_set_is_fixed_whatever_the_process_or_the_instance():
    script = "from unmask_gym.tasks import make_task; print(make_task('sudoku').held_out_set()[:3])"
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert other.strip() == str(make_task("sudoku").held_out_set()[:3])


def test_permutation_v1_has_room_for_many_held_out_prompts_and_v0_is_still_there():
    task = make_task("permutation")
    assert sum(split_of(p) == "eval" for p in task.all_prompts()) > 10_000
    held_out = task.held_out_set()
    assert len(held_out) == 2000
    lengths = np.bincount([len(p) - 1 for p, _ in held_out], minlength=11)[4:]
    assert lengths.min() > 50 and lengths.max() < 500  # the draws' spread of lengths, not mostly 10-digit multisets
    assert len(make_task("permutation-v0").held_out_set()) == 74
    assert make_task("permutation").check_prompt("0013=") == "0013="
    with pytest.raises(ValueError, match="distinct digits"):
        make_task("permutation-v0").check_prompt("0013=")


def test_an_eval_env_serves_distinct_prompts_even_with_more_envs_than_prompts():
    env = make_eval_env("permutation", episodes=200, num_envs=64, block_length=None)
    result = evaluate(env, top_k_confidence(4), seed=0)
    assert result.episodes == result.distinct_prompts == 200
    assert len({r["prompt"] for r in result.records}) == 200
    small = evaluate(make_eval_env("sudoku", episodes=5, num_envs=64), top_k_confidence(4), seed=3)
    assert small.episodes == small.distinct_prompts == len({r["prompt"] for r in small.records}) == 5


def test_the_seed_picks_which_held_out_prompts_in_which_order():
    task = make_task("sudoku")
    first, _ = distinct_prompts(task, 50, seed=0)
    again, _ = distinct_prompts(task, 50, seed=0)
    other, _ = distinct_prompts(task, 50, seed=1)
    assert first == again and first != other
    assert set(first) <= {prompt for prompt, _ in task.held_out_set()}


def test_asking_for_more_held_out_prompts_than_the_split_has_is_a_clear_error_not_a_hang():
    start = time.perf_counter()
    with pytest.raises(ValueError, match="Sudoku's eval split has 2000 distinct prompts, fewer than the 10000000"):
        make_eval_env("sudoku", episodes=10**7)
    with pytest.raises(ValueError, match="has 74 distinct prompts, fewer than the 75 asked for"):
        make_eval_env("permutation-v0", episodes=75)
    assert time.perf_counter() - start < 30


def test_a_task_without_a_held_out_set_is_deduplicated_or_refused():
    class FewPrompts:  # the bare Task protocol: only sample and score
        name, answer_length, max_prompt_length, tokenizer = "Few", 4, 6, None

        def sample(self, n, generator, split="train"):
            picks = generator.integers(3, size=n)
            return [f"p{i}" for i in picks], [str(i) for i in picks]

    prompts, references = distinct_prompts(FewPrompts(), 3, seed=0)
    assert sorted(prompts) == ["p0", "p1", "p2"] and references == [p[1] for p in prompts]
    with pytest.raises(ValueError, match=r"gave 3 distinct prompts .* fewer than the 4 asked for"):
        distinct_prompts(FewPrompts(), 4, seed=0)


def test_sharded_lists_split_the_distinct_prompts_without_overlap():
    task = make_task("permutation")
    shards = []
    for rank in range(3):
        streams = PromptStreams(task, 1, "eval", 100, encode=lambda p: [0], shard=(rank, 3))
        shards.append([streams.get(0, k) for k in range(100)])
    served = [episode.prompt for shard in shards for episode in shard if episode is not None]
    assert len(served) == len(set(served)) == 100


def test_repeats_serve_each_prompt_several_times_and_count_a_prompts_copies_as_one_cluster():
    policy = make_policy("random_k:k=4")
    result = evaluate(make_eval_env("sudoku", episodes=40, repeats=3, block_length=None), policy, seed=0)
    assert result.episodes == 120 and result.distinct_prompts == 40
    counts = {}
    for record in result.records:
        counts[record["prompt_id"]] = counts.get(record["prompt_id"], 0) + 1
    assert set(counts.values()) == {3}
    low, high = result.accuracy_ci95
    assert low < result.accuracy < high
    with pytest.raises(ValueError, match=r"prompt_repeats=2 needs .* temperature=0"):
        make_eval_env("sudoku", episodes=4, repeats=2, temperature=1.0)


# ---- every episode accounted for; the served alpha ----------------------------------------------------------------


def test_evaluate_counts_time_limited_episodes_as_failures():
    def half_slow(obs):  # even rows commit everything at once, odd rows one position per step (4 steps > 3)
        mask = obs["action_mask"]
        first = mask & (mask.long().cumsum(1) == 1)
        return torch.where((torch.arange(len(mask)) % 2 == 0)[:, None], mask, first)

    env = make_eval_env(CountingTask(4), 40, 8, model=FakeDiffusionLM(), max_episode_steps=3)
    result = evaluate(env, half_slow, seed=0)
    assert result.episodes == 40
    cut = [r for r in result.records if r["truncated"]]
    assert 0 < result.truncated == len(cut) < 40
    assert all(not r["correct"] and r["nfe"] == 3 for r in cut)
    assert result.accuracy == pytest.approx(sum(r["correct"] for r in result.records) / 40)
    assert result.accuracy <= 1 - len(cut) / 40


def conditioned_policy():
    from unmask_gym.agents import LearnedPolicy
    from unmask_gym.agents.policy import PolicyConfig, UnmaskingPolicy

    torch.manual_seed(0)
    network = UnmaskingPolicy(PolicyConfig(width=16, ff_width=32, alpha_range=(1.0, 16.0)))
    return LearnedPolicy(network, {"task": "sudoku", "block_length": None, "alpha": 4.0})


def test_the_reward_reported_is_the_one_of_the_alpha_the_policy_serves():
    policy = conditioned_policy()
    policy.alpha = 16.0
    with pytest.raises(ValueError, match="serves alpha=16 but the env rewards alpha=4"):
        evaluate(make_eval_env("sudoku", episodes=8, block_length=None, alpha=4.0), policy)
    result = evaluate(make_eval_env("sudoku", episodes=8, block_length=None, alpha=16.0), policy)
    expected = np.mean([r["score"] * ((16 - min(r["nfe"], 16) + 1) / 16) ** 16 for r in result.records])
    assert result.mean_reward == pytest.approx(expected)


def test_eval_cli_rewards_the_alpha_given(tmp_path):
    # evaluate refuses an env whose alpha is not the served one, so this fails unless the CLI builds it at the alpha
    # given (the top of the policy's range, not its default)
    from unmask_gym.agents import load_policy

    policy = load_policy("sudoku-full-cond")
    high = policy.config.alpha_range[1]
    assert high != policy.alpha
    out = tmp_path / "eval.json"
    command = ["eval", "--policy", "sudoku-full-cond", "--alpha", str(high), "--episodes", "8", "--out", str(out)]
    assert main(command) == 0
    assert json.loads(out.read_text())["mean_reward"] <= 1.0


# ---- the heuristic hull -------------------------------------------------------------------------------------------


def test_the_hull_is_the_upper_concave_envelope_from_the_fewest_nfe_to_the_first_best_point():
    points = [(1, 0.1), (2, 0.5), (3, 0.6), (4, 0.9), (5, 0.9), (6, 0.8), (2.5, 0.55), (1, 0.05)]
    assert heuristic_hull(points) == [(1.0, 0.1), (2.0, 0.5), (4.0, 0.9)]


def test_collinear_points_are_not_vertices_and_dominated_points_never_are():
    assert heuristic_hull([(1, 0.2), (2, 0.4), (3, 0.6), (4, 0.8)]) == [(1.0, 0.2), (4.0, 0.8)]
    assert heuristic_hull([(1, 0.5), (2, 0.3), (3, 0.5), (4, 0.4)]) == [(1.0, 0.5)]
    assert heuristic_hull([(2, 0.7), (1, 0.1), (1.5, 0.1)]) == [(1.0, 0.1), (2.0, 0.7)]
    assert heuristic_hull([(3, 0.9)]) == [(3.0, 0.9)]
    with pytest.raises(ValueError, match="at least one"):
        heuristic_hull([])


def test_the_hull_between_vertices_is_linear_and_flat_beyond_the_best():
    hull = [(1.0, 0.2), (3.0, 0.6), (5.0, 0.8)]
    assert hull_accuracy(hull, 2.0) == pytest.approx(0.4)
    assert hull_accuracy(hull, 9.0) == pytest.approx(0.8)
    assert hull_accuracy(hull, 0.99) is None


def test_a_mix_of_two_heuristics_reaches_the_hull_between_them():
    rng = np.random.default_rng(0)
    prompts = range(4000)
    fast = {p: (float(rng.random() < 0.3), 2.0) for p in prompts}
    slow = {p: (float(rng.random() < 0.9), 6.0) for p in prompts}
    coin = rng.random(4000) < 0.5
    mix = {p: slow[p] if coin[p] else fast[p] for p in prompts}
    result = hull_gain_interval({"fast": fast, "slow": slow}, mix, resamples=300)
    low, high = result["hull_gain_ci95"]
    assert low < 0 < high and abs(result["hull_gain"]) < 0.03


def test_the_paired_bootstrap_recovers_a_known_gain_with_the_binomial_width():
    rng = np.random.default_rng(1)
    n = 2000
    base = rng.random(n) < 0.5
    extra = (~base) & (rng.random(n) < 0.2)  # the agent adds successes on 20% of the failures: +0.1 on average
    heuristics = {"one": {p: (float(base[p]), 2.0) for p in range(n)}, "two": {p: (1.0, 8.0) for p in range(n)}}
    agent = {p: (float(base[p] or extra[p]), 2.0) for p in range(n)}
    result = hull_gain_interval(heuristics, agent, resamples=1000)
    gain = extra.mean()
    assert result["hull_gain"] == pytest.approx(gain)
    low, high = result["hull_gain_ci95"]
    half = 1.96 * math.sqrt(gain * (1 - gain) / n)  # paired: only the agent's extra successes vary
    assert low < gain < high
    assert (high - low) / 2 == pytest.approx(half, rel=0.15)


def test_the_bootstrap_refuses_unpaired_prompts():
    with pytest.raises(ValueError, match="other prompts"):
        hull_gain_interval({"h": {0: (1.0, 1.0)}}, {1: (1.0, 1.0)})


def test_the_summary_is_the_mean_gain_over_the_shared_nfe_range():
    hull = [(1.0, 0.0), (3.0, 1.0)]
    assert area_to_hull([(1.0, 0.5), (3.0, 1.0)], hull) == pytest.approx(0.25)  # the gap shrinks from 0.5 to 0
    assert area_to_hull([(2.0, 0.7)], hull) == pytest.approx(0.2)
    assert area_to_hull([(0.5, 0.7)], hull) is None


# ---- benchmark anyone's agent ---------------------------------------------------------------------------------------


def test_agents_are_callables_or_zero_argument_factories():
    def factory():
        return top_k_confidence(2)

    class Agent:
        def __call__(self, obs):
            return obs["action_mask"]

    assert isinstance(resolve_agent(factory), type(top_k_confidence(2)))
    assert isinstance(resolve_agent(Agent), Agent)
    with pytest.raises(TypeError, match="callable"):
        resolve_agent(3)
    with pytest.raises(ValueError, match=r"PKG\.MODULE:NAME"):
        import_agent("no_colon")
    with pytest.raises(ValueError, match="has no 'missing'"):
        import_agent("unmask_gym.heuristics:missing")


def test_benchmark_compares_an_agent_with_the_hull_and_caches_the_heuristics(tmp_path):
    start = time.perf_counter()
    report = benchmark({"top2": top_k_confidence(2)}, task="sudoku", settings=("full",), episodes=30,
                       heuristics=["top_k_confidence:k=1", "top_k_confidence:k=4", "top_k_confidence:k=2"],
                       cache_dir=tmp_path / "cache", resamples=100)  # fmt: skip
    first = time.perf_counter() - start
    data = report.data
    assert data["schema"] == SCHEMA and data["distinct_prompts"] == 30 and data["episodes"] == 30
    full = data["settings"]["full"]
    point = full["agents"]["top2"][0]
    same = next(h for h in full["heuristics"] if h["name"] == "top_k_confidence:k=2")
    assert point["accuracy"] == same["accuracy"] and point["mean_nfe"] == same["mean_nfe"]
    assert point["hull_accuracy"] >= point["accuracy"] - 1e-12 and point["hull_gain"] <= 1e-12
    assert full["hull"] == [list(v) for v in heuristic_hull((h["mean_nfe"], h["accuracy"]) for h in full["heuristics"])]
    assert set(full["summary"]) == {"top2"}
    start = time.perf_counter()
    again = benchmark({"top2": top_k_confidence(2)}, task="sudoku", settings=("full",), episodes=30,
                      heuristics=["top_k_confidence:k=1", "top_k_confidence:k=4", "top_k_confidence:k=2"],
                      cache_dir=tmp_path / "cache", resamples=100)  # fmt: skip
    assert time.perf_counter() - start < first  # only the agent's own episodes ran
    assert again.data["settings"]["full"]["heuristics"] == full["heuristics"]
    path = report.save(tmp_path / "out")
    assert BenchReport.load(path).data == json.loads(json.dumps(data))
    assert "top2" in report.table()
    assert report.plot(tmp_path / "plot.png").stat().st_size > 1000


class Refined(list):
    """A curve that asks for one more point (k=3) once it has seen its first two."""

    def __init__(self, *members):
        super().__init__(members)
        self.seen = []

    def refine(self, points):
        """k=3 after the first two points, then nothing."""
        self.seen.append([(p["name"], p["mean_nfe"]) for p in points])
        return [top_k_confidence(3)] if len(points) == 2 else []


def test_benchmark_runs_the_points_a_curve_asks_for_after_its_first_ones():
    curve = Refined(top_k_confidence(1), top_k_confidence(4))
    report = benchmark({"curve": curve}, task="sudoku", settings=("full",), episodes=12,
                       heuristics=["top_k_confidence:k=1", "top_k_confidence:k=4"], resamples=50)  # fmt: skip
    rows = report.data["settings"]["full"]["agents"]["curve"]
    assert [row["name"] for row in rows] == ["top_k_confidence:k=4", "top_k_confidence:k=3", "top_k_confidence:k=1"]
    assert all("hull_gain" in row for row in rows)  # the added point is judged like the others
    # refine saw the points in the order they ran, then all three, and was not asked again
    assert [[name for name, _ in seen] for seen in curve.seen] == [
        ["top_k_confidence:k=1", "top_k_confidence:k=4"],
        ["top_k_confidence:k=1", "top_k_confidence:k=4", "top_k_confidence:k=3"]]


def test_an_alpha_sweep_splits_only_the_gaps_where_its_curve_jumps_and_stops_at_its_budget():
    from unmask_gym.bench import AlphaSweep, policy_variants

    policy = conditioned_policy()
    sweep = policy_variants("p", policy)
    assert isinstance(sweep, AlphaSweep) and [v.alpha for v in sweep] == [1.0, 1.59, 2.52, 4.0, 6.35, 10.1, 16.0]
    assert [v.__name__ for v in sweep][:2] == ["p:alpha=1", "p:alpha=1.59"]
    assert [v.alpha for v in policy_variants("p", policy, alphas=(2.0, 3.0))] == [2.0, 3.0]  # given: exactly those

    def point(accuracy, nfe):
        return {"accuracy": accuracy, "mean_nfe": nfe}

    # flat up to alpha 4, a cliff to 6.35, a small NFE step (< 10%) and then a 20% one
    curve = [point(0.99, 8.0), point(0.99, 8.0), point(0.98, 7.9), point(0.97, 7.8), point(0.3, 4.0),
             point(0.3, 3.7), point(0.29, 2.9)]  # fmt: skip
    new = sweep.refine(curve)
    assert [v.alpha for v in new] == [5.04, 12.7]  # the widest gap first
    assert [v.alpha for v in sweep] == [1.0, 1.59, 2.52, 4.0, 6.35, 10.1, 16.0, 5.04, 12.7]
    assert [v.__name__ for v in new] == ["p:alpha=5.04", "p:alpha=12.7"]
    with pytest.raises(ValueError, match="one point per alpha run so far"):
        sweep.refine(curve)
    assert sweep.refine([*curve, point(0.3, 4.0), point(0.29, 3.3)]) != []  # 4 -> 5.04 still jumps
    tight = AlphaSweep("p", policy, [4.0, 4.4], max_points=15)
    assert tight.refine([point(1.0, 8.0), point(0.0, 1.0)]) == []  # closer than min_ratio: not split
    budget = AlphaSweep("p", policy, [1.0, 4.0, 16.0], max_points=4)
    assert [v.alpha for v in budget.refine([point(1.0, 8.0), point(0.5, 4.0), point(0.0, 1.0)])] == [8.0]


def test_the_hull_grid_is_the_issues_grid():
    grid = hull_grid(16)
    assert "top_k_confidence:k=12" in grid and "eb_sampler:gamma=3.0" in grid and "top_k_entropy:k=4" in grid
    assert "top_k_confidence:k=6" not in hull_grid(16, block_length=4)


AGENT_MODULE = '''
import torch

def first_two(obs):
    """Commits the two leftmost selectable positions."""
    mask = obs["action_mask"]
    rank = mask.long().cumsum(1)
    return mask & (rank <= 2)

class Everything:
    def __call__(self, obs):
        return obs["action_mask"]
'''


def test_bench_cli_takes_an_agent_module(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_agents.py").write_text(AGENT_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(["bench", "--task", "sudoku", "--episodes", "20", "--quick", "--no-policies", "--no-progress",
                 "--agent", "my_agents:first_two", "--agent", "my_agents:Everything", "--out", "out"])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "my_agents:first_two" in captured.out and captured.err == ""
    data = json.loads((tmp_path / "out" / "bench_sudoku.json").read_text())
    assert set(data["settings"]) == {"semi_ar", "full"}
    for setting in data["settings"].values():
        assert set(setting["agents"]) == {"my_agents:first_two", "my_agents:Everything"}
        for rows in setting["agents"].values():
            assert {"mean_nfe", "accuracy", "ci95", "hull_accuracy", "hull_gain", "hull_gain_ci95"} <= set(rows[0])
    assert (tmp_path / "out" / "bench_sudoku.png").exists()


def test_bench_cli_refuses_a_policy_of_another_task(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--task", "statetracking", "--episodes", "4", "--quick", "--no-policies", "--no-progress",
              "--policy", "sudoku-full-a8", "--out", str(tmp_path)])  # fmt: skip
    assert "trained on task 'sudoku', not 'statetracking'" in capsys.readouterr().err


# ---- prompts that do not fit ----------------------------------------------------------------------------------------


class SometimesTooLong(CountingTask):
    """One prompt in about 12 is one token longer than max_prompt_length (6)."""

    def _draw(self, generator):
        prompt, reference = super()._draw(generator)
        if generator.random() < 1 / 12:
            prompt = prompt.replace(":", "::", 1) + "0"  # 7 characters or more: does not fit
        return prompt, reference


def test_a_finite_list_with_prompts_that_do_not_fit_is_refused_when_the_env_is_built():
    with pytest.raises(ValueError, match=r"^\d+ of the 200 prompts of the list do not fit: prompt '.*' has 7 tokens"):
        make_eval_env(SometimesTooLong(4), 200, model=FakeDiffusionLM())
