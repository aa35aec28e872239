"""A plain-Python reference of one episode of the unmasking MDP (docs/mdp.md), to test the env against.

It shares nothing with the env but the model, the task and the tokenizer: lists of ints and floats instead of
tensors, its own softmax, argmax, features, prompt id, noise hash and inverse-CDF sampling, one forward pass over a
batch of one row whenever the canvas changed.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch

MASK32 = 0xFFFFFFFF


def lowbias32(x: int) -> int:
    """Chris Wellons' lowbias32 hash of a 32-bit int, with Python's unbounded ints."""
    x &= MASK32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    return x ^ (x >> 16)


def mix(key: int, value: int) -> int:
    """Folds a 64-bit value into a 32-bit key, low word first."""
    return lowbias32(lowbias32(key ^ (value & MASK32)) ^ ((value >> 32) & MASK32))


def uniform(seed: int, prompt_id: int, member: int, step: int, position: int, draw: tuple[int, ...] = ()) -> float:
    """The per-episode noise of docs/mdp.md (seeding): a uniform in (0, 1) keyed by who draws it.

    ``draw`` is the episode's place in an endless stream (its group and episode index), empty for a finite list.
    """
    key = mix(0, seed)
    for value in (prompt_id, *draw, member, step):
        key = mix(key, value)
    bits = lowbias32(key ^ lowbias32(position + 0x9E3779B9))
    return ((bits >> 8) + 0.5) / 2**24


def prompt_id_of(prompt: str) -> int:
    """A generated or given prompt's id: 63 bits of its BLAKE2b-8 hash."""
    return int.from_bytes(hashlib.blake2b(prompt.encode(), digest_size=8).digest(), "little") >> 1


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
        temperature: > 0 samples each token at ``uniform(seed, prompt_id, member, step, position)``.
        seed, member: the reset seed and the episode's index within its prompt group (used when sampling).
        draw: an endless stream's episode place (group, episode index), part of the noise key.
        prompt_id: the episode's id (default: the hash of ``prompt``; a finite list's index otherwise).
        top_k: K of the ``top_k_probs``/``top_k_tokens`` observation keys (0: none).
    """

    def __init__(self, model: Any, task: Any, prompt: str, reference: Any, *, answer_length: int,
                 prompt_length: int, block_length: int | None = None, empty_action: str = "noop",
                 max_nfe: int | None = None, alpha: float = 1.0, temperature: float = 0.0, seed: int = 0,
                 member: int = 0, prompt_id: int | None = None, top_k: int = 0,
                 draw: tuple[int, ...] = ()) -> None:  # fmt: skip
        self.model, self.task, self.prompt, self.reference = model, task, prompt, reference
        self.answer_length, self.prompt_length, self.block_length = answer_length, prompt_length, block_length
        self.empty_action, self.alpha = empty_action, alpha
        self.temperature, self.seed, self.member, self.top_k, self.draw = temperature, seed, member, top_k, draw
        self.prompt_id = prompt_id_of(prompt) if prompt_id is None else prompt_id
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
        self.prediction, self.probability, self.margin, self.entropy, self.top_k_list = [], [], [], [], []
        self.distribution: list[list[float]] = []  # each position's V probabilities
        for j, row in enumerate(logits[0].tolist()):  # one answer position: V logits
            top = max(row)
            weights = [math.exp(value - top) for value in row]
            probs = [w / sum(weights) for w in weights]
            if self.temperature > 0:
                token = self._sample(row, uniform(self.seed, self.prompt_id, self.member, self.nfe, j, self.draw))
            else:
                token = row.index(top)  # the first maximum, as torch.argmax
            ranked = sorted(probs, reverse=True)
            self.distribution.append(probs)
            self.prediction.append(token)
            self.probability.append(probs[token])  # the untempered probability, as LLaDA's confidence
            self.margin.append(ranked[0] - ranked[1])
            self.entropy.append(min(-sum(p * math.log(p) for p in probs if p > 0), math.log(len(row))))
            order = sorted(range(len(row)), key=lambda v: -probs[v])[: self.top_k]
            self.top_k_list.append(([probs[v] for v in order], order))

    def _sample(self, logits: list[float], u: float) -> int:
        """The first token whose cumulative tempered probability reaches ``u`` (inverse-CDF sampling)."""
        top = max(logits)
        weights = [math.exp((value - top) / self.temperature) for value in logits]
        total, cumulative = sum(weights), 0.0
        for token, weight in enumerate(weights):
            cumulative += weight
            if cumulative >= u * total:
                return token
        return len(weights) - 1

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
            "margin": [p if m else 1.0 for p, m in zip(self.margin, masked, strict=True)],
            "entropy": [p if m else 0.0 for p, m in zip(self.entropy, masked, strict=True)],
            "top_k_probs": [
                probs if m else [0.0] * self.top_k for (probs, _), m in zip(self.top_k_list, masked, strict=True)
            ],
            "top_k_tokens": [
                tokens if m else [t] * self.top_k
                for (_, tokens), m, t in zip(self.top_k_list, masked, self.answer, strict=True)
            ],
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
