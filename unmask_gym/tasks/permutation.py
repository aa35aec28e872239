"""Permutation: write the given digits in any order. Many answers are right, so parallel commits collide."""

from __future__ import annotations

import numpy as np

from unmask_gym.tasks.base import SyntheticTask


class Permutation(SyntheticTask):
    """Prompt: 4 to 10 distinct digits in increasing order, then ``=``; any ordering of them is correct.

    Committing two positions in one pass lets both pick the same (individually likely) digit: the duplicate makes
    the answer wrong. This is the low-NFE failure of confidence rules that a learned policy avoids.

    Example:
        >>> task = Permutation()
        >>> task.score(["3102", "0123", "3312", "012"], ["0123"] * 4).tolist()
        [1.0, 1.0, 0.0, 0.0]
    """

    name = "Permutation"
    answer_length = 16
    max_prompt_length = 11  # ten digits and "="
    train_steps = 2500
    prompt_format = "1 to 10 distinct digits in increasing order, then '=', e.g. '013789='"
    prompt_pattern = r"(?=\d)0?1?2?3?4?5?6?7?8?9?="  # each digit at most once, in order

    def __init__(self, min_digits: int = 4, max_digits: int = 10) -> None:
        super().__init__()
        if not 1 <= min_digits <= max_digits <= 10:
            raise ValueError(f"need 1 <= min_digits <= max_digits <= 10, got {min_digits}, {max_digits}")
        self.min_digits, self.max_digits = min_digits, max_digits

    def _draw(self, generator: np.random.Generator) -> tuple[str, str]:
        count = int(generator.integers(self.min_digits, self.max_digits + 1))
        digits = "".join(str(d) for d in sorted(generator.choice(10, size=count, replace=False)))
        return f"{digits}=", digits

    def reference_for(self, prompt: str) -> str:
        """The prompt's digits."""
        return prompt.rstrip("=")

    def is_correct(self, completion: str, reference: str) -> bool:
        """The completion uses each of the reference's digits exactly once."""
        return sorted(completion) == sorted(reference)

    def solution(self, reference: str, generator: np.random.Generator) -> str:
        """A uniformly random ordering (the dLLM learns the whole distribution of right answers)."""
        return "".join(generator.permutation(list(reference)))
