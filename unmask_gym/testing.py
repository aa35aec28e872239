"""Deterministic test doubles: a fake dLLM whose logits are a pure function of the canvas, and its task.

They let tests (ours and yours) write expected trajectories out by hand, without a trained model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from unmask_gym.tasks.base import SyntheticTask
from unmask_gym.tasks.tokenizer import CharTokenizer


class CountingTask(SyntheticTask):
    """Prompt ``"n:x"`` (n in 1..L, x a 3-digit number); the answer repeats x's digits up to length n.

    Example:
        >>> CountingTask(answer_length=6).reference_for("5:472")
        '47247'
    """

    name = "Counting"
    max_prompt_length = 6
    default_block_length = None  # full diffusion unless a test asks for blocks
    prompt_format = "'n:x' with n in 1..L and x a 3-digit number, e.g. '3:472'"
    prompt_pattern = r"[1-9]\d?:[1-9]\d\d"

    def __init__(self, answer_length: int = 4) -> None:
        super().__init__()
        self.answer_length = answer_length

    def _prompt_problem(self, prompt: str) -> str | None:
        if int(prompt.split(":")[0]) > self.answer_length:
            return f"n must be at most L = {self.answer_length}"
        return None

    def _draw(self, generator: np.random.Generator) -> tuple[str, str]:
        prompt = f"{int(generator.integers(1, self.answer_length + 1))}:{int(generator.integers(100, 1000))}"
        return prompt, self.reference_for(prompt)

    def reference_for(self, prompt: str) -> str:
        """The answer of any ``"n:x"`` prompt."""
        length, number = prompt.split(":")
        return (number * self.answer_length)[: int(length)]

    def is_correct(self, completion: str, reference: str) -> bool:
        """Exact match."""
        return completion == reference

    def solution(self, reference: str, generator: np.random.Generator) -> str:
        """The unique answer."""
        return reference


class FakeDiffusionLM:
    """A ``DiffusionLM`` that always predicts ``CountingTask``'s answer, more confidently on the left.

    Position j of the answer region gets logit ``4 - 0.5 j`` on the right token and 0 elsewhere, so confidences
    fall from left to right. It counts its forward passes (``calls``) and the rows it saw (``rows``).
    """

    def __init__(self, tokenizer: CharTokenizer | None = None, vocab_size: int | None = None) -> None:
        self.tokenizer = tokenizer or CharTokenizer()
        self.mask_token_id = self.tokenizer.mask_token_id
        self.pad_token_id = self.tokenizer.pad_token_id
        self.end_token_ids = frozenset({self.tokenizer.eos_token_id})
        self.vocab_size = vocab_size or self.tokenizer.vocab_size
        self.max_length = None
        self.device = torch.device("cpu")
        self.calls = 0
        self.rows = 0

    def logits(
        self,
        tokens: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (N, S, V) computed from each row's prompt (the columns before ``positions``)."""
        self.calls += 1
        self.rows += tokens.shape[0]
        positions = torch.arange(tokens.shape[1], device=tokens.device) if positions is None else positions
        answer_start = int(positions[0])
        logits = torch.zeros(tokens.shape[0], len(positions), self.vocab_size, device=tokens.device)
        for row in range(tokens.shape[0]):
            prompt = self.tokenizer.decode(tokens[row, :answer_start].tolist())
            target = self._target(prompt, len(positions))
            for j, token in enumerate(target):
                logits[row, j, token] = 4.0 - 0.5 * j
        return logits

    def _target(self, prompt: str, length: int) -> Sequence[int]:
        try:
            answer = CountingTask(length).reference_for(prompt)
        except ValueError:
            answer = ""
        ids = self.tokenizer.encode(answer)
        return ids + [self.tokenizer.eos_token_id] * (length - len(ids))
