"""Tasks: prompts with references and verifiers. ``make_task(name)`` builds a built-in task by name."""

from __future__ import annotations

from unmask_gym.tasks.addition import Addition
from unmask_gym.tasks.base import SPLITS, SyntheticTask, Task, split_of
from unmask_gym.tasks.permutation import Permutation
from unmask_gym.tasks.state_tracking import StateTracking
from unmask_gym.tasks.sudoku import Sudoku
from unmask_gym.tasks.tokenizer import CharTokenizer

TASKS: dict[str, type[SyntheticTask]] = {
    "addition": Addition,
    "permutation": Permutation,
    "statetracking": StateTracking,
    "sudoku": Sudoku,
}


def make_task(name: str) -> SyntheticTask:
    """Builds the built-in task called ``name`` (case-insensitive).

    Example:
        >>> make_task("Addition").name
        'Addition'
    """
    key = name.lower()
    if key not in TASKS:
        raise ValueError(f"unknown task {name!r}; built-in tasks are {sorted(TASKS)}")
    return TASKS[key]()


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
    "SPLITS",
    "TASKS",
    "Addition",
    "CharTokenizer",
    "Permutation",
    "StateTracking",
    "Sudoku",
    "SyntheticTask",
    "Task",
    "make_task",
    "resolve_task",
    "split_of",
]
