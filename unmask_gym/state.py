"""The env's state: a few batched tensors on the device (``EnvState``) and host-side episode bookkeeping.

Shapes: N envs, L answer positions, T = P + L canvas columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from unmask_gym.features import Prediction


class once_per_state:  # a decorator, named like functools.cached_property
    """A property computed once per ``EnvState`` and kept in the instance, like ``functools.cached_property``.

    Two differences make a step traceable whole by ``torch.compile`` (``compile_step``): no lock (Python 3.11's
    ``cached_property`` takes an RLock, which dynamo cannot enter), and no cache while compiling, where keeping the
    value would be a side effect of the graph and the compiler shares the work anyway.
    """

    def __init__(self, compute: Callable[[Any], torch.Tensor]) -> None:
        self.compute, self.name = compute, compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, state: Any, owner: type | None = None) -> Any:
        # Only called while the instance holds no value: a kept value shadows this (non-data) descriptor.
        if state is None:
            return self
        value = self.compute(state)
        if not torch.compiler.is_compiling():
            state.__dict__[self.name] = value  # a frozen dataclass: written past its __setattr__
        return value


@dataclass(frozen=True)
class EnvState:
    """Device state. Steps build new ``EnvState`` objects, so a failed step leaves the old one untouched.

    ``masked``, ``block`` and ``action_mask`` are computed once per state (a step and its observation share them).
    """

    canvas: torch.Tensor  # (N, T) int64: left-padded prompt, then the answer (mask id where masked)
    attention: torch.Tensor  # (N, T) bool: False on padding
    prediction: Prediction  # (N, L) features of the latest forward over each row's canvas
    steps: torch.Tensor  # (N,) int64: steps taken in the episode, which is its NFE
    unmask_step: torch.Tensor  # (N, L) int64: step at which each position was committed, -1 while masked
    running: torch.Tensor  # (N,) bool: the slot holds an episode that has not ended
    prompt_id: torch.Tensor  # (N,) int64: the device copy of ``EpisodeBook.prompt_id``
    episode_index: torch.Tensor  # (N,) int64: the device copy of ``EpisodeBook.episode_index``
    mask_token_id: int
    block_length: int | None  # semi-AR block length, None in full diffusion
    reference: torch.Tensor | None = None  # (N, L + 1) int64: the reference's ids, then -1 (scored on the device)

    @staticmethod
    def empty(num_envs: int, prompt_length: int, answer_length: int, mask_token_id: int, pad_token_id: int,
              top_k: int, device: torch.device, hidden_size: int = 0, block_length: int | None = None,
              with_references: bool = False) -> EnvState:  # fmt: skip
        """A state with no episode in any slot (``with_references``: a ``reference`` per slot, scored on the device)."""
        shape = (num_envs, answer_length)
        zeros = torch.zeros(shape, device=device)
        prediction = Prediction(
            pred_token=torch.full(shape, mask_token_id, dtype=torch.int64, device=device),
            confidence=zeros,
            margin=zeros,
            entropy=zeros,
            top_k_probs=torch.zeros((*shape, top_k), device=device) if top_k else None,
            top_k_tokens=torch.zeros((*shape, top_k), dtype=torch.int64, device=device) if top_k else None,
            hidden=torch.zeros((*shape, hidden_size), device=device) if hidden_size else None,
        )
        canvas = torch.full((num_envs, prompt_length + answer_length), pad_token_id, device=device)
        canvas[:, prompt_length:] = mask_token_id
        return EnvState(
            canvas=canvas,
            attention=torch.zeros(canvas.shape, dtype=torch.bool, device=device),
            prediction=prediction,
            steps=torch.zeros(num_envs, dtype=torch.int64, device=device),
            unmask_step=torch.full(shape, -1, dtype=torch.int64, device=device),
            running=torch.zeros(num_envs, dtype=torch.bool, device=device),
            prompt_id=torch.full((num_envs,), -1, dtype=torch.int64, device=device),
            episode_index=torch.full((num_envs,), -1, dtype=torch.int64, device=device),
            mask_token_id=mask_token_id,
            block_length=block_length,
            reference=torch.full((num_envs, answer_length + 1), -1, device=device) if with_references else None,
        )

    @property
    def answer_length(self) -> int:
        """L."""
        return self.unmask_step.shape[1]

    @property
    def answer(self) -> torch.Tensor:
        """(N, L) int64 view of the answer region."""
        return self.canvas[:, -self.answer_length :]

    @once_per_state
    def masked(self) -> torch.Tensor:
        """(N, L) bool: positions still masked."""
        return self.answer == self.mask_token_id

    @once_per_state
    def block(self) -> torch.Tensor:
        """(N,) int64: the current semi-AR block, the first one holding a masked position (the last if none)."""
        if self.block_length is None:
            return torch.zeros_like(self.steps)
        num_blocks = self.answer_length // self.block_length
        masked = self.masked
        first_masked = torch.where(masked.any(1), masked.int().argmax(1), self.answer_length - 1)  # (N,)
        return (first_masked // self.block_length).clamp(max=num_blocks - 1)

    @once_per_state
    def action_mask(self) -> torch.Tensor:
        """(N, L) bool: masked, inside the current block, and the episode running."""
        mask = self.masked & self.running[:, None]
        if self.block_length is None:
            return mask
        positions = torch.arange(self.answer_length, device=self.canvas.device)
        return mask & ((positions[None, :] // self.block_length) == self.block[:, None])

    def replace(self, **changes: Any) -> EnvState:
        """A copy with some fields replaced (its cached masks recomputed on first use)."""
        return dataclasses.replace(self, **changes)


class EpisodeBook:
    """Host-side bookkeeping per slot: prompt, reference, prompt id, and which episode of its group it plays."""

    def __init__(self, num_envs: int, group_size: int) -> None:
        self.group_size = group_size
        self.episode_index = np.full(num_envs, -1, dtype=np.int64)  # (N,) k-th episode of the slot's group
        self.prompt_id = np.full(num_envs, -1, dtype=np.int64)  # (N,)
        self.prompts: list[str] = [""] * num_envs
        self.references: list[Any] = [None] * num_envs

    def copy(self) -> EpisodeBook:
        """An independent copy (steps edit a copy and keep it only on success)."""
        book = EpisodeBook.__new__(EpisodeBook)
        book.group_size = self.group_size
        book.episode_index, book.prompt_id = self.episode_index.copy(), self.prompt_id.copy()
        book.prompts, book.references = list(self.prompts), list(self.references)
        return book

    def advance(self, rows: np.ndarray, restart: bool) -> None:
        """Moves ``rows`` to their next episode; a full reset keeps each group's members on one episode."""
        if restart:
            self.episode_index[rows] = 0
        elif len(rows) == len(self.episode_index):
            by_group = self.episode_index.reshape(-1, self.group_size)
            self.episode_index[:] = np.repeat(by_group.max(1) + 1, self.group_size)
        else:
            self.episode_index[rows] += 1

    def group_episode(self, group: int) -> int:
        """The latest episode index among the group's members."""
        return int(self.episode_index[group * self.group_size : (group + 1) * self.group_size].max())

    def group_oldest(self, group: int) -> int:
        """The earliest episode index among the group's members (older episodes can be forgotten)."""
        return int(self.episode_index[group * self.group_size : (group + 1) * self.group_size].min())
