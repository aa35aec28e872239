"""Prompt streams: where each slot's next episode comes from.

With ``group_size = G`` the N slots form N/G groups. Each group draws from its own stream, so the k-th episode of
every member of a group has the same prompt whatever order the members finish in (what GRPO needs while slots
autoreset independently). A finite prompt list (``num_prompts``) is a single queue shared by the groups: each
group claims the next prompt when its first member needs one, and every prompt is served exactly once per group.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from unmask_gym.tasks.base import Task


@dataclass(frozen=True)
class Episode:
    """One prompt handed to a slot."""

    prompt_id: int
    prompt: str
    reference: Any


class PromptStreams:
    """Per-group prompt streams over a task's split; ``get(group, k)`` is the group's k-th prompt or None."""

    def __init__(self, task: Task, num_groups: int, split: str, num_prompts: int | None) -> None:
        self.task, self.num_groups, self.split, self.num_prompts = task, num_groups, split, num_prompts
        self.seed(0)

    def seed(self, seed: int) -> None:
        """Restarts every stream: group g draws from ``default_rng(seed + g)``; a finite list from ``seed``."""
        self._generators = [np.random.default_rng(seed + group) for group in range(self.num_groups)]
        self._pending: list[dict[int, Episode]] = [{} for _ in range(self.num_groups)]
        self._next_prompt_id = 0
        self._queue: list[Episode] = []
        if self.num_prompts is not None:
            prompts, references = self.task.sample(self.num_prompts, np.random.default_rng(seed), self.split)
            self._queue = [Episode(i, p, r) for i, (p, r) in enumerate(zip(prompts, references, strict=True))]
            self._queue.reverse()  # pop() from the end serves prompt 0 first

    def get(self, group: int, episode_index: int) -> Episode | None:
        """The group's ``episode_index``-th prompt; None once a finite list is used up."""
        pending = self._pending[group]
        if episode_index not in pending:
            if self.num_prompts is not None:
                if not self._queue:
                    return None
                pending[episode_index] = self._queue.pop()
            else:
                prompts, references = self.task.sample(1, self._generators[group], self.split)
                pending[episode_index] = Episode(self._next_prompt_id, prompts[0], references[0])
                self._next_prompt_id += 1
        return pending[episode_index]

    def set(self, group: int, episode_index: int, prompt: str, reference: Any) -> None:
        """Makes ``prompt`` the group's ``episode_index``-th episode (``reset(options={"prompts": ...})``)."""
        self._pending[group][episode_index] = Episode(self._next_prompt_id, prompt, reference)
        self._next_prompt_id += 1

    def release(self, group: int, below: int) -> None:
        """Forgets the group's episodes before ``below``: every member has started a later one."""
        pending = self._pending[group]
        for index in [k for k in pending if k < below]:
            del pending[index]

    @property
    def remaining(self) -> int | None:
        """Prompts left in a finite list (None for endless streams)."""
        return None if self.num_prompts is None else len(self._queue)

    def snapshot(self) -> dict[str, Any]:
        """Everything ``restore`` needs to undo later draws (used to keep a failed step side-effect free)."""
        return {
            "generators": [g.bit_generator.state for g in self._generators],
            "pending": [dict(p) for p in self._pending],
            "next_prompt_id": self._next_prompt_id,
            "queue": list(self._queue),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Puts the streams back as they were at ``snapshot``."""
        for generator, state in zip(self._generators, snapshot["generators"], strict=True):
            generator.bit_generator.state = copy.deepcopy(state)
        self._pending = [dict(p) for p in snapshot["pending"]]
        self._next_prompt_id = snapshot["next_prompt_id"]
        self._queue = list(snapshot["queue"])
