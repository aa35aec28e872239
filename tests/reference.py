"""A plain-Python reference of one episode of the unmasking MDP (DESIGN.md §2), to test ``UnmaskVectorEnv`` against.

It shares nothing with the env but the model, the task and the tokenizer: lists of ints instead of tensors, its own
softmax and argmax, one forward pass over a batch of one row whenever the canvas changed.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class ReferenceEpisode:
    """One episode: reset in the constructor (with the first forward), then ``step(action)`` until it ends.

    Args:
        model: a ``DiffusionLM`` (its ``logits`` is called on a batch of one row).
        task: scores the completion at the end (``task.score``).
        prompt: the prompt text; ``reference`` its reference answer.
        answer_length: L. ``prompt_length``: P, the left-padded prompt width of the canvas.
        block_length: None for full diffusion, else only the first block holding a masked position is selectable.
        empty_action: ``"noop"``, ``"top_confidence"`` or ``"error"`` for a step that selects nothing.
        max_nfe: the NFE budget (L when None). ``alpha``: the multiplicative reward's exponent.
    """

    def __init__(self, model: Any, task: Any, prompt: str, reference: Any, *, answer_length: int,
                 prompt_length: int, block_length: int | None = None, empty_action: str = "noop",
                 max_nfe: int | None = None, alpha: float = 1.0) -> None:  # fmt: skip
        self.model, self.task, self.prompt, self.reference = model, task, prompt, reference
        self.answer_length, self.prompt_length, self.block_length = answer_length, prompt_length, block_length
        self.empty_action, self.alpha = empty_action, alpha
        self.max_nfe = answer_length if max_nfe is None else max_nfe
        self.answer = [model.mask_token_id] * answer_length  # committed tokens, the mask id where masked
        self.unmask_step = [-1] * answer_length  # the step at which each position was committed
        self.nfe, self.forwards, self.running = 0, 0, True
        self.reward, self.score, self.completion = 0.0, 0.0, None
        self._forward()

    def _forward(self) -> None:
        """Runs the model on ``[PAD.., prompt, answer]`` and keeps each position's argmax token and probability."""
        prompt_ids = self.model.tokenizer.encode(self.prompt)
        padding = self.prompt_length - len(prompt_ids)
        canvas = [self.model.pad_token_id] * padding + prompt_ids + self.answer
        attention = [False] * padding + [True] * (len(prompt_ids) + self.answer_length)
        positions = torch.arange(self.prompt_length, self.prompt_length + self.answer_length)
        logits = self.model.logits(torch.tensor([canvas]), torch.tensor([attention]), positions=positions)
        self.forwards += 1
        self.prediction, self.probability = [], []
        for row in logits[0].tolist():  # one answer position: V logits
            top = max(row)
            token = row.index(top)  # the first maximum, as torch.argmax
            self.prediction.append(token)
            self.probability.append(1.0 / sum(math.exp(value - top) for value in row))  # softmax at the argmax

    @property
    def masked(self) -> list[bool]:
        """Whether each position is still masked."""
        return [token == self.model.mask_token_id for token in self.answer]

    @property
    def block(self) -> int:
        """The current block: the one holding the first masked position (the last block when none is left)."""
        if self.block_length is None:
            return 0
        first = next((j for j, masked in enumerate(self.masked) if masked), self.answer_length - 1)
        return first // self.block_length

    @property
    def action_mask(self) -> list[bool]:
        """Selectable positions: masked, in the current block, while the episode runs."""
        return [
            masked and self.running and (self.block_length is None or j // self.block_length == self.block)
            for j, masked in enumerate(self.masked)
        ]

    def observation(self) -> dict[str, list]:
        """The observation row, as the env reports it: committed positions are certain of their token."""
        masked = self.masked
        return {
            "tokens": list(self.answer),
            "masked": masked,
            "action_mask": self.action_mask,
            "pred_token": [p if m else t for p, m, t in zip(self.prediction, masked, self.answer, strict=True)],
            "confidence": [p if m else 1.0 for p, m in zip(self.probability, masked, strict=True)],
            "step_frac": [self.nfe / self.answer_length],
            "block": self.block,
        }

    def step(self, action: list[int]) -> tuple[float, bool]:
        """Commits the selected positions inside ``action_mask``; returns ``(reward, terminated)``."""
        if not self.running:
            raise RuntimeError("the reference episode has ended")
        allowed = self.action_mask
        chosen = [bool(selected) and ok for selected, ok in zip(action, allowed, strict=True)]
        if not any(chosen) and any(allowed):
            if self.empty_action == "error":
                raise ValueError("empty action")
            if self.empty_action == "top_confidence":
                best = max((j for j in range(self.answer_length) if allowed[j]), key=lambda j: self.probability[j])
                chosen[best] = True
        for j in range(self.answer_length):
            if chosen[j]:
                self.answer[j] = self.prediction[j]
                self.unmask_step[j] = self.nfe
        self.nfe += 1  # every step costs one NFE, committing or not
        if any(self.masked) and self.nfe < self.max_nfe:
            if any(chosen):
                self._forward()  # a step that commits nothing reuses the cached prediction
            return 0.0, False
        self.running = False
        self.completion = self.model.tokenizer.decode(self.answer, sorted(self.model.end_token_ids))
        self.score = float(self.task.score([self.completion], [self.reference])[0])
        spent = min(self.nfe, self.answer_length)
        self.reward = self.score * ((self.answer_length - spent + 1) / self.answer_length) ** self.alpha
        return self.reward, True
