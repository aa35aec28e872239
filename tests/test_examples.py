"""Every example runs to completion (CleanRL's subprocess pattern); the RL ones must also learn something.

Each learning example prints a held-out line before and after training ("... mean reward X ..."), on the same
prompts and seed; with a small budget its reward must still rise: a learning signal, not "it ran".
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
SMALL_BUDGETS = {
    "sb3_ppo.py": ["--total-timesteps", "8192", "--eval-episodes", "64"],
    "sb3_maskable_ppo.py": ["--total-timesteps", "8192", "--eval-episodes", "64"],
    "sb3_dqn_topk.py": ["--total-timesteps", "8192", "--eval-episodes", "64"],
    "torchrl_ppo.py": ["--total-frames", "8192", "--eval-episodes", "64"],
    "cleanrl_ppo.py": ["--total-timesteps", "8192", "--eval-episodes", "64"],
}
"""The learning examples and a budget at which each already learns (their defaults take about 30 s on 2 quiet cores)."""


def test_every_learning_example_is_listed():
    learners = {path.name for path in EXAMPLES if "ppo" in path.name or "dqn" in path.name}
    assert learners == set(SMALL_BUDGETS)


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(example):
    command = [sys.executable, str(example), *SMALL_BUDGETS.get(example.name, [])]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip()
    if example.name in SMALL_BUDGETS:
        rewards = [float(value) for value in re.findall(r"mean reward (-?[\d.]+)", completed.stdout)]
        assert len(rewards) >= 2, completed.stdout
        assert rewards[1] > rewards[0] + 0.05, completed.stdout  # before vs after, same held-out prompts


@pytest.mark.slow
def test_the_tutorial_notebook_executes():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(Path(__file__).parent.parent / "examples" / "tutorial.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3").execute()  # raises on a failing cell
    printed = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert "completion" in printed and "this notebook's policy" in printed
