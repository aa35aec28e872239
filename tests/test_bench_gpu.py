"""``benchmarks/bench_gpu.py``: its ``--quick`` CPU run writes the promised JSON; the weightless build is sound.

No timing is asserted (these machines are noisy): only that every figure exists and is a positive finite number.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
SETTINGS = ["blocks + Fast-dLLM 0.9", "full + top-1", "full + permutation-full-a3"]


def positive_finite(value: object) -> bool:
    """A real number above 0 (not a bool, NaN or infinity)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def run_bench_gpu(out: Path, *arguments: str) -> tuple[dict, dict]:
    """A CPU run of bench_gpu.py (one thread) with ``arguments``: its JSON as printed and as written to ``out``."""
    command = [sys.executable, str(BENCHMARKS / "bench_gpu.py"), "--device", "cpu", "--threads", "1", *arguments]
    done = subprocess.run([*command, "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), json.loads(out.read_text())


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    """The quick run's JSON as printed and as written to ``--out``."""
    return run_bench_gpu(tmp_path_factory.mktemp("bench_gpu") / "gpu.json", "--quick")


def test_quick_run_writes_the_report_it_prints_with_the_issue_keys(quick_report):
    printed, written = quick_report
    assert printed == written
    for key in ("device", "torch", "ratio", "settings", "env_steps_per_s", "ms_per_step", "grpo", "targets"):
        assert key in written
    assert written["quick"] is True and written["errors"] == {}
    assert written["skipped"] == {"llada": "--quick skips the 8B model"}


def test_every_ratio_is_a_positive_finite_number_with_its_seconds(quick_report):
    report = quick_report[1]
    assert list(report["ratio"]) == ["narrow_2_layers_64@8envs"]
    for key, table in report["ratio"].items():
        assert list(table) == SETTINGS
        for setting, ratio in table.items():
            measured = report["settings"][key]["results"][setting]
            assert positive_finite(ratio) and ratio == measured["ratio"]
            assert positive_finite(measured["env_seconds"]) and positive_finite(measured["bare_seconds"])
            assert measured["forwards_in_env_steps"] == report["steps"]  # every step forwarded once
            assert measured["last_forward_rows_x_columns"] == [8, 27]  # 8 envs, Permutation's 11 + 16 columns


def test_env_steps_per_second_cover_each_num_envs_and_targets_are_computed(quick_report):
    report = quick_report[1]
    assert list(report["env_steps_per_s"]) == ["1", "4", "16", "64"] == list(report["ms_per_step"])
    assert all(positive_finite(rate) for rate in report["env_steps_per_s"].values())
    targets = report["targets"]
    best = max(report["env_steps_per_s"].values())
    assert targets["tiny_best_env_steps_per_s"]["measured"] == best
    assert targets["tiny_best_env_steps_per_s"]["pass"] == (best >= 1_000_000)
    assert targets["tiny_ms_per_step_at_64_envs"]["measured"] == report["ms_per_step"]["64"]
    assert targets["llada8b_ratio"]["pass"] is None and targets["wide_4_layers_ratio"]["pass"] is None  # not run


def test_the_sync_free_envs_run_in_the_wide_scaling_and_grpo_parts(tmp_path):
    _, report = run_bench_gpu(tmp_path / "gpu.json", "--quick", "--sync-free", "--parts", "wide", "scaling", "grpo")
    assert report["sync_free"] is True and report["errors"] == {}
    measured = report["settings"]["narrow_2_layers_64@8envs"]["results"]
    assert all(result["forwards_in_env_steps"] == report["steps"] for result in measured.values())
    assert all(positive_finite(rate) for rate in report["env_steps_per_s"].values())
    assert positive_finite(report["grpo"]["seconds_per_iteration"]["rollout_seconds"])


def test_grpo_split_adds_up(quick_report):
    grpo = quick_report[1]["grpo"]
    seconds = grpo["seconds_per_iteration"]
    assert positive_finite(seconds["rollout_seconds"]) and positive_finite(seconds["update_seconds"])
    assert sum(grpo["rollout_fractions"].values()) == pytest.approx(1.0, abs=0.01)
    assert grpo["measured_iterations"] == 1 and grpo["rollouts_per_iteration"] == 4


def test_weightless_build_keeps_buffers_and_fills_parameters_by_seed(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_gpu

    register = nn.Module.register_parameter

    def build() -> nn.Module:
        with bench_gpu.parameters_on_meta():
            return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16))

    model = build()
    assert nn.Module.register_parameter is register  # the patch is undone
    assert all(parameter.is_meta for parameter in model.parameters())
    assert model[1].running_var.tolist() == [1.0] * 16  # buffers hold their computed values
    filled = bench_gpu.materialize(model, torch.device("cpu"), torch.float64, seed=3)
    again = bench_gpu.materialize(build(), torch.device("cpu"), torch.float64, seed=3)
    assert filled[1].running_var.tolist() == [1.0] * 16 and filled[1].running_mean.tolist() == [0.0] * 16
    assert filled[0].weight.dtype == torch.float64 and torch.equal(filled[0].weight, again[0].weight)
    assert 0.01 < filled[0].weight.std().item() < 0.03  # N(0, 0.02) over 128 draws
    assert filled[0].bias.tolist() == [0.0] * 16 and filled[1].weight.tolist() == [1.0] * 16


@pytest.mark.hf
def test_the_llada_part_runs_a_small_llada_shape_sync_free_with_gsm8k_scored_on_the_host(tmp_path):
    pytest.importorskip("transformers")
    small = ("--hf-width", "64", "--hf-layers", "2", "--hf-envs", "2", "--hf-answer-length", "32")
    _, report = run_bench_gpu(tmp_path / "gpu.json", "--sync-free", "--parts", "llada", *small, "--steps", "3",
                              "--warmup", "1")  # fmt: skip
    assert report["sync_free"] is True and report["errors"] == {}
    results = report["settings"]["llada_2x64_hf@2envs"]["results"]
    assert set(results) == {"blocks + Fast-dLLM 0.9", "full + top-1", "full + permutation-full-a3"}
    assert all(result["forwards_in_env_steps"] == 3 and positive_finite(result["ratio"]) for result in results.values())


def test_both_steps_files_a_second_sync_free_pass_with_the_same_keys(tmp_path):
    _, report = run_bench_gpu(tmp_path / "gpu.json", "--quick", "--both-steps", "--parts", "wide", "scaling")
    second = report["sync_free_run"]
    assert report["sync_free"] is False and second["sync_free"] is True
    assert report["errors"] == {} == second["errors"]
    assert second["ratio"].keys() == report["ratio"].keys() and second["ratio"]  # every model, measured twice
    assert second["env_steps_per_s"].keys() == report["env_steps_per_s"].keys() == {"1", "4", "16", "64"}
    assert second["targets"]["tiny_ms_per_step_at_64_envs"]["measured"] == second["ms_per_step"]["64"]
    assert all(positive_finite(value) for table in second["ratio"].values() for value in table.values())


def test_past_the_budget_no_part_starts_and_the_report_is_still_written(tmp_path):
    _, report = run_bench_gpu(tmp_path / "gpu.json", "--quick", "--budget", "0", "--parts", "scaling", "grpo")
    assert report["complete"] is True and report["errors"] == {} and report["env_steps_per_s"] == {}
    assert report["skipped"] == {part: "not started: past the --budget of 0 s" for part in ("scaling", "grpo")}


def test_a_run_cut_short_leaves_the_parts_it_finished_on_disk(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_gpu

    def killed(args, run):
        raise KeyboardInterrupt  # what a time limit's signal looks like to the run: not a part's own failure

    monkeypatch.setattr(bench_gpu, "grpo_split", killed)
    out = tmp_path / "gpu.json"
    with pytest.raises(KeyboardInterrupt):
        bench_gpu.main(["--quick", "--device", "cpu", "--parts", "scaling", "grpo", "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["complete"] is False and report["grpo"] is None
    assert list(report["env_steps_per_s"]) == ["1", "4", "16", "64"]
    assert report["targets"]["tiny_ms_per_step_at_64_envs"]["measured"] == report["ms_per_step"]["64"]


def test_both_steps_measure_each_part_twice_before_the_next(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_gpu

    order = []
    for name, part in (("tiny_scaling", "scaling"), ("grpo_split", "grpo")):
        monkeypatch.setattr(bench_gpu, name, lambda args, run, part=part: order.append(
            (part, args.sync_free, args.compile_step)))  # fmt: skip
    bench_gpu.main(["--quick", "--device", "cpu", "--both-steps", "--compile-step", "reduce-overhead",
                    "--parts", "scaling", "grpo", "--out", str(tmp_path / "gpu.json")])  # fmt: skip
    # a run cut short by a time limit has every reading of every part it reached
    assert order == [("scaling", False, None), ("scaling", True, None), ("scaling", True, "reduce-overhead"),
                     ("grpo", False, None), ("grpo", True, None), ("grpo", True, "reduce-overhead")]  # fmt: skip


@pytest.mark.slow
def test_compile_step_files_a_compiled_pass_with_grpos_compiled_rollouts(tmp_path):
    _, report = run_bench_gpu(tmp_path / "gpu.json", "--quick", "--compile-step", "default", "--parts", "wide",
                              "scaling", "grpo")  # fmt: skip
    compiled = report["compiled_run"]
    assert compiled["ratio"].keys() == report["ratio"].keys()  # the env step and its policy, compiled
    assert all(positive_finite(value) for table in compiled["ratio"].values() for value in table.values())
    assert report["compile_step"] is None and compiled["compile_step"] == "default" and compiled["sync_free"] is True
    assert compiled["errors"] == {} and compiled["env_steps_per_s"].keys() == {"1", "4", "16", "64"}
    assert compiled["scaling"]["dllm_compiled"] == "default" and "dllm_compiled" not in report["scaling"]
    assert all(positive_finite(value) for value in compiled["env_steps_per_s"].values())
    assert compiled["skipped"] == {} and compiled["grpo"]["compile_step"] == "default"
    assert positive_finite(compiled["grpo"]["seconds_per_iteration"]["rollout_seconds"])


def test_a_compiled_pass_that_ran_eager_says_so(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_gpu
    import write_docs

    def broken_compile(function, **kwargs):
        def fails(*args, **kwargs):
            raise RuntimeError("no C++ compiler")

        return fails

    monkeypatch.setattr(torch, "compile", broken_compile)
    out = tmp_path / "gpu.json"
    bench_gpu.main(["--quick", "--device", "cpu", "--compile-step", "default", "--parts", "scaling", "--sizes", "4",
                    "--out", str(out)])  # fmt: skip
    report = json.loads(out.read_text())
    assert report["compile_fell_back"] == {}  # the host-steered pass compiles nothing
    fell_back = report["compiled_run"]["compile_fell_back"]["scaling"]
    assert fell_back and all("torch.compile failed (RuntimeError: no C++ compiler)" in line for line in fell_back)
    assert "compiled (default) scaling ran eager where compiling failed: " in write_docs.gpu_markdown(report)


def test_the_performance_page_renders_a_report_as_tables_with_each_step_and_each_target(quick_report, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import write_docs

    report = quick_report[1]
    ratios = report["ratio"]["narrow_2_layers_64@8envs"]
    text = write_docs.gpu_markdown(report)
    cells = " | ".join(f"{ratios[setting]:.3f}" for setting in SETTINGS)
    assert f"| narrow_2_layers_64@8envs | {cells} |" in text
    assert f"| 64 | {report['env_steps_per_s']['64']:,} | {report['ms_per_step']['64']:.2f} |" in text
    assert "| ratio <= 1.01, every setting | not measured |" in text  # --quick skips the 8B model
    assert "host-steered llada skipped: --quick skips the 8B model" in text
    both = write_docs.gpu_markdown({**report, "sync_free_run": {**report, "sync_free": True, "grpo": None}})
    ratio = ratios["full + top-1"]
    assert f"{ratio:.3f} / {ratio:.3f}" in both and " / – |" in both  # the sync-free run measured no GRPO
    three = write_docs.gpu_markdown({**report, "sync_free_run": {**report, "sync_free": True},
                                     "compiled_run": {**report, "sync_free": True, "compile_step": "reduce-overhead",
                                                      "skipped": {"grpo": "no compile_step"}}})  # fmt: skip
    assert f"{ratio:.3f} / {ratio:.3f} / {ratio:.3f}" in three
    assert "host-steered / sync-free / compiled (reduce-overhead) step" in three
    assert "compiled (reduce-overhead) grpo skipped: no compile_step" in three
