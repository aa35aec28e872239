"""Docs that cannot go stale: every code block of the README and docs/*.md runs, and every generated part is fresh.

Sybil parses each page: ```python blocks run in one namespace per page, in order; ```bash blocks run with bash in
the same folder (a fresh temporary one per page, holding links to the repository's ``examples/`` and
``benchmarks/``, so whatever a block writes stays out of the repository). A block that cannot run here carries a
visible marker before it, ``<!-- skip: next "reason" -->``; a block that takes more than about a minute runs in
the slow tier only, ``<!-- skip: next if(not slow, reason="...") -->``. The tests count both per page, and any
fenced block that is neither run nor marked (another language, or a block Sybil did not parse) fails them.
Fenced ``text`` blocks are allowed only inside generated parts: they are transcripts that
``benchmarks/write_docs.py`` writes by running the command they show.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import SkipTest

import pytest
from scripts import benchmark_script
from sybil import Sybil
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINKED = ("examples", "benchmarks")
"""Repository folders a bash block may read (as the user would, from the repository root)."""
ALWAYS_SKIPPED = {
    "README.md": 1,  # the two install-and-run commands: .ci/run installs the same way and runs the same tests
    "index.md": 1,  # installs packages
    "real-dllms.md": 2,  # LLaDA/Dream weights and GSM8K files
    "training.md": 1,  # trainings of 10+ minutes and several processes
    "development.md": 1,  # installs packages
    "performance.md": 2,  # bench_gpu.py and device_run.sh need a CUDA GPU (smoke runs: test_bench_gpu, test_device_run)
}
"""Pages whose blocks cannot run here, with how many: a new skip marker must be added here too."""
EXPECTED = {
    "README.md": {"printed": "tensor("},  # the quick start prints finished episodes and their NFE
    "benchmarking.md": {"printed": "mine: mean gain", "files": ["bench/bench_sudoku.json"]},
    "training.md": {"files": ["runs/addition/policy.pt", "runs/addition/metrics.csv"]},
}
"""What some pages' blocks must leave behind beyond running without an error (checked in the tier that runs them)."""


