"""The MDP's transition as pure functions of ``EnvState``: commit, start episodes, run the dLLM.

Nothing here validates input, touches the host-side bookkeeping beyond what it is given, or keeps state: each
function returns a new ``EnvState``, so a step that fails half-way leaves the env's state untouched.
Shapes: N envs, R rows forwarded, L answer positions, P prompt columns.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from unmask_gym.canvas import left_pad
from unmask_gym.config import EnvConfig
from unmask_gym.features import Prediction, predict
from unmask_gym.models.codec import encode_prompt
from unmask_gym.noise import episode_uniforms
from unmask_gym.prompts import PromptStreams
from unmask_gym.state import EnvState, EpisodeBook


def commit(
    state: EnvState, selected: torch.Tensor, action_mask: torch.Tensor, config: EnvConfig
) -> tuple[EnvState, torch.Tensor, torch.Tensor]:
    """One step of the running rows: commit the chosen predictions, count the NFE, detect the end.

    Returns:
        ``(new_state, committed, done)``: ``committed`` (N, L) bool is what the step wrote (the action inside
        ``action_mask``, plus the ``top_confidence`` fallback); ``done`` (N,) bool the episodes that ended.
    """
    chosen = selected & action_mask  # (N, L); action_mask is False on rows that are not running
    if config.empty_action == "top_confidence":
        empty = ~chosen.any(1) & action_mask.any(1)  # (N,)
        best = state.prediction.confidence.masked_fill(~action_mask, -1.0).argmax(1)  # (N,)
        positions = torch.arange(state.answer_length, device=chosen.device)
        chosen = chosen | ((positions[None, :] == best[:, None]) & empty[:, None])
    answer = torch.where(chosen, state.prediction.pred_token, state.answer)  # (N, L)
    steps = state.steps + state.running.long()  # (N,) every step of a running episode costs one NFE
    unmask_step = torch.where(chosen, state.steps[:, None], state.unmask_step)  # (N, L)
    still_masked = (answer == state.mask_token_id).any(1)  # (N,)
    done = state.running & (~still_masked | (steps >= config.max_nfe))
    canvas = torch.cat([state.canvas[:, : config.max_prompt_length], answer], dim=1)  # (N, T)
    return state.replace(canvas=canvas, steps=steps, unmask_step=unmask_step), chosen, done


def time_limit(state: EnvState, done: torch.Tensor, config: EnvConfig) -> torch.Tensor:
    """(N,) bool: running episodes that did not end but reached ``max_episode_steps`` (Gymnasium's truncation)."""
    if config.max_episode_steps is None:
        return torch.zeros_like(done)
    return state.running & ~done & (state.steps >= config.max_episode_steps)


def forward(state: EnvState, rows: np.ndarray, model: Any, config: EnvConfig, seed: int, book: EpisodeBook) -> EnvState:
    """One dLLM pass over ``rows`` only; the other rows keep their cached prediction.

    With ``temperature > 0`` row r samples with the uniforms of (seed, its prompt id, its member index in its
    group, its step): its own noise, whatever else is in the batch.
    """
    if len(rows) == 0:
        return state
    device = state.canvas.device
    index = torch.as_tensor(rows, device=device)
    canvas, attention = state.canvas[index], state.attention[index]
    answer_columns = torch.arange(config.max_prompt_length, canvas.shape[1], device=device)
    uniforms = None
    if config.temperature > 0:
        prompt_id = torch.as_tensor(book.prompt_id[rows], device=device)
        member = torch.as_tensor(rows % config.group_size, device=device)
        uniforms = episode_uniforms(seed, prompt_id, member, state.steps[index], config.answer_length)
    with torch.no_grad():
        if config.observe_hidden:
            logits, hidden = model.logits_and_hidden(canvas, attention, positions=answer_columns)
        else:
            logits, hidden = model.logits(canvas, attention, positions=answer_columns), None
        fresh = dataclasses.replace(predict(logits, config.temperature, uniforms, config.top_k), hidden=hidden)
    merged = {}
    for item in dataclasses.fields(Prediction):
        old = getattr(state.prediction, item.name)
        if old is not None:
            merged[item.name] = old.index_copy(0, index, getattr(fresh, item.name).to(old.dtype))
    return state.replace(prediction=Prediction(**merged))


def start_episodes(
    state: EnvState, book: EpisodeBook, rows: np.ndarray, streams: PromptStreams, model: Any, config: EnvConfig
) -> tuple[EnvState, np.ndarray]:
    """Puts each row's next prompt on a fresh canvas (recording it in ``book``); returns the rows started.

    Rows whose finite prompt list is used up stay idle.
    """
    started, prompt_tokens = [], []
    for row in rows:
        group = row // config.group_size
        episode = streams.get(group, int(book.episode_index[row]))
        if episode is not None:
            started.append(row)
            prompt_tokens.append(encode_prompt(model, episode.prompt))
            book.prompts[row], book.references[row] = episode.prompt, episode.reference
            book.prompt_id[row] = episode.prompt_id
    for group in {row // config.group_size for row in rows}:
        streams.release(group, book.group_oldest(group))
    started = np.asarray(started, dtype=np.int64)
    if len(rows) == 0:
        return state, started
    device = state.canvas.device
    running = state.running.index_fill(0, torch.as_tensor(np.asarray(rows), device=device), False)
    if not len(started):
        return state.replace(running=running), started
    tokens, prompt_attention = left_pad(prompt_tokens, config.max_prompt_length, model.pad_token_id)
    answer = torch.full((len(started), config.answer_length), model.mask_token_id)
    index = torch.as_tensor(started, device=device)
    canvas = torch.cat([tokens, answer], 1).to(device)  # (R, T)
    attention = torch.cat([prompt_attention, torch.ones_like(answer, dtype=torch.bool)], 1).to(device)
    state = state.replace(
        canvas=state.canvas.index_copy(0, index, canvas),
        attention=state.attention.index_copy(0, index, attention),
        steps=state.steps.index_fill(0, index, 0),
        unmask_step=state.unmask_step.index_fill(0, index, -1),
        running=running.index_fill(0, index, True),
    )
    return state, started
