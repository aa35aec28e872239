"""``DatasetTask``: a task over a local dataset file (GSM8K, MATH), for real dLLMs and their tokenizers.

Prompts are plain text: the model's codec applies its chat template when the env encodes them
(``unmask_gym.models.codec``), so one task serves LLaDA, Dream and any masked LM. Records are split into ``train``
and ``eval`` by the stable hash every task uses (``split_of``, of the question, so few-shot settings do not move a
record), or all into one split with ``file_split``. A
prompt's length is counted in the model's tokens, so ``max_prompt_length`` is set by ``fit_to_model``: the longest
templated prompt by default; a given limit that some prompt exceeds is a ValueError naming it, unless
``skip_long_prompts=True`` drops such prompts (``skipped_prompts`` counts them).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unmask_gym.tasks.base import check_split, split_of
from unmask_gym.tasks.records import read_records


class DatasetTask:
    """Prompts and references from a dataset's records; subclasses say which fields and how to verify.

    Args:
        path: a JSONL/JSON/parquet/Arrow file or a folder of them (``read_records``).
        few_shot: worked examples from the train split put before each question (0: none, the instruct models'
            usual setting); they are never served as prompts themselves.
        file_split: None splits records by prompt hash; ``"train"`` or ``"eval"`` puts every record there (e.g.
            ``"eval"`` for GSM8K's test file).
        answer_length: L, the answer positions an env gives this task by default.
    """

    name = ""
    question_field = ""
    solution_field = ""
    instruction = ""  # appended to every question: how the answer should end (what extraction reads)
    default_block_length: int | None = 32  # the paper's semi-AR setting

    def __init__(self, path: str | Path, *, few_shot: int = 0, file_split: str | None = None,
                 answer_length: int = 256) -> None:  # fmt: skip
        if not isinstance(few_shot, int) or isinstance(few_shot, bool) or few_shot < 0:
            raise ValueError(f"few_shot must be an int >= 0, got {few_shot!r}")
        if file_split is not None:
            check_split(file_split)
        records = read_records(path)
        missing = [i for i, r in enumerate(records) if self.question_field not in r or self.solution_field not in r]
        if missing or not records:
            raise ValueError(f"{self.name} records need the fields {self.question_field!r} and "
                             f"{self.solution_field!r}; {path} has {len(records)} records and record "
                             f"{missing[:1] or '-'} lacks them")  # fmt: skip
        self.path, self.answer_length, self.file_split = str(path), answer_length, file_split
        self.tokenizer = None  # plain text: the model's codec tokenizes it
        self.skipped_prompts = 0
        questions = [str(r[self.question_field]) for r in records]
        solutions = [str(r[self.solution_field]) for r in records]
        splits = [file_split or split_of(question) for question in questions]
        shots = [i for i, split in enumerate(splits) if split == "train"][:few_shot]
        if len(shots) < few_shot:
            raise ValueError(f"few_shot={few_shot} needs that many train records; {path} has {len(shots)}")
        self.shots = "".join(f"Question: {questions[i]}\nAnswer: {solutions[i]}\n\n" for i in shots)
        self.items: dict[str, list[tuple[str, str]]] = {"train": [], "eval": []}
        for index, (question, solution, split) in enumerate(zip(questions, solutions, splits, strict=True)):
            if index not in shots:
                self.items[split].append((self.prompt_for(question), solution))
        self.max_prompt_length = max(len(p) for items in self.items.values() for p, _ in items)  # characters

    def prompt_for(self, question: str) -> str:
        """The prompt text of one question: the few-shot examples, the question and the instruction."""
        return f"{self.shots}{question}\n{self.instruction}" if self.instruction else f"{self.shots}{question}"

    @property
    def prompts(self) -> list[str]:
        """Every prompt this task can serve, both splits."""
        return [prompt for items in self.items.values() for prompt, _ in items]

    def fit_to_model(self, model: Any, max_prompt_length: int | None = None,
                     skip_long_prompts: bool = False) -> DatasetTask:  # fmt: skip
        """A copy whose ``max_prompt_length`` counts ``model``'s tokens (chat template included).

        Args:
            model: the env's dLLM (its ``encode_prompt``, else its tokenizer, as the env encodes).
            max_prompt_length: the limit; None takes the longest prompt's length.
            skip_long_prompts: drop prompts over the limit (counted in ``skipped_prompts``) instead of raising.

        Raises:
            ValueError: a prompt exceeds ``max_prompt_length`` (naming its length and start), or none is left.
        """
        from unmask_gym.models.codec import encode_prompt

        lengths = {prompt: len(encode_prompt(model, prompt)) for prompt in self.prompts}
        fitted = copy.copy(self)
        if max_prompt_length is None:
            fitted.max_prompt_length = max(lengths.values())
            return fitted
        too_long = [prompt for prompt, length in lengths.items() if length > max_prompt_length]
        if too_long and not skip_long_prompts:
            longest = max(too_long, key=lengths.__getitem__)
            raise ValueError(
                f"max_prompt_length={max_prompt_length} is shorter than {len(too_long)} {self.name} prompts (the "
                f"longest has {lengths[longest]} tokens: {longest[:60]!r}...); raise it, leave it None for the "
                "longest prompt's length, or pass skip_long_prompts=True to drop them"
            )
        fitted.items = {split: [(p, s) for p, s in items if lengths[p] <= max_prompt_length]
                        for split, items in self.items.items()}  # fmt: skip
        fitted.skipped_prompts = self.skipped_prompts + len(too_long)
        if not any(fitted.items.values()):
            raise ValueError(f"no {self.name} prompt fits max_prompt_length={max_prompt_length}")
        fitted.max_prompt_length = max_prompt_length
        return fitted

    def sample(self, n: int, generator: np.random.Generator, split: str = "train") -> tuple[list[str], list[str]]:
        """``n`` distinct records of ``split`` in an order drawn from ``generator``: prompts and reference solutions.

        Raises:
            ValueError: the split has fewer than ``n`` records.
        """
        items = self.items[check_split(split)]
        if n > len(items):
            raise ValueError(f"{self.name} ({self.path}) has {len(items)} {split} prompts, fewer than the {n} asked "
                             "for; ask for fewer (num_prompts) or pass file_split to use the whole file")  # fmt: skip
        chosen = generator.choice(len(items), size=n, replace=False) if n > 1 else [generator.integers(len(items))]
        return [items[i][0] for i in chosen], [items[i][1] for i in chosen]

    def score(self, completions: Sequence[str], references: Sequence[str]) -> torch.Tensor:
        """1.0 where the completion's final answer matches the reference's, else 0.0: float32 (n,)."""
        if len(completions) != len(references):
            raise ValueError(f"completions and references must have the same length, got {len(completions)} and "
                             f"{len(references)}")  # fmt: skip
        return torch.tensor([float(self.is_correct(c, r)) for c, r in zip(completions, references, strict=True)],
                            dtype=torch.float32)  # fmt: skip

    def is_correct(self, completion: str, reference: str) -> bool:
        """Whether ``completion``'s final answer is the reference's."""
        raise NotImplementedError

    def __repr__(self) -> str:
        sizes = {split: len(items) for split, items in self.items.items()}
        return f"{type(self).__name__}({self.path!r}, prompts={sizes}, answer_length={self.answer_length})"
