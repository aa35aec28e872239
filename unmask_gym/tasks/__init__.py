"""Tasks: prompts with references and verifiers. ``make_task(name)`` builds a built-in task by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unmask_gym.tasks.addition import Addition
from unmask_gym.tasks.base import SPLITS, SyntheticTask, Task, split_of
from unmask_gym.tasks.dataset_task import DatasetTask
from unmask_gym.tasks.gsm8k import GSM8K
from unmask_gym.tasks.math_task import MATH
from unmask_gym.tasks.permutation import Permutation, PermutationV0
from unmask_gym.tasks.state_tracking import StateTracking
from unmask_gym.tasks.sudoku import Sudoku
from unmask_gym.tasks.tokenizer import CharTokenizer

TASKS: dict[str, type[SyntheticTask]] = {
    "addition": Addition,
    "permutation": Permutation,
    "permutation-v0": PermutationV0,
    "statetracking": StateTracking,
    "sudoku": Sudoku,
}

DATASET_TASKS: dict[str, type[DatasetTask]] = {"gsm8k": GSM8K, "math": MATH}


def make_task(name: str) -> SyntheticTask:
    """Builds the built-in task called ``name`` (case-insensitive).

    Example:
        >>> make_task("Addition").name
        'Addition'
    """
    key = name.lower()
    if key in DATASET_TASKS:
        raise ValueError(f"task {name!r} reads a local dataset file: use make_dataset_task({name!r}, PATH) or the "
                         "UnmaskGym/HF-v0 env with dataset=PATH")  # fmt: skip
    if key not in TASKS:
        raise ValueError(f"unknown task {name!r}; built-in tasks are {sorted(TASKS)}")
    return TASKS[key]()


def make_dataset_task(name: str, path: str | Path, **options: Any) -> DatasetTask:
    """Builds GSM8K (``"gsm8k"``) or MATH (``"math"``) from a local file; ``options`` go to ``DatasetTask``.

    Example:
        >>> make_dataset_task("mmlu", "x.jsonl")
        Traceback (most recent call last):
        ...
        ValueError: unknown dataset task 'mmlu'; dataset tasks are ['gsm8k', 'math']
    """
    if name.lower() not in DATASET_TASKS:
        raise ValueError(f"unknown dataset task {name!r}; dataset tasks are {sorted(DATASET_TASKS)}")
    return DATASET_TASKS[name.lower()](path, **options)


def resolve_task(task: str | Task) -> Task:
    """A task instance from a built-in name or an object implementing ``Task``."""
    if isinstance(task, str):
        return make_task(task)
    missing = [
        name for name in ("name", "answer_length", "max_prompt_length", "sample", "score") if not hasattr(task, name)
    ]
    if missing:
        raise TypeError(f"task must be a built-in task name or implement the Task protocol; missing {missing}")
    return task


__all__ = [
    "DATASET_TASKS",
    "GSM8K",
    "MATH",
    "SPLITS",
    "TASKS",
    "Addition",
    "CharTokenizer",
    "DatasetTask",
    "Permutation",
    "PermutationV0",
    "StateTracking",
    "Sudoku",
    "SyntheticTask",
    "Task",
    "make_dataset_task",
    "make_task",
    "resolve_task",
    "split_of",
]
