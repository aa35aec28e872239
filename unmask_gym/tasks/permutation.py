"""Permutation: write the given digits in any order. Many answers are right, so parallel commits collide.

Two versions. ``Permutation`` (v1, ``UnmaskGym/Permutation-v1``) takes a multiset of 4 to 10 digits (a digit may
repeat): 184,470 prompts, 18,423 of them in the eval split, of which the fixed held-out set keeps the first 2,000
distinct ones the task's own draws give (so it follows the training distribution of lengths). ``PermutationV0``
(``UnmaskGym/Permutation-v0``, superseded) takes distinct digits: 1,013 prompts in all, 74 held out, too few for
a benchmark.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from unmask_gym.tasks.base import SyntheticTask, split_of


class Permutation(SyntheticTask):
    """Prompt: 4 to 10 digits (repeats allowed) in non-decreasing order, then ``=``; any ordering is correct.

    Committing two positions in one pass lets both pick the same (individually likely) digit: using a digit more
    often than the prompt has it makes the answer wrong. This is the low-NFE failure of confidence rules that a
    learned policy avoids.

    Example:
        >>> task = Permutation()
        >>> task.score(["3101", "0113", "3311", "011"], ["0113"] * 4).tolist()
        [1.0, 1.0, 0.0, 0.0]
    """

    name = "Permutation"
    answer_length = 16
    max_prompt_length = 11  # ten digits and "="
    train_steps = 4000
    v0 = False  # v1: a multiset of digits
    prompt_format = "4 to 10 digits in non-decreasing order (repeats allowed), then '=', e.g. '0113789='"
    prompt_pattern = r"(?=\d{4})0*1*2*3*4*5*6*7*8*9*="

    def __init__(self, min_digits: int = 4, max_digits: int = 10) -> None:
        super().__init__()
        if not 1 <= min_digits <= max_digits <= 10:
            raise ValueError(f"need 1 <= min_digits <= max_digits <= 10, got {min_digits}, {max_digits}")
        self.min_digits, self.max_digits = min_digits, max_digits

    def _draw(self, generator: np.random.Generator) -> tuple[str, str]:
        count = int(generator.integers(self.min_digits, self.max_digits + 1))
        digits = "".join(str(d) for d in sorted(generator.choice(10, size=count, replace=not self.v0)))
        return f"{digits}=", digits

    def _prompt_problem(self, prompt: str) -> str | None:
        count = len(prompt) - 1
        if not self.min_digits <= count <= self.max_digits:
            return f"{count} digits"
        return None

    def all_prompts(self) -> list[str]:
        """Every prompt the task can draw (both splits), in a fixed order."""
        chooser = itertools.combinations if self.v0 else itertools.combinations_with_replacement
        return [
            "".join(digits) + "="
            for count in range(self.min_digits, self.max_digits + 1)
            for digits in chooser("0123456789", count)
        ]

    def reference_for(self, prompt: str) -> str:
        """The prompt's digits."""
        return prompt.rstrip("=")

    def is_correct(self, completion: str, reference: str) -> bool:
        """The completion uses each of the reference's digits exactly as often as the reference does."""
        return sorted(completion) == sorted(reference)

    def score_tokens(self, completions: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
        """``score`` on the device: (D, W) ids (-1 after the end) -> (D,); the same ids as often as the reference."""
        counts = [torch.zeros(len(ids), self.tokenizer.vocab_size + 1, device=ids.device).scatter_add_(
            1, ids + 1, torch.ones_like(ids, dtype=torch.float32)) for ids in (completions, references)]  # fmt: skip
        return (counts[0][:, 1:] == counts[1][:, 1:]).all(1).float()  # column 0 counts the -1 filler

    def solution(self, reference: str, generator: np.random.Generator) -> str:
        """A uniformly random ordering (the dLLM learns the whole distribution of right answers)."""
        return "".join(generator.permutation(list(reference)))


class PermutationV0(Permutation):
    """Superseded by ``Permutation`` (v1): 4 to 10 *distinct* digits in increasing order, then ``=``.

    Only 74 of its 1,013 prompts are held out, too few to benchmark on; kept so that v0 results reproduce.

    Example:
        >>> len(PermutationV0().held_out_set())
        74
    """

    v0 = True
    model_name = "permutation-v0"
    train_steps = 2500
    prompt_format = "4 to 10 distinct digits in increasing order, then '=', e.g. '013789='"
    prompt_pattern = r"(?=\d{4})0?1?2?3?4?5?6?7?8?9?="  # each digit at most once, in order

    def held_out_set(self) -> list[tuple[str, str]]:
        """Every eval-split prompt with its reference, in a fixed order: the whole split (74 prompts)."""
        return [(p, self.reference_for(p)) for p in self.all_prompts() if split_of(p) == "eval"]
