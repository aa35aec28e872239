"""Prompt streams: where each slot's next episode comes from.

With ``group_size = G`` the N slots form N/G groups. Each group draws from its own stream, so the k-th episode of
every member of a group has the same prompt whatever order the members finish in (what GRPO needs while slots
autoreset independently). A finite prompt list (``num_prompts``) is a single queue shared by the groups: each
group claims the next prompt when its first member needs one, and every prompt is served exactly once per group
(``repeats`` times, back to back, when asked). A finite list holds distinct prompts (``distinct_prompts``).

An episode's ``prompt_id`` is a function of its prompt alone, so two runs join by prompt: the prompt's index in a
finite list, else a 63-bit BLAKE2 hash of its text (generated and user-given prompts).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from unmask_gym.tasks.base import Task, distinct_prompts


@dataclass(frozen=True)
class Episode:
    """One prompt handed to a slot."""

    prompt_id: int
    prompt: str
    reference: Any
    tokens: tuple[int, ...] = ()  # the prompt as the model's ids, filled in when the stream hands it out
    reference_tokens: tuple[int, ...] = ()  # the reference's ids when the env scores on the device


def prompt_hash(prompt: str) -> int:
    """A stable non-negative 63-bit id of a prompt's text (the same in every process and on every machine).

    Example:
        >>> prompt_hash("12+34=") == prompt_hash("12+34="), prompt_hash("12+34=") != prompt_hash("12+35=")
        (True, True)
    """
    return int.from_bytes(hashlib.blake2b(prompt.encode(), digest_size=8).digest(), "little") >> 1


class PromptStreams:
    """Per-group prompt streams over a task's split; ``get(group, k)`` is the group's k-th prompt or None.

    ``encode(prompt)`` turns a prompt into the model's ids, or raises a ValueError for a prompt the env cannot take
    (longer than ``max_prompt_length``); each episode handed out carries its ids, so a prompt is encoded once.
    ``encode_reference(reference)``, when given, turns a reference into the ids the task's ``score_tokens``
    compares answers with (the env scores on the device), or raises a ValueError for a reference it cannot score.
    A finite list is encoded whole when it is drawn (``seed``): one ValueError names every prompt that does not fit,
    before any episode starts. An endless stream skips a prompt that does not fit and counts it (``skipped``, one
    warning the first time): the caller did not choose it, so a training loop never dies on it.
    """

    def __init__(self, task: Task, num_groups: int, split: str, num_prompts: int | None,
                 encode: Callable[[str], Sequence[int]], first_group: int = 0,
                 shard: tuple[int, int] | None = None, repeats: int = 1,
                 encode_reference: Callable[[Any], Sequence[int]] | None = None) -> None:  # fmt: skip
        self.task, self.num_groups, self.split, self.num_prompts = task, num_groups, split, num_prompts
        self.first_group, self.shard, self.repeats = first_group, shard, repeats
        self.encode, self.encode_reference = encode, encode_reference
        self.skipped = 0  # prompts of an endless stream that did not fit (never snapshotted: a count of what was seen)
        self._encoded: dict[str, tuple[int, ...]] = {}  # a finite list's ids, kept across reseeds (built, then reset)
        self.seed(0)

    def seed(self, seed: int) -> None:
        """Restarts every stream: group g from ``default_rng(seed + first_group + g)``, a finite list from ``seed``.

        ``first_group`` numbers this env's groups after another env's (a trainer's rank r of several uses
        r x its group count), so that envs sharing a seed draw disjoint prompt streams.
        """
        start = self.first_group
        self._generators = [np.random.default_rng(seed + start + group) for group in range(self.num_groups)]
        self._pending: list[dict[int, Episode]] = [{} for _ in range(self.num_groups)]
        self._queue: list[Episode] = []  # the finite list, served in order from _served on
        self._served = 0
        if self.num_prompts is not None:
            prompts, references = distinct_prompts(self.task, self.num_prompts, seed, self.split)
            encoded, refused = [], []
            for prompt in prompts:
                try:
                    if prompt not in self._encoded:
                        self._encoded[prompt] = tuple(self.encode(prompt))
                    encoded.append(self._encoded[prompt])
                except ValueError as error:
                    refused.append(str(error))
            if refused:
                shown = "; ".join(refused[:3]) + (f"; and {len(refused) - 3} more" if len(refused) > 3 else "")
                raise ValueError(f"{len(refused)} of the {len(prompts)} prompts of the list do not fit: {shown}")
            self._queue = [Episode(i, p, r, t, self._reference_ids(r)) for i, (p, r, t) in enumerate(
                zip(prompts, references, encoded, strict=True))]  # fmt: skip
            if self.shard is not None:  # this process's part of the list; ids stay the whole list's indices
                rank, world = self.shard
                self._queue = self._queue[rank::world]
            # a prompt's copies (sampled policies) run back to back on one rank: a cluster of the same prompt id
            self._queue = [episode for episode in self._queue for _ in range(self.repeats)]

    def get(self, group: int, episode_index: int) -> Episode | None:
        """The group's ``episode_index``-th prompt; None once a finite list is used up."""
        pending = self._pending[group]
        while episode_index not in pending:
            if self.num_prompts is not None:
                if self._served == len(self._queue):
                    return None
                pending[episode_index] = self._queue[self._served]  # encoded when the list was drawn
                self._served += 1
                break
            prompts, references = self.task.sample(1, self._generators[group], self.split)
            try:
                tokens = tuple(self.encode(prompts[0]))
            except ValueError as error:
                if not self.skipped:
                    warnings.warn(f"skipping prompts of the stream that do not fit (counted in the env's "
                                  f"skipped_prompts); the first: {error}", stacklevel=4)  # fmt: skip
                self.skipped += 1
                continue
            pending[episode_index] = Episode(prompt_hash(prompts[0]), prompts[0], references[0], tokens,
                                             self._reference_ids(references[0]))  # fmt: skip
        return pending[episode_index]

    def set(self, group: int, episode_index: int, prompt: str, reference: Any) -> None:
        """Makes ``prompt`` the group's ``episode_index``-th episode (``reset(options={"prompts": ...})``).

        A given prompt takes no draw: episodes already drawn from there on (a ``sync_free`` env's bank draws ahead)
        move one later, so the stream goes on with the prompts it would have drawn next.
        """
        tokens = tuple(self.encode(prompt))
        episode = Episode(prompt_hash(prompt), prompt, reference, tokens, self._reference_ids(reference))
        pending = self._pending[group]
        for index in sorted((index for index in pending if index >= episode_index), reverse=True):
            pending[index + 1] = pending.pop(index)
        pending[episode_index] = episode

    def _reference_ids(self, reference: Any) -> tuple[int, ...]:
        """The reference's ids for scoring on the device (empty when the env scores on the host)."""
        return () if self.encode_reference is None else tuple(self.encode_reference(reference))

    def release(self, group: int, below: int) -> None:
        """Forgets the group's episodes before ``below``: every member has started a later one."""
        pending = self._pending[group]
        for index in [k for k in pending if k < below]:
            del pending[index]

    @property
    def remaining(self) -> int | None:
        """Prompts left in a finite list (None for endless streams)."""
        return None if self.num_prompts is None else len(self._queue) - self._served

    def snapshot(self, groups: Iterable[int] | None = None) -> dict[str, Any]:
        """What ``restore`` needs to undo later draws by ``groups`` (all groups by default).

        Steps snapshot only the groups whose members restart, so a failed step stays side-effect free cheaply.
        """
        groups = range(self.num_groups) if groups is None else sorted(set(groups))
        return {
            "generators": {g: self._generators[g].bit_generator.state for g in groups},
            "pending": {g: dict(self._pending[g]) for g in groups},
            "served": self._served,
            "queue": self._queue,  # never mutated in place: seed() builds a new list
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Puts the snapshotted groups and the shared counters back as they were."""
        for group, state in snapshot["generators"].items():
            self._generators[group].bit_generator.state = state
        for group, pending in snapshot["pending"].items():
            self._pending[group] = pending
        self._served = snapshot["served"]
        self._queue = snapshot["queue"]
