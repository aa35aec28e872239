"""The ``Task`` protocol and the train/eval split shared by every task.

A task produces prompts with references and scores completions against them. Prompts are split into ``train`` and
``eval`` by a stable hash of the prompt text, so the two never overlap, whatever the seed or the process.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from unmask_gym.tasks.tokenizer import CharTokenizer

SPLITS = ("train", "eval")
EVAL_FRACTION_PER_MILLE = 100  # 10% of all prompts belong to the eval split
HELD_OUT_SEED = 2512_09106  # the stream a synthetic task's fixed held-out set is drawn from (the paper's number)


def split_of(prompt: str) -> str:
    """Returns ``"eval"`` or ``"train"`` from a stable hash of the prompt (CRC-32, the same in every process).

    Example:
        >>> split_of("12+34=") in ("train", "eval")
        True
    """
    return "eval" if zlib.crc32(prompt.encode()) % 1000 < EVAL_FRACTION_PER_MILLE else "train"


def check_split(split: str) -> str:
    """Raises a ValueError unless ``split`` is ``"train"`` or ``"eval"``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


@runtime_checkable
class Task(Protocol):
    """What the env needs from a task.

    Attributes:
        name: short name, used in registered ids (``UnmaskGym/<name>-v<N>``).
        answer_length: default number of answer positions L.
        max_prompt_length: longest prompt in characters (tokens for the built-in tokenizer).
        tokenizer: the tokenizer the task's prompts are written for, or None for plain text tasks.
    """

    name: str
    answer_length: int
    max_prompt_length: int
    tokenizer: CharTokenizer | None

    def sample(self, n: int, generator: np.random.Generator, split: str = "train") -> tuple[list[str], list[Any]]:
        """Draws ``n`` prompts of ``split`` and their references."""
        ...

    def score(self, completions: Sequence[str], references: Sequence[Any]) -> torch.Tensor:
        """Scores each completion against its reference: a float32 tensor of shape (n,) in [0, 1]."""
        ...


class SyntheticTask:
    """Base class of the built-in tasks: rejection-samples ``_draw`` into the requested split.

    Subclasses set ``name``, ``answer_length``, ``max_prompt_length``, ``train_steps`` and implement ``_draw``,
    ``is_correct`` and ``solution`` (one correct answer text, used to train the built-in dLLMs).
    """

    name: str = ""
    answer_length: int = 0
    max_prompt_length: int = 0
    default_block_length: int = 4  # the semi-AR setting of the registered ids and of `unmask-gym bench`
    prompt_format: str = ""  # what a prompt looks like, in words and an example (errors and docs/tasks.md say it)
    prompt_pattern: str = ""  # a regular expression every prompt the task can draw matches in full
    train_steps: int = 3500  # optimiser steps of the shipped model's recipe (`unmask-gym train-dllm`'s default)
    model_name: str = ""  # the shipped dLLM's short name ("" = the task's name in lower case)

    def __init__(self) -> None:
        self.tokenizer = CharTokenizer()

    held_out_size: int = 2000  # distinct prompts in the fixed held-out set (tasks with a small space list theirs)

    def held_out_set(self) -> list[tuple[str, Any]]:
        """The task's fixed held-out set: ``(prompt, reference)`` pairs, all distinct, all of the eval split.

        The first ``held_out_size`` distinct eval-split prompts of a fixed stream (``HELD_OUT_SEED``), the same
        in every process; evaluations serve a seeded selection of it (``distinct_prompts``). Computed once per
        task settings and process.
        """
        return list(_held_out_set(type(self), _settings(self)))

    def sample(self, n: int, generator: np.random.Generator, split: str = "train") -> tuple[list[str], list[Any]]:
        """Draws ``n`` prompts of ``split`` and their references from ``generator`` (with replacement)."""
        check_split(split)
        prompts: list[str] = []
        references: list[Any] = []
        while len(prompts) < n:
            prompt, reference = self._draw(generator)
            if split_of(prompt) == split:
                prompts.append(prompt)
                references.append(reference)
        return prompts, references

    def score(self, completions: Sequence[str], references: Sequence[Any]) -> torch.Tensor:
        """1.0 for each correct completion, else 0.0 (a float32 tensor of shape (n,))."""
        if len(completions) != len(references):
            raise ValueError(
                f"completions and references must have the same length, got {len(completions)} and {len(references)}"
            )
        scores = [float(self.is_correct(c, r)) for c, r in zip(completions, references, strict=True)]
        return torch.tensor(scores, dtype=torch.float32)

    def check_prompt(self, prompt: str) -> str:
        """Returns ``prompt`` if this task could have drawn it, else raises a ValueError saying what is expected.

        Example:
            >>> from unmask_gym.tasks import make_task
            >>> make_task("addition").check_prompt("12+34=")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            ValueError: '12+34=' is not an Addition prompt: expected two 6-digit zero-padded numbers, ...
        """
        if not isinstance(prompt, str):
            raise TypeError(f"a prompt must be a str, got {prompt!r} of type {type(prompt).__name__}")
        problem = None if re.fullmatch(self.prompt_pattern, prompt) else "" if self.prompt_pattern else None
        if problem is None:
            problem = self._prompt_problem(prompt)
        if problem is not None:
            article = "an" if self.name[:1].lower() in "aeiou" else "a"
            detail = f" ({problem})" if problem else ""
            raise ValueError(f"{prompt!r} is not {article} {self.name} prompt{detail}: expected {self.prompt_format}")
        return prompt

    def reference_tokens(self, reference: Any, width: int) -> list[int]:
        """``reference`` as the ids that ``score_tokens`` (the device twin of ``score``) compares answers with.

        Cut at ``width`` tokens: the env passes L + 1, so a reference longer than any answer still matches none.

        Raises:
            ValueError: for a reference that is not a string of the task's vocabulary (no answer could match it).
        """
        if not isinstance(reference, str):
            raise ValueError(f"a {self.name} reference must be a str, got {reference!r} of type "
                             f"{type(reference).__name__}")  # fmt: skip
        try:
            return self.tokenizer.encode(reference)[:width]
        except ValueError as error:
            raise ValueError(f"{self.name} reference {reference!r} cannot be scored: {error}") from None

    def _prompt_problem(self, prompt: str) -> str | None:
        """What is wrong with a prompt that matches ``prompt_pattern`` (None: nothing); for rules a regex misses."""
        return None

    def _draw(self, generator: np.random.Generator) -> tuple[str, Any]:
        raise NotImplementedError

    def is_correct(self, completion: str, reference: Any) -> bool:
        """Whether ``completion`` is a right answer for ``reference``."""
        raise NotImplementedError

    def solution(self, reference: Any, generator: np.random.Generator) -> str:
        """One correct answer for ``reference`` (random among several where the task allows several)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(answer_length={self.answer_length})"


def _settings(task: SyntheticTask) -> tuple:
    """A task's constructor settings (its simple attributes): the key of its cached held-out set."""
    return tuple(sorted((k, v) for k, v in vars(task).items() if isinstance(v, int | float | str | bool)))


