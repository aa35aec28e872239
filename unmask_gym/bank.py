"""The device side of ``sync_free=True``: a bank of each prompt group's next episodes, and autoreset from it.

A sync-free step must start new episodes without asking the host which rows ended. Each prompt group's stream is
deterministic (``PromptStreams``: episode k of group g is the same prompt whenever it is drawn), so the host can
encode a group's next episodes ahead of time: the bank holds episodes ``first[g] .. first[g] + B - 1`` of every
group, and a row that starts episode k of group g reads slot ``k - first[g]``. A member of a group moves at most one
episode a step, so the host knows, without looking, how many steps the bank lasts; only then does it read the
episode indices back (one sync) and refill (``PromptBank.build``).

Shapes: G prompt groups, S = N / G members each, B episodes per group, P prompt columns, L answer positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from unmask_gym.canvas import left_pad_arrays, right_pad_arrays
from unmask_gym.config import EnvConfig
from unmask_gym.dynamics import fresh_canvases
from unmask_gym.prompts import PromptStreams
from unmask_gym.state import EnvState
from unmask_gym.transfer import to_device

MIN_BANK_EPISODES = 32
"""The fewest episodes a bank holds per group: the steps it lasts between refills, less the group's spread."""


@dataclass(frozen=True)
class PromptBank:
    """Episodes ``first[g]`` to ``first[g] + B - 1`` of each group, encoded on the device (and kept on the host)."""

    tokens: torch.Tensor  # (G, B, P) int64: left-padded prompts
    lengths: torch.Tensor  # (G, B) int64: the prompts' lengths
    references: torch.Tensor  # (G, B, L + 1) int64: the references' ids, then -1; (G, B, 0) when the host scores
    prompt_id: torch.Tensor  # (G, B) int64
    first: torch.Tensor  # (G,) int64: the episode index of each group's slot 0
    lasts: int  # steps the bank is sure to cover from when it was built
    host: tuple[np.ndarray, ...]  # the same five arrays on the host: a refill shifts them and encodes only what is new

    @staticmethod
    def build(streams: PromptStreams, episode_index: np.ndarray, config: EnvConfig, model: Any,
              device: torch.device, previous: PromptBank | None = None) -> PromptBank:  # fmt: skip
        """The bank after a sync: each group's episodes from its members' next one on (host; one transfer).

        ``episode_index`` (N,) is the episode each slot plays now (the host's exact copy). Episodes before a group's
        oldest running one are released from its stream: no member can start them again. A ``previous`` bank of the
        same size (a refill between resets) lends the episodes both hold, so only the new ones are encoded.
        """
        by_group = episode_index.reshape(config.num_groups, config.group_size)
        first, spread = by_group.min(1) + 1, int((by_group.max(1) - by_group.min(1)).max())
        size = MIN_BANK_EPISODES + spread  # the bank lasts MIN_BANK_EPISODES steps at least
        shape = (config.num_groups, size)
        if previous is not None and previous.tokens.shape[1] == size:
            tokens, lengths, references, prompt_id, _ = (array.copy() for array in previous.host)
            kept = np.clip(previous.host[4] + size - first, 0, size)  # (G,): slots still in the window
        else:
            tokens = np.full((*shape, config.max_prompt_length), model.pad_token_id, dtype=np.int64)
            lengths, prompt_id = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
            width = config.answer_length + 1 if streams.encode_reference else 0  # the host scores: no ids
            references = np.full((*shape, width), -1, dtype=np.int64)
            kept = np.zeros(config.num_groups, dtype=np.int64)
        for group in range(config.num_groups):
            streams.release(group, int(first[group]) - 1)  # the oldest running episode stays: the host may ask
            for array in (tokens, lengths, references, prompt_id):  # slide the kept episodes to the front
                array[group, : kept[group]] = array[group, size - kept[group] :]
            new = slice(int(kept[group]), size)
            episodes = [streams.get(group, int(first[group]) + offset)  # an endless stream: never None
                        for offset in range(new.start, size)]  # fmt: skip
            if episodes:  # their ids fit max_prompt_length: the stream checked them
                tokens[group, new], lengths[group, new] = left_pad_arrays(
                    [episode.tokens for episode in episodes], config.max_prompt_length, model.pad_token_id)
                references[group, new] = right_pad_arrays([episode.reference_tokens for episode in episodes],
                                                          references.shape[2])  # fmt: skip
                prompt_id[group, new] = [episode.prompt_id for episode in episodes]
        host = (tokens, lengths, references, prompt_id, first)
        on_device = to_device(host, device)
        return PromptBank(*on_device, lasts=size - spread, host=host)


def advance(episode_index: torch.Tensor, reset: torch.Tensor, group_size: int) -> torch.Tensor:
    """(N,) each slot's episode index after ``reset`` (N,) bool slots start their next one (``EpisodeBook.advance``).

    When every slot restarts at once, a group's members all move to one past its latest episode (what a full reset
    does); otherwise each reset slot moves one on. Static shapes, no sync: both are computed and one is kept.
    """
    latest = episode_index.view(-1, group_size).amax(1).repeat_interleave(group_size)
    return torch.where(reset.all(), latest + 1, episode_index + reset.long())


def start_from_bank(state: EnvState, reset: torch.Tensor, bank: PromptBank, config: EnvConfig) -> EnvState:
    """``state`` with the ``reset`` (N,) bool slots on their next episode from ``bank`` (device only, no sync)."""
    episode_index = advance(state.episode_index, reset, config.group_size)
    group = torch.arange(config.num_envs, device=reset.device) // config.group_size  # (N,)
    slot = (episode_index - bank.first[group]).clamp(0, bank.lengths.shape[1] - 1)  # a slot not reset: unused
    canvas, attention = fresh_canvases(bank.tokens[group, slot], bank.lengths[group, slot], state.mask_token_id,
                                       config)  # fmt: skip  (every row's next episode; the reset rows keep it)
    row = reset[:, None]
    reference = state.reference  # None when the host scores
    if reference is not None:
        reference = torch.where(row, bank.references[group, slot], reference)
    return state.replace(
        canvas=torch.where(row, canvas, state.canvas),
        attention=torch.where(row, attention, state.attention),
        steps=torch.where(reset, 0, state.steps),
        unmask_step=torch.where(row, -1, state.unmask_step),
        running=state.running | reset,
        prompt_id=torch.where(reset, bank.prompt_id[group, slot], state.prompt_id),
        episode_index=episode_index,
        reference=reference,
    )


def restart_ended(
    ended_state: EnvState, committed: torch.Tensor, ended: torch.Tensor, bank: PromptBank | None, config: EnvConfig
) -> tuple[EnvState, torch.Tensor]:
    """The sync-free step's restarts: the state to forward and its ``changed`` (N,) bool rows.

    ``changed``: the rows whose canvas the step changed and that still run, plus with a ``bank`` (``SAME_STEP``)
    every ``ended`` row, restarted from it; without one (``DISABLED``) the ended rows stay stopped.
    """
    changed = committed.any(1) & ~ended
    if bank is None:
        return ended_state, changed
    return start_from_bank(ended_state, ended, bank, config), changed | ended
