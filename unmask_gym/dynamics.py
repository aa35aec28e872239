"""The MDP's transition as pure functions of ``EnvState``: commit, start episodes, run the dLLM.

Nothing here validates input, touches the host-side bookkeeping beyond what it is given, or keeps state: each
function returns a new ``EnvState``, so a step that fails half-way leaves the env's state untouched.
Shapes: N envs, R rows forwarded, L answer positions, P prompt columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from unmask_gym.canvas import left_pad_arrays, right_pad_arrays
from unmask_gym.config import EnvConfig
from unmask_gym.features import PREDICTION_FIELDS, Prediction, predict
from unmask_gym.noise import episode_uniforms
from unmask_gym.prompts import PromptStreams
from unmask_gym.state import EnvState, EpisodeBook
from unmask_gym.transfer import to_device


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


@dataclass(frozen=True)
class NewEpisodes:
    """The host side of starting episodes: the slots reset, those that got a prompt, and the prompts' tokens."""

    rows: np.ndarray  # (R,) int64: slots reset
    started: np.ndarray  # (S,) int64: slots that got a prompt (a finite prompt list may have run out)
    tokens: np.ndarray  # (S, P) int64: left-padded prompts
    lengths: np.ndarray  # (S,) int64: the prompts' lengths (the rest of each row is padding)
    references: np.ndarray  # (S, L + 1) int64: the references' ids, then -1; (S, 0) when scored on the host


