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
