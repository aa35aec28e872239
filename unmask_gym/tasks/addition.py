"""Multi-digit addition: the control task, which a good model solves in one forward pass."""

from __future__ import annotations

import numpy as np

from unmask_gym.tasks.base import SyntheticTask


class Addition(SyntheticTask):
    """``a+b=`` with 2 to 6 digit operands; the answer is the decimal sum, then end-of-sequence padding.

    Example:
        >>> import numpy as np
        >>> task = Addition()
        >>> prompts, references = task.sample(2, np.random.default_rng(0))
        >>> task.score([references[0], "x"], references).tolist()
        [1.0, 0.0]
    """

    name = "Addition"
    answer_length = 12
    max_prompt_length = 14  # "999999+999999="

    def __init__(self, min_digits: int = 2, max_digits: int = 6) -> None:
        super().__init__()
        if not 1 <= min_digits <= max_digits <= 6:
            raise ValueError(
                f"need 1 <= min_digits <= max_digits <= 6, got min_digits={min_digits}, max_digits={max_digits}"
            )
        self.min_digits, self.max_digits = min_digits, max_digits

    def _operand(self, generator: np.random.Generator) -> int:
        digits = int(generator.integers(self.min_digits, self.max_digits + 1))
        return int(generator.integers(10 ** (digits - 1), 10**digits))

    def _draw(self, generator: np.random.Generator) -> tuple[str, str]:
        a, b = self._operand(generator), self._operand(generator)
        return f"{a}+{b}=", str(a + b)

    def reference_for(self, prompt: str) -> str:
        """The reference of any ``a+b=`` prompt."""
        left, right = prompt.rstrip("=").split("+")
        return str(int(left) + int(right))

    def is_correct(self, completion: str, reference: str) -> bool:
        """Exact match of the decimal sum."""
        return completion == reference

    def solution(self, reference: str, generator: np.random.Generator) -> str:
        """The sum itself (the answer is unique)."""
        return reference