def next_episodes(
    book: EpisodeBook, rows: np.ndarray, streams: PromptStreams, model: Any, config: EnvConfig
) -> NewEpisodes:
    """Draws each row's next prompt and records it in ``book`` (host only).

    Rows whose finite prompt list is used up get none and stay idle.
    """
    started, prompt_tokens, reference_tokens = [], [], []
    for row in rows:
        group = row // config.group_size
        episode = streams.get(group, int(book.episode_index[row]))
        if episode is not None:
            started.append(row)
            prompt_tokens.append(episode.tokens)  # encoded (and length-checked) once, by the stream
            reference_tokens.append(episode.reference_tokens)
            book.prompts[row], book.references[row] = episode.prompt, episode.reference
            book.prompt_id[row] = episode.prompt_id
    for group in {row // config.group_size for row in rows}:
        streams.release(group, book.group_oldest(group))
    tokens, lengths = left_pad_arrays(prompt_tokens, config.max_prompt_length, model.pad_token_id)
    references = right_pad_arrays(reference_tokens, config.answer_length + 1 if streams.encode_reference else 0)
    return NewEpisodes(np.asarray(rows, dtype=np.int64), np.asarray(started, dtype=np.int64), tokens, lengths,
                       references)  # fmt: skip


FEATURE_SKIP_MIN_ELEMENTS = 2**20
"""Logit elements a forward must be able to skip before features are restricted to the masked positions: below it
(the built-in dLLMs' small vocabularies) gathering positions and merging the result costs more than the passes it
saves; one masked position fewer at LLaDA's vocabulary (126,464) is already an eighth of it."""


def start_and_forward(
    state: EnvState, book: EpisodeBook, reset_rows: np.ndarray, stay_rows: np.ndarray, streams: PromptStreams,
    model: Any, config: EnvConfig, seed: int, stay_masked: np.ndarray | None = None,
) -> EnvState:  # fmt: skip
    """Starts the next episodes of ``reset_rows``, then one dLLM pass over them and ``stay_rows``.

    ``stay_masked`` (len(stay_rows), L) bool, the host's copy of those rows' masked positions, limits their
    features to those positions (``feature_positions``) when that skips at least ``FEATURE_SKIP_MIN_ELEMENTS``
    logits; without it every position of theirs gets features.
    Everything the device needs from the host (the new prompts, the book's ids, the rows to forward, the positions
    to compute features at) goes in one transfer (``unmask_gym.transfer``), so on CUDA the step never waits on a
    host → device copy.
    """
    episodes = next_episodes(book, reset_rows, streams, model, config)
    forward_rows = np.union1d(stay_rows, episodes.started).astype(np.int64)
    skipped = 0 if stay_masked is None else int(np.count_nonzero(~stay_masked))  # the stay rows' committed positions
    restrict = skipped * model.vocab_size >= FEATURE_SKIP_MIN_ELEMENTS
    if restrict:
        local, everywhere = feature_positions(forward_rows, stay_rows, stay_masked, config.answer_length)
    else:  # the gather and the merge would cost more than the passes they save
        local = everywhere = np.zeros(0, dtype=np.int64)
    arrays = (episodes.rows, episodes.started, episodes.lengths, episodes.tokens, episodes.references, forward_rows,
              book.prompt_id, book.episode_index, local, everywhere)  # fmt: skip
    reset, started, lengths, tokens, references, forward_index, prompt_id, episode_index, local, everywhere = (
        to_device(arrays, state.canvas.device))  # fmt: skip
    state = state.replace(prompt_id=prompt_id, episode_index=episode_index)
    if len(episodes.rows):
        state = place_episodes(state, reset, started, tokens, lengths, config, references)
    at = (local, everywhere) if restrict else None
    return forward(state, forward_rows, forward_index, model, config, seed, at)


def feature_positions(
    forward_rows: np.ndarray, stay_rows: np.ndarray, stay_masked: np.ndarray | None, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """The answer positions of a forward pass that need features: the masked ones (host only).

    A committed position's observation is its token with confidence 1, margin 1 and entropy 0
    (``outputs.observation``), and neither the step nor a heuristic reads its prediction, so only the masked
    positions of the forwarded rows (every position of a new episode) need the passes over the vocabulary.

    Returns:
        ``(local, everywhere)``: (M,) int64 flat indices into the forward's (R, L) positions and into the env's
        (N, L) ones, in the same order.
    """
    needed = np.ones((len(forward_rows), length), dtype=bool)
    if stay_masked is not None and len(stay_rows):
        needed[np.searchsorted(forward_rows, stay_rows)] = stay_masked  # forward_rows is sorted and holds them
    local = np.flatnonzero(needed)
    everywhere = forward_rows[local // length] * length + local % length
    return local, everywhere


def place_episodes(
    state: EnvState, reset: torch.Tensor, started: torch.Tensor, tokens: torch.Tensor, lengths: torch.Tensor,
    config: EnvConfig, references: torch.Tensor | None = None,
) -> EnvState:  # fmt: skip
    """Puts the new prompts on fresh canvases (the device side of ``next_episodes``: its arrays, on the device).

    Args:
        state: the state before.
        reset: (R,) the slots reset; they stop running unless they are also in ``started``.
        started: (S,) the slots that got a prompt.
        tokens: (S, P) their left-padded prompts.
        lengths: (S,) their prompts' lengths, which give the attention mask.
        config: the env's config.
        references: (S, L + 1) their references' ids, kept in ``state.reference`` when the env scores on the device.
    """
    running = state.running.index_fill(0, reset, False)
    if len(started) == 0:
        return state.replace(running=running)
    canvas, attention = fresh_canvases(tokens, lengths, state.mask_token_id, config)
    if state.reference is not None:
        state = state.replace(reference=state.reference.index_copy(0, started, references))
    return state.replace(
        canvas=state.canvas.index_copy(0, started, canvas),
        attention=state.attention.index_copy(0, started, attention),
        steps=state.steps.index_fill(0, started, 0),
        unmask_step=state.unmask_step.index_fill(0, started, -1),
        running=running.index_fill(0, started, True),
    )


def fresh_canvases(
    tokens: torch.Tensor, lengths: torch.Tensor, mask_token_id: int, config: EnvConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, T) canvases of new episodes and their attention: the left-padded prompts (R, P), then L masks."""
    prompt_attention = torch.arange(config.max_prompt_length, device=tokens.device) >= (
        config.max_prompt_length - lengths[:, None]
    )  # (R, P): left padding
    answer = torch.full((len(tokens), config.answer_length), mask_token_id, device=tokens.device)
    canvas = torch.cat([tokens, answer], 1)  # (R, T)
    attention = torch.cat([prompt_attention, torch.ones_like(answer, dtype=torch.bool)], 1)
    return canvas, attention


def forward(
    state: EnvState, rows: np.ndarray, index: torch.Tensor, model: Any, config: EnvConfig, seed: int,
    at: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> EnvState:  # fmt: skip
    """One dLLM pass over ``rows`` only (``index``: the same rows on the device); the others keep their prediction.

    ``at`` = ``(local, everywhere)`` from ``feature_positions``, on the device, computes features at those
    positions only; the other positions keep their earlier (unobserved) prediction. ``None``: every position.
    """
    if len(rows) == 0:
        return state
    every_row = len(rows) == config.num_envs  # rows are sorted and unique: all of them, in order
    canvas = state.canvas if every_row else state.canvas[index]
    attention = state.attention if every_row else state.attention[index]
    logits, hidden = model_pass(model, canvas, attention, config)
    with torch.no_grad():
        prediction = predict(logits, config.temperature, sampling_uniforms(state, index, config, seed), config.top_k,
                             compiled=config.compile_features, positions=None if at is None else at[0])  # fmt: skip
    merged = {}
    for name, old, new in kept_fields(state.prediction, prediction, hidden):
        if at is not None and name != "hidden":  # hidden states come from the model for every position
            merged[name] = old.flatten(0, 1).index_copy(0, at[1], new).view_as(old)
        else:
            merged[name] = new if every_row else old.index_copy(0, index, new)
    return state.replace(prediction=Prediction(**merged))


def kept_fields(
    old: Prediction, new: Prediction, hidden: torch.Tensor | None
) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(name, old value, new value)`` of each field the state keeps (not None in ``old``).

    The new value comes in the old one's dtype; the new ``hidden`` is the model's (``predict`` makes none).
    """
    kept = []
    for name in PREDICTION_FIELDS:
        before = getattr(old, name)
        if before is not None:
            kept.append((name, before, (hidden if name == "hidden" else getattr(new, name)).to(before.dtype)))
    return kept


def model_pass(
    model: Any, canvas: torch.Tensor, attention: torch.Tensor, config: EnvConfig
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The dLLM's logits (R, L, V) over the answer columns of (R, T) canvases, and its hidden states.

    The hidden states (R, L, D) come only when the observation has them (``observe_hidden``); else None.
    """
    answer_columns = torch.arange(config.max_prompt_length, canvas.shape[1], device=canvas.device)
    with torch.no_grad():
        if config.observe_hidden:
            return model.logits_and_hidden(canvas, attention, positions=answer_columns)
        return model.logits(canvas, attention, positions=answer_columns), None


def sampling_uniforms(
    state: EnvState, index: torch.Tensor, config: EnvConfig, seed: int | torch.Tensor
) -> torch.Tensor | None:
    """(R, L) uniforms for the rows ``index`` (R,) when tokens are sampled (``temperature > 0``), else None.

    Row r samples with the uniforms of (seed, its prompt id, for an endless stream its prompt group and episode
    index, its member index in its group, its step): its own noise, whatever else is in the batch
    (``unmask_gym.noise``).
    """
    if config.temperature == 0:
        return None
    prompt_id, steps = state.prompt_id[index], state.steps[index]
    draw = () if config.num_prompts is not None else (
        index // config.group_size + config.first_group, state.episode_index[index])  # fmt: skip
    return episode_uniforms(seed, prompt_id, index % config.group_size, steps, config.answer_length, draw)


def forward_changed(state: EnvState, changed: torch.Tensor, model: Any, config: EnvConfig, seed: int) -> EnvState:
    """``forward`` over every row (static shapes, no host index), keeping the prediction of rows not ``changed``.

    What ``forward`` over the changed rows alone gives, without the host knowing which they are: a row's logits do
    not depend on the other rows, and a row that is not kept is thrown away (``tests/test_sync_free.py``).
    """
    logits, hidden = model_pass(model, state.canvas, state.attention, config)
    return predict_changed(state, changed, logits, hidden, config, seed)


def predict_changed(
    state: EnvState, changed: torch.Tensor, logits: torch.Tensor, hidden: torch.Tensor | None, config: EnvConfig,
    seed: int | torch.Tensor, compiled_features: bool | None = None,
) -> EnvState:  # fmt: skip
    """``state`` with the prediction of every row's ``logits`` (N, L, V) (and ``hidden``) where ``changed`` (N,).

    The device half of ``forward_changed`` after the dLLM: no host index, static shapes. ``compiled_features``
    overrides ``config.compile_features`` (``False`` inside a step that is compiled whole).
    """
    everything = torch.arange(config.num_envs, device=logits.device)  # made on the device: no copy
    compiled = config.compile_features if compiled_features is None else compiled_features
    with torch.no_grad():
        prediction = predict(logits, config.temperature, sampling_uniforms(state, everything, config, seed),
                             config.top_k, compiled=compiled)  # fmt: skip
    merged = {name: torch.where(changed.view(-1, *([1] * (old.dim() - 1))), new, old)
              for name, old, new in kept_fields(state.prediction, prediction, hidden)}  # fmt: skip
    return state.replace(prediction=Prediction(**merged))
