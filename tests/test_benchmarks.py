"""The performance benchmarks run end to end in their ``--quick`` form and report what they promise.

No timing is asserted (these machines are noisy); the numbers themselves are the benchmarks' business.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


def run_quick(script: str, *extra: str) -> dict:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--quick", *extra], capture_output=True,
                          text=True, timeout=300, check=True)  # fmt: skip
    return json.loads(done.stdout)


def test_env_overhead_reports_both_settings():
    report = run_quick("bench_env_overhead.py")
    for setting in ("semi_ar", "full", "semi_ar sync_free", "full sync_free", "semi_ar compiled", "full compiled"):
        measured = report["settings"][setting]
        assert measured["forward_seconds"] > 0 and len(measured["overhead_windows"]) == 2
        assert measured["sync_free"] == (setting != setting.split()[0])
        assert measured["compile_step"] == setting.endswith("compiled")
    assert {report["settings"][setting]["threads"] for setting in ("full", "full sync_free", "full compiled")} == {1}


def test_cold_step_times_both_halves_eager_and_compiled_in_every_condition():
    report = run_quick("cold_step.py")
    conditions = {"tight loop", "after a 16 MB sweep", "after a forward", "after a 20 ms sleep"}
    assert report["halves"].keys() == {"eager", "compiled"}
    for by_half in report["halves"].values():
        assert by_half.keys() == {"before_forward", "after_forward"}
        assert all(times.keys() == conditions and all(ms > 0 for ms in times.values()) for times in by_half.values())


def test_continuous_batching_decodes_the_same_prompts_alike_in_all_three_loops():
    report = run_quick("bench_continuous_batching.py")
    result = report["tasks"]["sudoku"]
    loops = result["loops"]
    assert result["equal_accuracy"] and {loop["episodes"] for loop in loops.values()} == {64}
    # The paper's loop forwards every row of every pass; skipping finished rows forwards exactly what continuous
    # batching forwards, in at least as many passes.
    assert loops["paper_static"]["row_forwards"] == 16 * loops["paper_static"]["batched_passes"]
    assert loops["static_skip"]["row_forwards"] == loops["continuous"]["row_forwards"]
    assert loops["static_skip"]["batched_passes"] >= loops["continuous"]["batched_passes"]


def test_scaling_sweeps_the_batch_sizes():
    report = run_quick("bench_scaling.py")
    assert [point["num_envs"] for point in report["points"]] == [1, 4, 16]
    assert all(point["forward_tokens_per_second"] > 0 for point in report["points"])


def test_feature_memory_measures_both_ways():
    report = run_quick("feature_memory.py")
    assert report["chunked"]["peak_extra_bytes"] > 0 and report["one_piece"]["peak_extra_bytes"] > 0
    assert "GB" in report["paper_shape"]


def test_step_profile_accounts_for_the_forward_and_the_parts():
    report = run_quick("profile_step.py")
    for measured in report["settings"].values():
        parts = measured["parts_ms_per_step"]
        assert parts["dLLM forward (model.logits)"] > 0 and "features (confidence, margin, entropy)" in parts
        assert measured["ms_outside_forward"] > 0

