"""Fixed-width addition: the control task, which a good model solves in one forward pass."""

from __future__ import annotations

import numpy as np
import torch

from unmask_gym.tasks.base import SyntheticTask, exact_match_tokens

WIDTH = 6  # operand digits; the sum has WIDTH + 1


class Addition(SyntheticTask):
    """``a+b=`` with 2 to 6 digit operands, zero-padded to 6 digits; the answer is the 7-digit zero-padded sum.

    End-of-sequence padding fills the rest of the 12-position answer buffer.

    Fixed widths put every digit at a fixed position, so the whole sum is computable in one pass: this is the
    control task, where unmasking order should not matter. (With natural widths the 0.8M-parameter model was still
    at loss 0.65 after 2,300 steps on CPU: aligning digits of variable-width numbers is what it failed to learn.)

    Example:
        >>> import numpy as np
        >>> task = Addition()
        >>> task.reference_for("000123+000045=")
        '0000168'
        >>> prompts, references = task.sample(2, np.random.default_rng(0))
        >>> task.score([references[0], "x"], references).tolist()
        [1.0, 0.0]
    """

    name = "Addition"
    answer_length = 12
    max_prompt_length = 2 * WIDTH + 2  # "000123+004567="
    train_steps = 1500
    prompt_format = f"two {WIDTH}-digit zero-padded numbers, e.g. '000123+004567='"
    prompt_pattern = rf"\d{{{WIDTH}}}\+\d{{{WIDTH}}}="

    def __init__(self, min_digits: int = 2, max_digits: int = WIDTH) -> None:
        super().__init__()
        if not 1 <= min_digits <= max_digits <= WIDTH:
            raise ValueError(
                f"need 1 <= min_digits <= max_digits <= {WIDTH}, got min_digits={min_digits}, max_digits={max_digits}"
            )
        self.min_digits, self.max_digits = min_digits, max_digits

    def _operand(self, generator: np.random.Generator) -> int:
        digits = int(generator.integers(self.min_digits, self.max_digits + 1))
        return int(generator.integers(10 ** (digits - 1), 10**digits))

    def _draw(self, generator: np.random.Generator) -> tuple[str, str]:
        prompt = f"{self._operand(generator):0{WIDTH}d}+{self._operand(generator):0{WIDTH}d}="
        return prompt, self.reference_for(prompt)

    def reference_for(self, prompt: str) -> str:
        """The zero-padded sum of any ``a+b=`` prompt."""
        left, right = prompt.rstrip("=").split("+")
        return f"{int(left) + int(right):0{WIDTH + 1}d}"

    def is_correct(self, completion: str, reference: str) -> bool:
        """Exact match of the zero-padded sum."""
        return completion == reference

    def score_tokens(self, completions: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
        """``score`` on the device: (D, W) completion and reference ids (-1 after the end) -> (D,) float32."""
        return exact_match_tokens(completions, references)

    def solution(self, reference: str, generator: np.random.Generator) -> str:
        """The sum itself (the answer is unique)."""
        return reference
