"""``UnmaskVectorEnv``: N masked-diffusion decodings stepped together, one forward pass (NFE) per step.

Shapes: N envs (slots), L answer positions, P prompt length, T = P + L canvas length, V vocabulary, K top-k.
The MDP is DESIGN.md §2: the observation describes the answer region after the latest forward, the action
``MultiBinary(L)`` commits predicted tokens, the reward is terminal.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from unmask_gym import validation
from unmask_gym.canvas import left_pad
from unmask_gym.features import Prediction, predict
from unmask_gym.prompts import PromptStreams
from unmask_gym.reward import REWARD_NAMES, additive_reward, call_reward_function, multiplicative_reward
from unmask_gym.spaces import action_space, observation_space
from unmask_gym.state import EnvState, EpisodeBook

EMPTY_ACTIONS = ("noop", "top_confidence", "error")


class UnmaskVectorEnv(VectorEnv):
    """Batched unmasking MDP over a dLLM, with all state as torch tensors on ``device``.

    Each step commits the selected positions' predicted tokens and runs one forward pass over the rows whose
    canvas changed (rows that committed nothing reuse their cached prediction; finished rows are never sent to the
    dLLM). Observation keys: ``confidence``, ``pred_token``, ``masked``, ``action_mask``, ``margin``, ``entropy``,
    ``tokens`` (N, L); ``step_frac`` (N, 1); ``block`` (N,); optionally ``top_k_probs``/``top_k_tokens``
    (N, L, K), ``hidden`` (N, L, D) and ``prompt_tokens`` (N, P). A committed position reports its token with
    confidence 1, margin 1 and entropy 0.

    Info keys (tensors of shape (N,)): ``nfe``, ``correct``, ``score``, ``prompt_id``, ``episode_index``,
    ``nfe_budget_exhausted``; ``episode`` = ``{"r", "l", "nfe"}`` with mask ``_episode`` on the step an episode
    ends. At episode end also ``completion``, ``prompt`` and ``reference`` (numpy object arrays) and
    ``unmask_step`` (N, L) (-1 where never committed), each with a ``_key`` mask. With
    ``AutoresetMode.SAME_STEP`` (default) a finished row is reset within the step: the returned observation and
    top-level info belong to the new episode, the finished one is in ``info["final_obs"]`` (a dict of (N, ...)
    tensors, valid where ``info["_final_obs"]``) and ``info["final_info"]`` (the step's info dict, valid where
    ``info["_final_info"]``), as in Gymnasium 1.x.

    Version History:
        v0: initial release.

    Example:
        >>> from unmask_gym.testing import FakeDiffusionLM, CountingTask
        >>> env = UnmaskVectorEnv(2, task=CountingTask(answer_length=4), model=FakeDiffusionLM())
        >>> obs, info = env.reset(seed=0)
        >>> obs["masked"].shape, obs["confidence"].dtype
        (torch.Size([2, 4]), torch.float32)
        >>> obs, reward, terminated, truncated, info = env.step(obs["action_mask"])
        >>> terminated.tolist(), info["final_info"]["nfe"].tolist()
        ([True, True], [1, 1])
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        *,
        task: Any = "addition",
        model: Any = None,
        answer_length: int | None = None,
        max_prompt_length: int | None = None,
        block_length: int | None = None,
        empty_action: str = "noop",
        strict: bool = False,
        temperature: float = 0.0,
        max_nfe: int | None = None,
        max_episode_steps: int | None = None,
        reward: Any = "multiplicative",
        alpha: float = 1.0,
        autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
        group_size: int = 1,
        split: str = "train",
        num_prompts: int | None = None,
        top_k: int = 0,
        observe_prompt: bool = False,
        observe_hidden: bool = False,
        validate_actions: bool = True,
        device: str | torch.device | None = None,
    ) -> None:
        """Builds the env; every argument is checked here (see the README's argument table)."""
        from unmask_gym.models import load_model, resolve_model_name
        from unmask_gym.tasks import resolve_task

        self.num_envs = validation.check_int("num_envs", num_envs, 1)
        self.task = resolve_task(task)
        self.group_size = validation.check_int("group_size", group_size, 1)
        if self.num_envs % self.group_size:
            raise ValueError(f"num_envs={num_envs} must be a multiple of group_size={group_size}")
        self.answer_length = validation.check_int(
            "answer_length", self.task.answer_length if answer_length is None else answer_length, 1
        )
        self.prompt_length = validation.check_int(
            "max_prompt_length", self.task.max_prompt_length if max_prompt_length is None else max_prompt_length, 1
        )
        self.block_length = validation.check_int("block_length", block_length, 1, allow_none=True)
        if self.block_length is not None and self.answer_length % self.block_length:
            raise ValueError(
                f"block_length={block_length} must divide answer_length={self.answer_length} (or be None for "
                "full diffusion)"
            )
        self.empty_action = validation.check_choice("empty_action", empty_action, EMPTY_ACTIONS)
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be a bool, got {strict!r}")
        self.strict = strict
        self.temperature = validation.check_float("temperature", temperature, 0.0)
        if max_nfe is not None and max_episode_steps is not None and max_nfe != max_episode_steps:
            raise ValueError(
                f"max_nfe={max_nfe} and its alias max_episode_steps={max_episode_steps} disagree; give one"
            )
        budget = max_nfe if max_nfe is not None else max_episode_steps
        self.max_nfe = validation.check_int("max_nfe", self.answer_length if budget is None else budget, 1)
        if not callable(reward):
            validation.check_choice("reward", reward, REWARD_NAMES)
        self.reward = reward
        self.alpha = validation.check_float("alpha", alpha, 0.0)
        try:
            self.autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            raise ValueError(
                f"autoreset_mode must be one of {[m.value for m in AutoresetMode]}, got {autoreset_mode!r}"
            ) from None
        self.split = validation.check_choice("split", split, ("train", "eval"))
        self.num_prompts = validation.check_int("num_prompts", num_prompts, 1, allow_none=True)
        self.top_k = validation.check_int("top_k", top_k, 0)
        self.observe_prompt = bool(observe_prompt)
        self.observe_hidden = bool(observe_hidden)
        self.validate_actions = bool(validate_actions)
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))

        self.model = load_model(model if model is not None else resolve_model_name(self.task), device=self.device)
        self._check_model()
        if self.observe_hidden and not hasattr(self.model, "logits_and_hidden"):
            raise TypeError(
                f"observe_hidden=True needs a model with hidden_size and logits_and_hidden() (the built-in TinyMDLM "
                f"has them); {type(self.model).__name__} does not"
            )
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self.single_observation_space = observation_space(
            self.answer_length,
            self.model.vocab_size,
            self.max_nfe,
            self.num_blocks,
            self.top_k,
            self.prompt_length if self.observe_prompt else None,
            self.hidden_size,
        )
        self.single_action_space = action_space(self.answer_length)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        self._answer_columns = torch.arange(self.prompt_length, self.prompt_length + self.answer_length)
        self._answer_columns = self._answer_columns.to(self.device)  # (L,)
        self._positions = torch.arange(self.answer_length, device=self.device)  # (L,)
        self._streams = PromptStreams(self.task, self.num_groups, self.split, self.num_prompts)
        self._generator = torch.Generator(device=self.device)
        self._state: EnvState | None = None
        self._book: EpisodeBook | None = None
        self._autoreset_pending = np.zeros(self.num_envs, dtype=bool)  # NEXT_STEP: reset at the next step
        self._closed = False

    # ------------------------------------------------------------------------------------------------ properties
    @property
    def num_groups(self) -> int:
        """N / G prompt groups."""
        return self.num_envs // self.group_size

    @property
    def hidden_size(self) -> int:
        """D of the ``hidden`` observation (0 without ``observe_hidden``)."""
        return int(self.model.hidden_size) if self.observe_hidden else 0

    @property
    def num_blocks(self) -> int:
        """Number of semi-autoregressive blocks (1 in full diffusion)."""
        return 1 if self.block_length is None else self.answer_length // self.block_length

    @property
    def prompts_remaining(self) -> int | None:
        """Prompts not yet started from a finite ``num_prompts`` list (None for endless streams)."""
        return self._streams.remaining

    @property
    def running(self) -> torch.Tensor:
        """(N,) bool: which slots hold a running episode (a copy)."""
        self._check_ready()
        return self._state.running.clone()

    # ------------------------------------------------------------------------------------------------ reset
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Starts new episodes in every slot, or in the slots of ``options["reset_mask"]``.

        Args:
            seed: an int seeds the prompt streams (group g uses ``seed + g``) and the sampling generator, so the
                same seed gives the same trajectories; None continues the current streams.
            options: ``reset_mask``: (N,) bool array or tensor, the slots to reset (the others keep their
                state; this is how ``AutoresetMode.DISABLED`` resets finished slots). ``prompts``: N/G prompt
                strings, one per group, for this reset's episodes; ``references``: their references (derived
                with the task's ``reference_for`` when omitted).
        """
        self._check_open()
        seed = validation.check_seed(seed)
        if options is not None and not isinstance(options, dict):
            raise TypeError(f"options must be a dict or None, got {options!r} of type {type(options).__name__}")
        options = dict(options or {})
        unknown = sorted(set(options) - {"reset_mask", "prompts", "references"})
        if unknown:
            raise ValueError(f"unknown reset options {unknown}; valid options are reset_mask, prompts, references")
        rows = self._reset_rows(options.get("reset_mask"))
        prompts = self._reset_prompts(options.get("prompts"), options.get("references"))
        full = len(rows) == self.num_envs
        if not full and (self._state is None or seed is not None or prompts is not None):
            raise ValueError("reset_mask must select every slot on the first reset and when seed or prompts is given")
        if seed is None and self._state is None:
            seed = int(np.random.SeedSequence().entropy % 2**31)
        snapshot = self._streams.snapshot()
        try:
            if seed is not None:
                self._streams.seed(seed)
            book = EpisodeBook(self.num_envs, self.group_size) if seed is not None else self._book.copy()
            book.advance(rows, restart=seed is not None)
            for group, (prompt, reference) in enumerate(prompts or []):
                self._streams.set(group, book.group_episode(group), prompt, reference)
            state = self._state or EnvState.empty(
                self.num_envs, self.prompt_length, self.answer_length, self.model.mask_token_id,
                self.model.pad_token_id, self.top_k, self.device, self.hidden_size,
            )  # fmt: skip
            state = self._forward(*self._start_episodes(state, book, rows))
        except BaseException:
            self._streams.restore(snapshot)
            raise
        if seed is not None:
            self._generator.manual_seed(seed)
        self._state, self._book = state, book
        self._autoreset_pending[rows] = False
        return self._observation(state), self._info(state, book)

    # ------------------------------------------------------------------------------------------------ step
    def step(
        self, actions: Any
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Commits the selected positions, scores finished episodes, autoresets, and runs one forward pass.

        Args:
            actions: (N, L) 0/1 values as a torch tensor (any device) or numpy array, of bool, integer or float
                dtype. Positions outside ``action_mask`` are ignored (refused with ``strict=True``). A row that
                selects nothing follows ``empty_action``.

        Returns:
            ``(obs, reward, terminated, truncated, info)``; reward float32 (N,), flags bool (N,), on ``device``.
        """
        self._check_ready()
        state, book = self._state, self._book
        selected, device_check = validation.action_to_tensor(actions, self.num_envs, self.answer_length, self.device)
        action_mask = state.action_mask(self.block_length)  # (N, L)
        self._check_selection(actions, selected, action_mask, state.running, device_check)

        new, committed, done = self._transition(state, selected, action_mask)
        host = torch.cat([done[:, None], committed[:, None], new.steps[:, None], new.answer], 1).cpu()  # sync
        done_rows = np.flatnonzero(host[:, 0].numpy())
        stay_rows = np.flatnonzero(host[:, 1].numpy() & ~host[:, 0].numpy())  # committed and still running
        reward, end_info = self._end_episodes(new, book, done_rows, host)
        new = new.replace(running=new.running & ~done)
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            reset_rows = done_rows
            if len(done_rows):  # the finished episodes' last view, before their rows restart
                final_info = {**self._info(new, book, end_info), **end_info["extras"]}
                final_obs = self._observation(new)
        else:
            reset_rows = np.flatnonzero(self._autoreset_pending)  # always empty with DISABLED
        snapshot = self._streams.snapshot(row // self.group_size for row in reset_rows)
        try:
            book = book.copy()
            book.advance(reset_rows, restart=False)
            new, started_rows = self._start_episodes(new, book, reset_rows)
            new = self._forward(new, np.union1d(stay_rows, started_rows))
        except BaseException:
            self._streams.restore(snapshot)
            raise

        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            info = self._info(new, book)
            if len(done_rows):
                info.update(final_obs=final_obs, _final_obs=done, final_info=final_info, _final_info=done.clone())
        else:
            info = {**self._info(new, book, end_info), **end_info["extras"]}
            self._autoreset_pending = np.zeros(self.num_envs, dtype=bool)
            self._autoreset_pending[done_rows] = self.autoreset_mode == AutoresetMode.NEXT_STEP
        if len(done_rows):
            info["episode"], info["_episode"] = end_info["episode"], done.clone()
        self._state, self._book = new, book
        truncated = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        return self._observation(new), reward, done.clone(), truncated, info

    def close(self, **kwargs: Any) -> None:
        """Releases the state; later calls to ``step``/``reset`` raise RuntimeError."""
        self._state = None
        self._closed = True

    # ------------------------------------------------------------------------------------------------ dynamics
    def _transition(
        self, state: EnvState, selected: torch.Tensor, action_mask: torch.Tensor
    ) -> tuple[EnvState, torch.Tensor, torch.Tensor]:
        """Pure step of the running rows: commit, count the NFE, detect the end. No validation, no reset."""
        chosen = selected & action_mask  # (N, L); action_mask is False on rows that are not running
        if self.empty_action == "top_confidence":
            empty = ~chosen.any(1) & action_mask.any(1)  # (N,)
            best = state.prediction.confidence.masked_fill(~action_mask, -1.0).argmax(1)  # (N,)
            chosen = chosen | ((self._positions[None, :] == best[:, None]) & empty[:, None])
        answer = torch.where(chosen, state.prediction.pred_token, state.answer)  # (N, L)
        steps = state.steps + state.running.long()  # (N,) every step of a running episode costs one NFE
        unmask_step = torch.where(chosen, state.steps[:, None], state.unmask_step)  # (N, L)
        still_masked = (answer == self.model.mask_token_id).any(1)  # (N,)
        done = state.running & (~still_masked | (steps >= self.max_nfe))
        canvas = torch.cat([state.canvas[:, : self.prompt_length], answer], dim=1)  # (N, T)
        new = state.replace(canvas=canvas, steps=steps, unmask_step=unmask_step)
        return new, chosen.any(1), done

    def _forward(self, state: EnvState, rows: np.ndarray) -> EnvState:
        """One dLLM pass over ``rows`` only; the other rows keep their cached prediction."""
        if len(rows) == 0:
            return state
        index = torch.as_tensor(rows, device=self.device)
        canvas, attention = state.canvas[index], state.attention[index]
        with torch.no_grad():
            if self.observe_hidden:
                logits, hidden = self.model.logits_and_hidden(canvas, attention, positions=self._answer_columns)
            else:
                logits, hidden = self.model.logits(canvas, attention, positions=self._answer_columns), None
            fresh = dataclasses.replace(
                predict(logits, self.temperature, self._generator, self.top_k), hidden=hidden
            )  # (R, L, ...) each
        merged = {}
        for field in dataclasses.fields(Prediction):
            old = getattr(state.prediction, field.name)
            if old is not None:
                merged[field.name] = old.index_copy(0, index, getattr(fresh, field.name).to(old.dtype))
        return state.replace(prediction=Prediction(**merged))

    def _start_episodes(self, state: EnvState, book: EpisodeBook, rows: np.ndarray) -> tuple[EnvState, np.ndarray]:
        """Puts each row's next prompt on a fresh canvas; rows whose finite prompt list is used up stay idle."""
        started, prompt_ids = [], []
        for row in rows:
            group = row // self.group_size
            episode = self._streams.get(group, int(book.episode_index[row]))
            if episode is not None:
                started.append(row)
                prompt_ids.append(self.model.tokenizer.encode(episode.prompt))
                book.prompts[row], book.references[row] = episode.prompt, episode.reference
                book.prompt_id[row] = episode.prompt_id
        for group in {row // self.group_size for row in rows}:
            self._streams.release(group, book.group_oldest(group))
        if len(rows) == 0:
            return state, np.asarray(started, dtype=np.int64)
        index = torch.as_tensor(np.asarray(rows), device=self.device)
        running = state.running.index_fill(0, index, False)
        if not started:
            return state.replace(running=running), np.asarray(started, dtype=np.int64)
        prompt_tokens, prompt_attention = left_pad(prompt_ids, self.prompt_length, self.model.pad_token_id)
        answer = torch.full((len(started), self.answer_length), self.model.mask_token_id)
        index = torch.as_tensor(np.asarray(started), device=self.device)
        canvas = torch.cat([prompt_tokens, answer], 1).to(self.device)  # (R, T)
        attention = torch.cat([prompt_attention, torch.ones_like(answer, dtype=torch.bool)], 1).to(self.device)
        state = state.replace(
            canvas=state.canvas.index_copy(0, index, canvas),
            attention=state.attention.index_copy(0, index, attention),
            steps=state.steps.index_fill(0, index, 0),
            unmask_step=state.unmask_step.index_fill(0, index, -1),
            running=running.index_fill(0, index, True),
        )
        return state, np.asarray(started, dtype=np.int64)

    def _end_episodes(
        self, state: EnvState, book: EpisodeBook, done_rows: np.ndarray, host: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Decodes and scores the finished rows: the terminal reward (N,) and the end-of-episode info."""
        reward = torch.zeros(self.num_envs, dtype=torch.float32)
        score = torch.zeros(self.num_envs, dtype=torch.float32)
        budget_exhausted = torch.zeros(self.num_envs, dtype=torch.bool)
        completions = np.full(self.num_envs, None, dtype=object)
        prompts = np.full(self.num_envs, None, dtype=object)
        references_out = np.full(self.num_envs, None, dtype=object)
        if len(done_rows):
            answers, nfe = host[done_rows, 3:], host[done_rows, 2]  # (D, L), (D,)
            done_completions = [
                self.model.tokenizer.decode(answer.tolist(), sorted(self.model.end_token_ids)) for answer in answers
            ]
            done_prompts = [book.prompts[row] for row in done_rows]
            references = [book.references[row] for row in done_rows]
            done_score = torch.as_tensor(self.task.score(done_completions, references), dtype=torch.float32)
            if done_score.shape != (len(done_rows),):
                raise ValueError(f"task.score returned shape {tuple(done_score.shape)}, expected ({len(done_rows)},)")
            if callable(self.reward):
                values = call_reward_function(
                    self.reward, done_prompts, done_completions, nfe=nfe.tolist(), references=references,
                    scores=done_score.tolist(), answer_length=self.answer_length,
                )  # fmt: skip
            else:
                formula = multiplicative_reward if self.reward == "multiplicative" else additive_reward
                values = formula(done_score, nfe, self.answer_length, self.alpha)
            reward[done_rows] = values
            score[done_rows] = done_score
            budget_exhausted[done_rows] = (answers == self.model.mask_token_id).any(1)
            for row, completion, prompt, reference in zip(
                done_rows, done_completions, done_prompts, references, strict=True
            ):
                completions[row], prompts[row], references_out[row] = completion, prompt, reference
        done = torch.zeros(self.num_envs, dtype=torch.bool)
        done[done_rows] = True
        device_done = done.to(self.device)
        unmask_step = torch.where(device_done[:, None], state.unmask_step, -1)
        end_info = {
            "score": score.to(self.device),
            "nfe_budget_exhausted": budget_exhausted.to(self.device),
            "episode": {"r": reward.to(self.device), "l": state.steps.clone(), "nfe": state.steps.clone()},
            "extras": {
                "completion": completions, "_completion": done.numpy(),
                "prompt": prompts, "_prompt": done.numpy().copy(),
                "reference": references_out, "_reference": done.numpy().copy(),
                "unmask_step": unmask_step, "_unmask_step": device_done,
            },
        }  # fmt: skip
        end_info["episode"]["l"][~device_done] = 0
        end_info["episode"]["nfe"][~device_done] = 0
        return reward.to(self.device), end_info

    def _info(self, state: EnvState, book: EpisodeBook, end_info: dict[str, Any] | None = None) -> dict[str, Any]:
        """Per-step info tensors (N,) of the returned observation's episodes."""
        score = torch.zeros(self.num_envs, device=self.device) if end_info is None else end_info["score"]
        return {
            "nfe": state.steps.clone(),
            "correct": score >= 1.0,
            "score": score.clone(),
            "prompt_id": torch.as_tensor(book.prompt_id, device=self.device).clone(),
            "episode_index": torch.as_tensor(book.episode_index, device=self.device).clone(),
            "nfe_budget_exhausted": torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
            if end_info is None
            else end_info["nfe_budget_exhausted"].clone(),
        }

    def _observation(self, state: EnvState) -> dict[str, torch.Tensor]:
        """Fresh observation tensors (never views of the state). Committed positions are certain."""
        masked = state.masked  # (N, L)
        prediction = state.prediction
        observation = {
            "confidence": torch.where(masked, prediction.confidence, 1.0),
            "pred_token": torch.where(masked, prediction.pred_token, state.answer),
            "masked": masked,
            "action_mask": state.action_mask(self.block_length),
            "margin": torch.where(masked, prediction.margin, 1.0),
            "entropy": torch.where(masked, prediction.entropy, 0.0),
            "tokens": state.answer.clone(),
            "step_frac": (state.steps.float() / self.answer_length)[:, None],  # (N, 1)
            "block": state.block(self.block_length),
        }
        if self.top_k:
            observation["top_k_probs"] = torch.where(masked[..., None], prediction.top_k_probs, 0.0)
            observation["top_k_tokens"] = prediction.top_k_tokens.clone()
        if self.observe_hidden:
            observation["hidden"] = prediction.hidden.clone()
        if self.observe_prompt:
            observation["prompt_tokens"] = state.canvas[:, : self.prompt_length].clone()
        return observation

    # ------------------------------------------------------------------------------------------------ checks
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this UnmaskVectorEnv was closed; make a new one")

    def _check_ready(self) -> None:
        self._check_open()
        if self._state is None:
            raise RuntimeError("call reset() before step()")

    def _check_model(self) -> None:
        for attribute in ("mask_token_id", "end_token_ids", "pad_token_id", "vocab_size", "tokenizer", "logits"):
            if not hasattr(self.model, attribute):
                raise TypeError(f"model must implement the DiffusionLM protocol; it has no {attribute!r}")
        task_tokenizer = getattr(self.task, "tokenizer", None)
        if task_tokenizer is not None and task_tokenizer != self.model.tokenizer:
            raise ValueError(
                f"the model's tokenizer {self.model.tokenizer!r} does not match task {self.task.name!r}'s tokenizer "
                f"{task_tokenizer!r}: the model cannot read this task's prompts"
            )
        max_length = getattr(self.model, "max_length", None)
        if max_length is not None and self.prompt_length + self.answer_length > max_length:
            raise ValueError(
                f"max_prompt_length + answer_length = {self.prompt_length} + {self.answer_length} exceeds the "
                f"model's max_length={max_length}"
            )

    def _check_selection(
        self,
        actions: Any,
        selected: torch.Tensor,
        action_mask: torch.Tensor,
        running: torch.Tensor,
        device_check: torch.Tensor | None,
    ) -> None:
        """All value checks of an action folded into one host sync."""
        checks = []
        if device_check is not None and self.validate_actions:
            checks.append(device_check)
        if self.strict:
            checks.append((selected & ~action_mask).any())
        if self.empty_action == "error":
            checks.append((~(selected & action_mask).any(1) & action_mask.any(1)).any())
        if not checks or not any(torch.stack(checks).tolist()):
            return
        flags = iter(torch.stack(checks).tolist())
        if device_check is not None and self.validate_actions and next(flags):
            raise validation.binary_error(actions)
        if self.strict and next(flags):
            rows = torch.nonzero((selected & ~action_mask).any(1)).flatten().tolist()
            raise ValueError(
                f"strict=True: actions select positions outside action_mask (committed, outside the current block, "
                f"or in a finished episode) in envs {rows}"
            )
        rows = torch.nonzero(~(selected & action_mask).any(1) & action_mask.any(1)).flatten().tolist()
        raise ValueError(f"empty_action='error': envs {rows} selected no position inside action_mask")

    def _reset_rows(self, reset_mask: Any) -> np.ndarray:
        if reset_mask is None:
            return np.arange(self.num_envs)
        if isinstance(reset_mask, torch.Tensor):
            reset_mask = reset_mask.numpy(force=True)
        mask = np.asarray(reset_mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"options['reset_mask'] must be a bool array or tensor, got dtype {mask.dtype}")
        if mask.shape != (self.num_envs,):
            raise ValueError(f"options['reset_mask'] must have shape ({self.num_envs},), got {mask.shape}")
        return np.flatnonzero(mask)

    def _reset_prompts(self, prompts: Any, references: Any) -> list[tuple[str, Any]] | None:
        if prompts is None:
            if references is not None:
                raise ValueError("options['references'] needs options['prompts']")
            return None
        if not isinstance(prompts, list | tuple | np.ndarray) or not all(isinstance(p, str) for p in prompts):
            raise TypeError("options['prompts'] must be a list of strings, one per group")
        if len(prompts) != self.num_groups:
            raise ValueError(
                f"options['prompts'] must hold num_envs / group_size = {self.num_groups} prompts, got {len(prompts)}"
            )
        for prompt in prompts:
            length = len(self.model.tokenizer.encode(prompt))
            if length > self.prompt_length:
                raise ValueError(
                    f"prompt {prompt!r} has {length} tokens, more than max_prompt_length={self.prompt_length}"
                )
        if references is None:
            if not hasattr(self.task, "reference_for"):
                raise ValueError(f"task {self.task.name!r} cannot derive references; pass options['references']")
            references = [self.task.reference_for(prompt) for prompt in prompts]
        if len(references) != len(prompts):
            raise ValueError(f"options['references'] must hold {len(prompts)} references, got {len(references)}")
        return list(zip(prompts, references, strict=True))