@functools.lru_cache(maxsize=32)
def _held_out_set(task_type: type[SyntheticTask], settings: tuple) -> tuple[tuple[str, Any], ...]:
    task = task_type.__new__(task_type)
    task.__dict__.update(dict(settings))
    generator = np.random.default_rng(HELD_OUT_SEED)
    found: dict[str, Any] = {}
    draws_without_news = 0
    while len(found) < task.held_out_size and draws_without_news < 100 * task.held_out_size:
        prompt, reference = task._draw(generator)
        if split_of(prompt) == "eval" and prompt not in found:
            found[prompt] = reference
            draws_without_news = 0
        else:
            draws_without_news += 1
    return tuple(found.items())


def distinct_prompts(task: Task, n: int, seed: int, split: str = "eval") -> tuple[list[str], list[Any]]:
    """``n`` distinct prompts of ``split`` with their references, in an order drawn from ``seed``.

    The eval split of a task with a ``held_out_set`` is a seeded selection of that fixed set; other tasks and the
    train split are drawn from ``task.sample`` until ``n`` distinct prompts are found.

    Raises:
        ValueError: the split has fewer than ``n`` distinct prompts (naming how many it has).

    Example:
        >>> from unmask_gym.tasks import make_task
        >>> distinct_prompts(make_task("permutation-v0"), 75, seed=0)
        Traceback (most recent call last):
        ...
        ValueError: Permutation's eval split has 74 distinct prompts, fewer than the 75 asked for; ask for at most 74
    """
    check_split(split)
    if split == "eval" and hasattr(task, "held_out_set"):
        items = task.held_out_set()
        if n > len(items):
            raise ValueError(f"{task.name}'s eval split has {len(items)} distinct prompts, fewer than the {n} asked "
                             f"for; ask for at most {len(items)}")  # fmt: skip
        order = np.random.default_rng(seed).permutation(len(items))[:n]
        return [items[i][0] for i in order], [items[i][1] for i in order]
    generator = np.random.default_rng(seed)
    found: dict[str, Any] = {}
    rounds_without_news, draws = 0, 0
    while len(found) < n:
        prompts, references = task.sample(n - len(found), generator, split)
        draws += len(prompts)
        before = len(found)
        for prompt, reference in zip(prompts, references, strict=True):
            found.setdefault(prompt, reference)
        rounds_without_news = 0 if len(found) > before else rounds_without_news + 1
        if rounds_without_news == 10:
            raise ValueError(f"{task.name}'s {split} split gave {len(found)} distinct prompts in {draws} draws, "
                             f"fewer than the {n} asked for; ask for fewer")  # fmt: skip
    prompts = list(found)[:n]
    return prompts, [found[p] for p in prompts]


def exact_match_tokens(completions: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """``score_tokens`` of a task whose one right answer is its reference: (D, W) ids (-1 after the end) -> (D,).

    Example:
        >>> exact_match_tokens(torch.tensor([[4, 5, -1], [4, -1, -1]]), torch.tensor([[4, 5, -1]] * 2)).tolist()
        [1.0, 0.0]
    """
    return (completions == references).all(1).float()


def token_values(tokens: torch.Tensor, tokenizer: CharTokenizer, values: dict[str, int], other: int) -> torch.Tensor:
    """Each id's value in ``values`` (by the character it stands for), ``other`` for every other id and for -1.

    Comparisons with Python ints only, so no lookup table crosses from the host to the device.

    Example:
        >>> tokenizer = CharTokenizer()
        >>> ids = torch.tensor(tokenizer.encode("1a.") + [-1])
        >>> token_values(ids, tokenizer, {"1": 1, "a": 0}, other=-2).tolist()
        [1, 0, -2, -2]
    """
    out = torch.full_like(tokens, other)
    for character, value in values.items():
        out = torch.where(tokens == tokenizer.encode(character)[0], value, out)
    return out

