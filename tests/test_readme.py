"""The README's code blocks run as written (the quick start and the benchmark of your own agent)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).parent.parent / "README.md").read_text()


def python_block_after(heading: str) -> str:
    """The first ```python block after ``heading``."""
    section = README[README.index(heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_benchmark_your_own_agent_block_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(python_block_after("## Benchmark your own agent"), "README.md", "exec"), {})
    assert "mine: mean gain" in capsys.readouterr().out
    assert (tmp_path / "bench" / "bench_sudoku.json").exists()


def test_the_use_it_block_runs(capsys):
    exec(compile(python_block_after("## Use it"), "README.md", "exec"), {})
    assert capsys.readouterr().out


def benchmark_script(name: str):
    """A module of benchmarks/ (the scripts are not a package)."""
    import importlib.util

    path = Path(__file__).parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_results_tables_are_the_ones_the_scripts_write_from_the_committed_results():
    import json

    results = Path(__file__).parent.parent / "benchmarks" / "results"
    compare = benchmark_script("policies_vs_heuristics")
    rows = [row for task in compare.TASKS if (results / f"bench_{task}.json").exists()
            for setting, data in json.loads((results / f"bench_{task}.json").read_text())["settings"].items()
            for row in compare.compare(task, setting, data)]  # fmt: skip
    assert rows == json.loads((results / "policies_vs_heuristics.json").read_text())  # regenerated: the same
    assert compare.comparison_markdown(rows) in README
    assert compare.shipped_markdown(json.loads(compare.MANIFEST.read_text())) in README
    study = benchmark_script("recipe_study")
    assert study.markdown(json.loads((results / "recipe_study.json").read_text())) in README
    tasks = benchmark_script("summarize_tasks")
    assert tasks.markdown(tasks.load_reports()) in README
