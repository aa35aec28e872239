"""What the env returns: observations, per-step info, and the decoding, scoring and reward of finished episodes.

Shapes: N envs, L answer positions, K top-k, D hidden size. Every returned tensor is fresh (never a view of the
state), so a caller may keep or modify it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym.config import EnvConfig
from unmask_gym.models.codec import completion_tokens, decode_answer
from unmask_gym.reward import REWARD_FORMULAS, call_reward_function
from unmask_gym.state import EnvState, EpisodeBook
from unmask_gym.transfer import to_device


@dataclass(frozen=True)
class Endings:
    """What the host learns about the episodes that ended in a step; (N,) arrays, meaningful at ``rows`` only."""

    rows: np.ndarray  # (D,) int64: the slots whose episode ended (terminated or truncated)
    reward: np.ndarray  # (N,) float32
    score: np.ndarray  # (N,) float32
    budget_exhausted: np.ndarray  # (N,) bool
    completions: np.ndarray  # (N,) object: decoded answers
    prompts: np.ndarray  # (N,) object
    references: np.ndarray  # (N,) object


def scores_on_device(task: Any, model: Any, reward: Any) -> bool:
    """Whether finished episodes can be scored on the device (``device_scores``), as ``sync_free`` needs.

    They can for a task with ``score_tokens`` and ``reference_tokens`` (the built-in tasks) whose tokenizer the model
    decodes with, under a named reward; a callable reward reads the decoded texts, so it needs the host's scoring.
    """
    return (hasattr(task, "score_tokens") and hasattr(task, "reference_tokens") and not callable(reward)
            and not hasattr(model, "decode_answer")
            and getattr(task, "tokenizer", None) == model.tokenizer)  # fmt: skip


def device_scores(
    state: EnvState, done: torch.Tensor, truncated: torch.Tensor, model: Any, config: EnvConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The terminal reward, score and ``nfe_budget_exhausted`` (N,) of the rows whose episode ``done`` ended.

    The device twin of ``score_episodes``'s numbers: every row is scored (static shapes, no host round trip) and
    the rows that did not terminate get 0 (a truncated episode is not scored).
    """
    answers = completion_tokens(state.answer, model.end_token_ids, model.pad_token_id, config.answer_length + 1)
    scored = done & ~truncated
    score = torch.where(scored, config.task.score_tokens(answers, state.reference), 0.0)
    reward = REWARD_FORMULAS[config.reward](score, state.steps, config.answer_length, config.alpha)
    budget_exhausted = scored & (state.answer == model.mask_token_id).any(1)
    return torch.where(scored, reward, 0.0).float(), score, budget_exhausted


def ending_columns(
    ended: torch.Tensor, committed: torch.Tensor, state: EnvState, truncated: torch.Tensor
) -> torch.Tensor:
    """(N, 4 + L) int64, what the host needs to score a step's finished episodes (``score_episodes``'s ``host``).

    Per row: ended, committed anything, steps, truncated, then the answer tokens.
    """
    return torch.cat([ended[:, None], committed.any(1)[:, None], state.steps[:, None], truncated[:, None],
                      state.answer], 1)  # fmt: skip


def score_episodes(
    book: EpisodeBook, done_rows: np.ndarray, host: np.ndarray, model: Any, config: EnvConfig
) -> Endings:
    """Decodes and scores the finished rows on the host: their terminal reward and what their info reports.

    ``host`` (N, 4 + L): ``ending_columns`` on the host. A truncated episode (Gymnasium's time limit) is decoded
    but not scored: reward 0, score 0.
    """
    n = config.num_envs
    reward, score = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32)
    budget_exhausted = np.zeros(n, dtype=bool)
    completions, prompts, references_out = (np.full(n, None, dtype=object) for _ in range(3))
    if len(done_rows):
        answers, nfe, cut = host[done_rows, 4:], host[done_rows, 2], host[done_rows, 3] != 0  # (D, L), (D,), (D,)
        done_completions = [decode_answer(model, answer.tolist()) for answer in answers]
        done_prompts = [book.prompts[row] for row in done_rows]
        references = [book.references[row] for row in done_rows]
        completions[done_rows] = done_completions
        prompts[done_rows] = done_prompts
        for row, reference in zip(done_rows, references, strict=True):  # a reference may itself be a sequence
            references_out[row] = reference
        done_score = np.asarray(config.task.score(done_completions, references), dtype=np.float32)
        if done_score.shape != (len(done_rows),):
            raise ValueError(f"task.score returned shape {tuple(done_score.shape)}, expected ({len(done_rows)},)")
        if callable(config.reward):
            values = call_reward_function(
                config.reward, done_prompts, done_completions, nfe=nfe.tolist(), references=references,
                scores=done_score.tolist(), answer_length=config.answer_length,
            )  # fmt: skip
        else:
            formula = REWARD_FORMULAS[config.reward]
            values = formula(torch.from_numpy(done_score), torch.from_numpy(nfe), config.answer_length, config.alpha)
        values = torch.as_tensor(values, dtype=torch.float32).numpy()  # (numpy's own conversion of a tensor is slow)
        reward[done_rows] = np.where(cut, 0.0, values)
        score[done_rows] = np.where(cut, 0.0, done_score)
        budget_exhausted[done_rows] = (answers == model.mask_token_id).any(1) & ~cut
    return Endings(done_rows, reward, score, budget_exhausted, completions, prompts, references_out)


