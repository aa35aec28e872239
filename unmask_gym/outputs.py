"""What the env returns: observations, per-step info, and the decoding, scoring and reward of finished episodes.

Shapes: N envs, L answer positions, K top-k, D hidden size. Every returned tensor is fresh (never a view of the
state), so a caller may keep or modify it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from unmask_gym.config import EnvConfig
from unmask_gym.models.codec import decode_answer
from unmask_gym.reward import REWARD_FORMULAS, call_reward_function
from unmask_gym.state import EnvState, EpisodeBook


def end_episodes(
    state: EnvState, book: EpisodeBook, done_rows: np.ndarray, host: torch.Tensor, model: Any, config: EnvConfig
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Decodes and scores the finished rows: the terminal reward (N,) and the end-of-episode info.

    ``host`` holds per row: ended, committed anything, steps, truncated, then the answer tokens. A truncated
    episode (Gymnasium's time limit) is decoded but not scored: reward 0, score 0.
    """
    reward = torch.zeros(config.num_envs, dtype=torch.float32)
    score = torch.zeros(config.num_envs, dtype=torch.float32)
    budget_exhausted = torch.zeros(config.num_envs, dtype=torch.bool)
    completions = np.full(config.num_envs, None, dtype=object)
    prompts = np.full(config.num_envs, None, dtype=object)
    references_out = np.full(config.num_envs, None, dtype=object)
    if len(done_rows):
        answers, nfe, cut = host[done_rows, 4:], host[done_rows, 2], host[done_rows, 3].bool()  # (D, L), (D,), (D,)
        done_completions = [decode_answer(model, answer.tolist()) for answer in answers]
        done_prompts = [book.prompts[row] for row in done_rows]
        references = [book.references[row] for row in done_rows]
        done_score = torch.as_tensor(config.task.score(done_completions, references), dtype=torch.float32)
        if done_score.shape != (len(done_rows),):
            raise ValueError(f"task.score returned shape {tuple(done_score.shape)}, expected ({len(done_rows)},)")
        if callable(config.reward):
            values = call_reward_function(
                config.reward, done_prompts, done_completions, nfe=nfe.tolist(), references=references,
                scores=done_score.tolist(), answer_length=config.answer_length,
            )  # fmt: skip
        else:
            values = REWARD_FORMULAS[config.reward](done_score, nfe, config.answer_length, config.alpha)
        reward[done_rows] = torch.as_tensor(values, dtype=torch.float32).masked_fill(cut, 0.0)
        score[done_rows] = done_score.masked_fill(cut, 0.0)
        budget_exhausted[done_rows] = (answers == model.mask_token_id).any(1) & ~cut
        for row, completion, prompt, reference in zip(
            done_rows, done_completions, done_prompts, references, strict=True
        ):
            completions[row], prompts[row], references_out[row] = completion, prompt, reference
    done = torch.zeros(config.num_envs, dtype=torch.bool)
    done[done_rows] = True
    device_done = done.to(config.device)
    unmask_step = torch.where(device_done[:, None], state.unmask_step, -1)
    end_info = {
        "score": score.to(config.device),
        "nfe_budget_exhausted": budget_exhausted.to(config.device),
        "episode": {"r": reward.to(config.device), "l": state.steps.clone(), "nfe": state.steps.clone()},
        "extras": {
            "completion": completions, "_completion": done.numpy(),
            "prompt": prompts, "_prompt": done.numpy().copy(),
            "reference": references_out, "_reference": done.numpy().copy(),
            "unmask_step": unmask_step, "_unmask_step": device_done,
        },
    }  # fmt: skip
    end_info["episode"]["l"][~device_done] = 0
    end_info["episode"]["nfe"][~device_done] = 0
    return reward.to(config.device), end_info


def step_info(
    state: EnvState, book: EpisodeBook, config: EnvConfig, end_info: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Per-step info tensors (N,) of the returned observation's episodes."""
    score = torch.zeros(config.num_envs, device=config.device) if end_info is None else end_info["score"]
    return {
        "nfe": state.steps.clone(),
        "correct": score >= 1.0,
        "score": score.clone(),
        "prompt_id": torch.as_tensor(book.prompt_id, device=config.device).clone(),
        "episode_index": torch.as_tensor(book.episode_index, device=config.device).clone(),
        "nfe_budget_exhausted": torch.zeros(config.num_envs, dtype=torch.bool, device=config.device)
        if end_info is None
        else end_info["nfe_budget_exhausted"].clone(),
    }


def observation(state: EnvState, config: EnvConfig) -> dict[str, torch.Tensor]:
    """Fresh observation tensors (never views of the state). Committed positions are certain."""
    masked = state.masked  # (N, L)
    prediction = state.prediction
    out = {
        "confidence": torch.where(masked, prediction.confidence, 1.0),
        "pred_token": torch.where(masked, prediction.pred_token, state.answer),
        "masked": masked,
        "action_mask": state.action_mask(config.block_length),
        "margin": torch.where(masked, prediction.margin, 1.0),
        "entropy": torch.where(masked, prediction.entropy, 0.0),
        "tokens": state.answer.clone(),
        "step_frac": (state.steps.float() / config.answer_length)[:, None],  # (N, 1)
        "block": state.block(config.block_length),
    }
    if config.top_k:
        out["top_k_probs"] = torch.where(masked[..., None], prediction.top_k_probs, 0.0)
        out["top_k_tokens"] = prediction.top_k_tokens.clone()
    if config.observe_hidden:
        out["hidden"] = prediction.hidden.clone()
    if config.observe_prompt:
        out["prompt_tokens"] = state.canvas[:, : config.max_prompt_length].clone()
    return out