def bash(example) -> str | None:
    """Runs a ```bash block with ``bash -e -o pipefail`` in the current folder; returns the failure, if any."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    completed = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", str(example.parsed)], capture_output=True,
                               text=True, env=env, timeout=1200)  # fmt: skip
    print(completed.stdout, end="")
    if completed.returncode != 0:
        return f"exit code {completed.returncode}\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return None


SYBIL = Sybil(parsers=[PythonCodeBlockParser(), CodeBlockParser("bash", bash), SkipParser()])
FENCES = FencedCodeBlockLexer(language=r"[^\n]*")
GENERATED = re.compile(r"^<!-- generated: [^\n]+ -->\n.*?^<!-- end generated -->$", re.S | re.M)


def code_blocks(document) -> list[tuple[int, str]]:
    """Every fenced block of a page: (start offset, language)."""
    return [(region.start, region.lexemes["language"].strip()) for region in FENCES(document)]


def page_id(path: Path) -> str:
    return path.name


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_every_code_block_runs_or_is_marked(path, tmp_path, monkeypatch, request):
    slow = request.config.getoption("--slow")
    document = SYBIL.parse(path)
    document.namespace.update(slow=slow, __name__="__docs__")
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # a module a block writes is importable, as from the user's folder
    examples = [example for example in document if example.region.evaluator is not None]
    ran, skipped, printed = 0, 0, io.StringIO()
    for example in examples:
        is_code = not isinstance(example.region.evaluator, Skipper)  # a skip marker is an example too
        try:
            with contextlib.redirect_stdout(printed):
                example.evaluate()
        except SkipTest:
            skipped += is_code
        else:
            ran += is_code
    text = path.read_text()
    markers = re.findall(r"^<!-- skip: (\w+)( if\(not slow)?", text, re.M)  # as Sybil reads them: a line each
    assert all(action == "next" for action, _ in markers), "use only 'skip: next' markers (one block each)"
    slow_markers = sum(1 for _, conditional in markers if conditional)
    assert len(markers) - slow_markers == ALWAYS_SKIPPED.get(path.name, 0), "update ALWAYS_SKIPPED with the reason"
    assert skipped == len(markers) - (slow_markers if slow else 0)
    blocks = code_blocks(document)
    outputs = [start for start, language in blocks if language == "text"]
    assert all(any(m.start() < start < m.end() for m in GENERATED.finditer(text)) for start in outputs), (
        "a ```text block outside a generated part: show output only through benchmarks/write_docs.py"
    )
    assert ran + skipped == len(blocks) - len(outputs), f"a block was neither run nor marked: {blocks}"
    if not slow and slow_markers:
        return  # the checks below need the slow blocks
    expected = EXPECTED.get(path.name, {})
    assert expected.get("printed", "") in printed.getvalue()
    for name in expected.get("files", []):
        assert (tmp_path / name).exists(), name


def write_docs():
    """benchmarks/write_docs.py as a module."""
    return benchmark_script("write_docs")


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_every_generated_part_is_what_the_script_writes_now(path):
    text = path.read_text()
    assert write_docs().regenerate(text) == text, f"run: python benchmarks/write_docs.py ({path.name} is stale)"


def test_the_policies_comparison_json_is_what_the_script_computes_from_the_bench_reports():
    rows = write_docs().comparison_rows()
    assert rows == json.loads((ROOT / "benchmarks" / "results" / "policies_vs_heuristics.json").read_text())


def test_a_conditioned_sweep_spans_the_hull_only_from_one_per_step_accuracy_to_its_ten_percent_point():
    compare = write_docs().script("policies_vs_heuristics")
    assert compare.ten_percent_nfe([[2.0, 0.0], [4.0, 1.0]]) == pytest.approx(2.2)
    assert compare.ten_percent_nfe([[1.0, 0.3], [2.0, 0.9]]) == 1.0  # below the first vertex nothing is compared
    assert compare.ten_percent_nfe([[1.0, 0.0], [2.0, 0.05]]) is None

    def report(points: list[tuple[float, float]]) -> dict:
        return {"hull": [[2.0, 0.0], [4.0, 1.0]], "heuristics": [{"name": "top_k_confidence:k=1", "accuracy": 1.0}],
                "agents": {"cond": [{"name": f"cond:alpha={i}", "mean_nfe": n, "accuracy": a}
                                    for i, (n, a) in enumerate(points)],
                           "single": [{"name": "single:beta=1", "mean_nfe": 3.0, "accuracy": 0.5}]}}  # fmt: skip

    [spans] = compare.sweep_coverage("t", "full", report([(2.1, 0.05), (4.0, 0.985), (3.0, 0.5)]))
    assert spans["reaches_top"] and spans["reaches_low_end"] and spans["agent"] == "cond"
    assert spans["widest_gap"] == pytest.approx(1.0)  # 2.1 -> 3.0 -> 4.0: the widest step is 3.0 to 4.0
    [short] = compare.sweep_coverage("t", "full", report([(2.5, 0.2), (4.0, 0.97)]))
    assert not short["reaches_top"] and not short["reaches_low_end"]


def test_the_targets_table_says_which_target_is_met_and_by_how_much():
    compare = write_docs().script("policies_vs_heuristics")

    def point(task, name, nfe, accuracy, hull, low=-1.0, setting="full"):
        gain = None if hull is None else accuracy - hull
        room = setting == "full" and hull is not None and 1.0 - hull >= 0.20
        return {"task": task, "setting": setting, "point": name, "mean_nfe": nfe, "accuracy": accuracy,
                "hull_accuracy": hull, "hull_gain": gain, "one_per_step": 1.0,
                "within_2_points": gain is None or gain >= -0.02,
                "low_nfe_bar": (gain >= min(0.30, hull) and low > 0) if room else None}  # fmt: skip

    points = [point("permutation", "p:beta=1", 4.0, 1.0, 0.35, low=0.6),  # +0.65: meets the bar
              point("sudoku", "s:beta=1", 2.0, 0.75, 0.65, low=0.02),  # +0.10 of +0.30 needed
              point("sudoku", "s:beta=0.5", 6.0, 0.95, 0.999, setting="semi_ar"),  # -0.049: below by more than 2
              point("statetracking", "t:beta=1", 1.7, 0.97, 0.80, low=0.1)]  # fmt: skip  (not eligible)
    sweeps = [{"agent": "c", "best_accuracy": 0.99, "one_per_step": 1.0, "reaches_top": True, "fewest_nfe": 4.0,
               "hull_ten_percent_nfe": 2.5, "reaches_low_end": False}]  # fmt: skip
    manifest = {"a": {"train_seconds": 600, "machine": "box", "command": "unmask-gym train --out runs/a"},
                "b": {"train_seconds": 1500, "machine": "box", "command": "unmask-gym train --out runs/b"},
                "c": {"train_seconds": 300, "machine": "box", "command": "unmask-gym train --init-policy b --expert "
                      "'top_k_confidence:k=1@0.1 | a@1 | b@2' --out runs/c"}}  # fmt: skip
    # From scratch, c needs a and b trained first, each once: 300 + 600 + 1500 seconds.
    assert compare.prerequisites(manifest, "c") == ["b", "a"] and compare.from_scratch_seconds(manifest, "c") == 2400
    text = compare.targets_markdown(points, sweeps, {"statetracking": [1.3, 0.7]}, manifest)
    one, two, three, four = text.splitlines()[2:]
    assert "not met" in one and "1 of 4 compared points are: `s:beta=0.5` (-0.049)" in one
    assert "not met" in two and "permutation: 1 of 1 eligible points meet it" in two
    assert "`s:beta=1`, is +0.100 at 2.00 NFE against +0.300 needed" in two
    assert "statetracking: no eligible budget (the hull starts at 0.700 @ 1.30 NFE" in two
    assert "not met" in three and "`c` stops at 4.00 NFE (the hull's 10% point: 2.50)" in three
    assert "| not met |" in four and "`c`, took 40.0 min from scratch" in four and "box)" in four
    # Met: the row names the lowest point instead.
    met = compare.targets_markdown([r for r in points if r["point"] != "s:beta=0.5"], sweeps,
                                   {"statetracking": [1.3, 0.7]}, manifest).splitlines()[2]  # fmt: skip
    assert "| met | none of 3 compared points is; the lowest is `s:beta=1` (+0.100) |" in met


def test_every_page_is_in_the_site_navigation_and_every_link_to_a_page_exists():
    config = (ROOT / "mkdocs.yml").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f": {page.name}" in config, f"{page.name} is not in mkdocs.yml's nav"
    for path in PAGES:
        for target in re.findall(r"\]\(((?:docs/)?[\w-]+\.md)(?:#[\w-]+)?\)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.name} links to a missing {target}"


def test_the_recipes_table_reads_what_each_command_changes_from_the_defaults():
    compare = write_docs().script("policies_vs_heuristics")
    manifest = {
        "x-full-cond": {"iterations": 500, "command": "unmask-gym train --task x --alpha 0.5 --alpha-range 0.05,64 "
                        "--reward additive --warm-start --expert 'a@0.05 | b@1' --alpha-scaled-advantages --out r"},
        "x-full-a4": {"iterations": 80, "command": "unmask-gym train --task x --alpha 4 --expert-steering --expert "
                      "eb_sampler:gamma=1 --min-learning-rate-ratio 1 --init-policy x-full-a2 --out r"},
        "x-full-a2": {"iterations": 10, "command": "unmask-gym train --task x --alpha 2 --out r"},
    }  # fmt: skip
    rows = compare.recipe_markdown(manifest).splitlines()[2:]
    assert rows[0] == ("| `x-full-cond` | 0.05 to 64 | additive reward; warm start from a teacher per alpha range; "
                       "alpha-scaled advantages | 500 |")  # fmt: skip
    # Steering names an expert too, but it is no warm start.
    assert rows[1] == "| `x-full-a4` | 4 | starts from `x-full-a2`; constant learning rate | 80 |"
    assert rows[2] == "| `x-full-a2` | 2 | the defaults | 10 |"
    # A policy trained in two runs: the second starts where the first ended, so its --init-policy goes unsaid.
    first = "unmask-gym train --task x --alpha 8 --init-policy x-full-a2 --out a"
    manifest = {"x-full-a8": {"iterations": 30, "after": [{"command": first}],
                              "command": "unmask-gym train --task x --alpha 8 --iterations 20 --train-betas 0.5 "
                                         "--train-beta-alphas 0.1 --train-only-beta --init-policy a --out b"}}
    assert compare.recipe_markdown(manifest).splitlines()[2] == (
        "| `x-full-a8` | 8 | starts from `x-full-a2`; then 20 iterations with groups at beta 0.5; rewarded at alpha "
        "0.1; only the weights that read beta | 30 |")  # fmt: skip
    assert compare.prerequisites({**manifest, "x-full-a2": {}}, "x-full-a8") == ["x-full-a2"]  # the first run's too