def end_info(
    state: EnvState, ended: torch.Tensor, endings: Endings | None, config: EnvConfig,
    scores: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, Any]]:  # fmt: skip
    """The step's reward (N,) on the device and the end-of-episode info of ``state`` (the state they ended in).

    ``scores``: reward, score and budget flags from ``device_scores``; without them the host's numbers reach the
    device in one transfer, and only when an episode ended. ``endings`` None (``sync_free``): no texts.
    """
    if scores is not None:
        reward, score, budget_exhausted = scores
    elif len(endings.rows):
        arrays = (endings.reward, endings.score, endings.budget_exhausted)
        reward, score, budget_exhausted = to_device(arrays, config.device, np.float32)
        budget_exhausted = budget_exhausted != 0
    else:
        reward, score = (torch.zeros(config.num_envs, device=config.device) for _ in range(2))  # not one tensor
        budget_exhausted = torch.zeros(config.num_envs, dtype=torch.bool, device=config.device)
    length = torch.where(ended, state.steps, 0)
    extras: dict[str, Any] = {}
    if endings is not None:
        done = np.zeros(config.num_envs, dtype=bool)
        done[endings.rows] = True
        extras = {"completion": endings.completions, "_completion": done, "prompt": endings.prompts,
                  "_prompt": done.copy(), "reference": endings.references, "_reference": done.copy()}  # fmt: skip
    extras.update(unmask_step=torch.where(ended[:, None], state.unmask_step, -1), _unmask_step=ended.clone())
    info = {
        "score": score,
        "nfe_budget_exhausted": budget_exhausted,
        "episode": {"r": reward.clone(), "l": length, "nfe": length.clone()},
        "extras": extras,
    }  # fmt: skip
    return reward, info


def step_info(state: EnvState, config: EnvConfig, end_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per-step info tensors (N,) of ``state``'s episodes."""
    if end_info is None:
        score = torch.zeros(config.num_envs, device=config.device)
        budget_exhausted = torch.zeros(config.num_envs, dtype=torch.bool, device=config.device)
    else:
        score, budget_exhausted = end_info["score"].clone(), end_info["nfe_budget_exhausted"].clone()
    return {
        "nfe": state.steps.clone(),
        "correct": score >= 1.0,
        "score": score,
        "prompt_id": state.prompt_id.clone(),
        "episode_index": state.episode_index.clone(),
        "nfe_budget_exhausted": budget_exhausted,
    }


def info_after_step(
    state: EnvState, ended_state: EnvState, ended: torch.Tensor, committed: torch.Tensor,
    end_info: dict[str, Any], any_ended: bool, config: EnvConfig,
) -> dict[str, Any]:  # fmt: skip
    """A step's info: ``state``'s episodes, and the ones that ``ended`` (N,) in ``ended_state``.

    With ``SAME_STEP`` autoreset ``state`` holds the restarted episodes and the finished ones go to ``final_obs`` and
    ``final_info``; otherwise the finished ones are still in their slots and their end info is the step's. Nothing of
    the endings is added when ``any_ended`` is False (the host knows that no episode ended).
    """
    if config.autoreset_mode == AutoresetMode.SAME_STEP:
        info = step_info(state, config)
        if any_ended:
            final_info = {**step_info(ended_state, config, end_info), **end_info["extras"]}
            final_info["committed"] = committed
            final_obs = observation(ended_state, config)
            info.update(final_obs=final_obs, _final_obs=ended, final_info=final_info, _final_info=ended.clone())
    else:
        info = {**step_info(state, config, end_info), **end_info["extras"]}
    info["committed"] = committed.clone()
    if any_ended:
        info["episode"], info["_episode"] = end_info["episode"], ended.clone()
    return info


def observation(state: EnvState, config: EnvConfig) -> dict[str, torch.Tensor]:
    """Fresh observation tensors (never views of the state). Committed positions are certain."""
    masked = state.masked  # (N, L)
    prediction = state.prediction
    out = {
        "confidence": torch.where(masked, prediction.confidence, 1.0),
        "pred_token": torch.where(masked, prediction.pred_token, state.answer),
        "masked": masked.clone(),
        "action_mask": state.action_mask.clone(),
        "margin": torch.where(masked, prediction.margin, 1.0),
        "entropy": torch.where(masked, prediction.entropy, 0.0),
        "tokens": state.answer.clone(),
        "step_frac": (state.steps.float() / config.answer_length)[:, None],  # (N, 1)
        "block": state.block.clone(),
    }
    if config.top_k:
        out["top_k_probs"] = torch.where(masked[..., None], prediction.top_k_probs, 0.0)
        out["top_k_tokens"] = torch.where(masked[..., None], prediction.top_k_tokens, state.answer[..., None])
    if config.observe_hidden:
        out["hidden"] = prediction.hidden.clone()
    if config.observe_prompt:
        out["prompt_tokens"] = state.canvas[:, : config.max_prompt_length].clone()
    return out
