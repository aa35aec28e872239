"""``UnmaskVectorEnv``: N masked-diffusion decodings stepped together, one forward pass (NFE) per step.

Shapes: N envs (slots), L answer positions, P prompt length, T = P + L canvas length, V vocabulary, K top-k.
The MDP is the docs page "The MDP" (docs/mdp.md): the observation describes the answer region after the latest
forward, the action ``MultiBinary(L)`` commits predicted tokens, the reward is terminal. This file is the MDP's
plumbing (reset, step, close); the arguments live in ``config.py``, the transition in ``dynamics.py`` and what is
returned in ``outputs.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from unmask_gym import dynamics, outputs, validation
from unmask_gym.bank import PromptBank, restart_ended
from unmask_gym.config import EMPTY_ACTIONS, TASK_DEFAULT, EnvConfig, check_model
from unmask_gym.device_step import DeviceStep
from unmask_gym.models.codec import decode_answer, encode_prompt
from unmask_gym.prompts import PromptStreams
from unmask_gym.spaces import action_space, observation_space
from unmask_gym.state import EnvState, EpisodeBook
from unmask_gym.transfer import HostCopy

__all__ = ["EMPTY_ACTIONS", "UnmaskVectorEnv"]


class UnmaskVectorEnv(VectorEnv):
    """Batched unmasking MDP over a dLLM, with all state as torch tensors on ``device``.

    Each step commits the selected positions' predicted tokens and runs one forward pass over the rows whose
    canvas changed (rows that committed nothing reuse their cached prediction; finished rows are never sent to the
    dLLM). Observation keys: ``confidence``, ``pred_token``, ``masked``, ``action_mask``, ``margin``, ``entropy``,
    ``tokens`` (N, L); ``step_frac`` (N, 1); ``block`` (N,); optionally ``top_k_probs``/``top_k_tokens``
    (N, L, K), ``hidden`` (N, L, D) and ``prompt_tokens`` (N, P). A committed position reports its token with
    confidence 1, margin 1 and entropy 0.

    Info keys (tensors of shape (N,)): ``nfe``, ``correct``, ``score``, ``prompt_id``, ``episode_index``,
    ``nfe_budget_exhausted``; after a step also ``committed`` (N, L) bool, the positions the step's action
    committed; ``episode`` = ``{"r", "l", "nfe"}`` with mask ``_episode`` on the step an episode ends. At episode
    end also ``completion``, ``prompt`` and ``reference`` (numpy object arrays) and ``unmask_step`` (N, L) (-1
    where never committed), each with a ``_key`` mask. With ``AutoresetMode.SAME_STEP`` (default) a finished row
    is reset within the step: the returned observation and top-level info belong to the new episode, the finished
    one is in ``info["final_obs"]`` (a dict of (N, ...) tensors, valid where ``info["_final_obs"]``) and
    ``info["final_info"]`` (the step's info dict, valid where ``info["_final_info"]``), as in Gymnasium 1.x.
    With ``sync_free=True`` and a task scored on the device (the built-in ones under a named reward) no text reaches
    the info (``completion``, ``prompt``, ``reference``), and ``final_obs``, ``final_info`` and ``episode`` come with
    every step, valid where their masks say (the host does not look); ``decode_answers`` turns
    ``final_obs["tokens"]`` into the texts. A text task or a callable reward is scored on the host, after the
    forward is queued, and its info is the host-steered one.

    Every keyword argument is a field of ``EnvConfig`` (documented there and in the argument table of docs/mdp.md).

    Version History:
        The registered ids carry their own versions (``UnmaskGym/<Task>-v<N>``, see ``registration.py``); this
        class's behaviour at ``temperature=0`` has not changed since the first release.

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

    def __init__(self, num_envs: int = 1, *, task: Any = "addition", model: Any = None,
                 answer_length: int | None = None, max_prompt_length: int | None = None,
                 block_length: int | str | None = TASK_DEFAULT, empty_action: str = "noop", strict: bool = False,
                 temperature: float = 0.0, max_nfe: int | None = None, max_episode_steps: int | None = None,
                 reward: Any = "multiplicative", alpha: float = 1.0,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP, group_size: int = 1,
                 first_group: int = 0, split: str = "train", num_prompts: int | None = None,
                 prompt_repeats: int = 1, prompt_shard: tuple[int, int] | None = None, top_k: int = 0,
                 observe_prompt: bool = False,
                 observe_hidden: bool = False, validate_actions: bool = True, compile_features: bool = False,
                 sync_free: bool = False, compile_step: bool | str = False,
                 device: str | torch.device | None = None) -> None:  # fmt: skip
        """Builds the env; every argument is checked by ``EnvConfig`` (see the argument table of docs/mdp.md)."""
        from unmask_gym.compat import register_info_conversions
        from unmask_gym.models import load_model, resolve_model_name
        from unmask_gym.tasks import resolve_task

        register_info_conversions()  # Gymnasium's NumpyToTorch & co. then pass text infos through unchanged

        arguments = dict(
            num_envs=num_envs, task=task, model=model, answer_length=answer_length,
            max_prompt_length=max_prompt_length, block_length=block_length, empty_action=empty_action, strict=strict,
            temperature=temperature, max_nfe=max_nfe, max_episode_steps=max_episode_steps, reward=reward, alpha=alpha,
            autoreset_mode=autoreset_mode, group_size=group_size, first_group=first_group, split=split,
            num_prompts=num_prompts, prompt_repeats=prompt_repeats, prompt_shard=prompt_shard, top_k=top_k,
            observe_prompt=observe_prompt,
            observe_hidden=observe_hidden, validate_actions=validate_actions, compile_features=compile_features,
            sync_free=sync_free, compile_step=compile_step, device=device,
        )  # fmt: skip
        config = EnvConfig(**arguments)  # value checks first, before the task or model load
        config = self.config = config.resolve(resolve_task(task))
        self.num_envs, self.task, self.device = config.num_envs, config.task, config.device
        self.answer_length, self.prompt_length = config.answer_length, config.max_prompt_length
        self.block_length, self.max_nfe, self.group_size = config.block_length, config.max_nfe, config.group_size
        self.temperature, self.top_k, self.empty_action = config.temperature, config.top_k, config.empty_action
        self.reward, self.alpha, self.strict = config.reward, config.alpha, config.strict
        self.autoreset_mode, self.split, self.num_prompts = config.autoreset_mode, config.split, config.num_prompts
        self.observe_prompt, self.observe_hidden = config.observe_prompt, config.observe_hidden
        self.validate_actions = config.validate_actions
        self.model = load_model(model if model is not None else resolve_model_name(self.task), device=self.device)
        check_model(config, self.model)

        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self.single_observation_space = observation_space(
            self.answer_length, self.model.vocab_size, self.max_nfe, self.num_blocks, self.top_k,
            self.prompt_length if self.observe_prompt else None, self.hidden_size,
        )  # fmt: skip
        self.single_action_space = action_space(self.answer_length)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        # sync_free scores finished episodes on the device where the task has token twins of its verifier
        # (references placed with their prompts); a text task is scored on the host, after the forward is queued.
        self._scores_on_device = config.sync_free and outputs.scores_on_device(self.task, self.model, self.reward)
        if config.compile_step is not False and not self._scores_on_device:
            why = "a callable reward reads the decoded texts" if callable(self.reward) else (
                f"task {self.task.name!r} is scored on the host")  # fmt: skip
            raise ValueError(f"compile_step compiles a step scored on the device, and here {why} (the built-in tasks "
                             f"under a named reward are scored on the device)")  # fmt: skip
        # The step of a task scored on the device is two pure functions around the forward (compiled on request).
        mode = {False: None, True: "default"}.get(config.compile_step, config.compile_step)
        self._device_step = DeviceStep(config, mode) if self._scores_on_device else None
        encode_reference = self._encode_reference if self._scores_on_device else None
        self._streams = PromptStreams(self.task, config.num_groups, self.split, self.num_prompts, self._encode_prompt,
                                      config.first_group, config.prompt_shard, config.prompt_repeats,
                                      encode_reference)  # fmt: skip
        self._seed = 0  # the reset seed, part of every sampled episode's noise key
        self._state: EnvState | None = None
        self._book: EpisodeBook | None = None
        self._autoreset_pending = np.zeros(self.num_envs, dtype=bool)  # NEXT_STEP: reset at the next step
        self._bank: PromptBank | None = None  # sync_free with SAME_STEP: the next episodes, on the device
        self._bank_age = 0  # steps since the bank was built
        self._closed = False

    @property
    def num_groups(self) -> int:
        """N / G prompt groups."""
        return self.config.num_groups

    @property
    def hidden_size(self) -> int:
        """D of the ``hidden`` observation (0 without ``observe_hidden``)."""
        return int(self.model.hidden_size) if self.observe_hidden else 0

    @property
    def num_blocks(self) -> int:
        """Number of semi-autoregressive blocks (1 in full diffusion)."""
        return 1 if self.block_length is None else self.answer_length // self.block_length

    @property
    def skipped_prompts(self) -> int:
        """Prompts of an endless stream skipped because they do not fit ``max_prompt_length`` (one warning).

        With ``sync_free=True`` the count includes the prompts the bank has drawn ahead of the running episodes.
        """
        return self._streams.skipped

    @property
    def prompts_remaining(self) -> int | None:
        """Prompts not yet started from a finite ``num_prompts`` list (None for endless streams)."""
        return self._streams.remaining

    @property
    def running(self) -> torch.Tensor:
        """(N,) bool, one per row: which slots hold a running episode (a copy).

        A tensor of N values, so loop on ``while env.running.any():`` (a finite prompt list is used up when no slot
        runs); ``while env.running:`` is ambiguous for N > 1 and torch refuses it.
        """
        self._check_ready()
        return self._state.running.clone()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Starts new episodes in every slot, or in the slots of ``options["reset_mask"]``.

        Args:
            seed: an int restarts the prompt streams (group g uses ``seed + g``) and keys the sampling noise
                (``temperature > 0``), including this reset's forward, so the same seed gives the same
                trajectories; None continues the current streams with the current seed.
            options: ``reset_mask``: (N,) bool array or tensor, the slots to reset (the others keep their
                state; this is how ``AutoresetMode.DISABLED`` resets finished slots). ``prompts``: N/G prompt
                strings, one per group, for this reset's episodes (checked by the task's ``check_prompt``);
                ``references``: their references (derived with the task's ``reference_for`` when omitted).
        """
        self._check_open()
        seed = validation.check_seed(seed)
        if options is not None and not isinstance(options, dict):
            raise TypeError(f"options must be a dict or None, got {options!r} of type {type(options).__name__}")
        options = dict(options or {})
        unknown = sorted(set(options) - {"reset_mask", "prompts", "references"})
        if unknown:
            raise ValueError(f"unknown reset options {unknown}; valid options are reset_mask, prompts, references")
        rows = validation.reset_rows(options.get("reset_mask"), self.num_envs)
        prompts = validation.reset_prompts(
            options.get("prompts"), options.get("references"), self.num_groups, self.task, self._encode_prompt
        )
        if len(rows) < self.num_envs and (self._state is None or seed is not None or prompts is not None):
            raise ValueError("reset_mask must select every slot on the first reset and when seed or prompts is given")
        if seed is None and self._state is None:
            seed = int(np.random.SeedSequence().entropy % 2**31)
        new_seed = self._seed if seed is None else seed
        if self._bank is not None:  # sync_free steps restarted episodes on the device: the host catches up first
            self._book = self._book_from_device()
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
                self.model.pad_token_id, self.top_k, self.device, self.hidden_size, self.block_length,
                self._scores_on_device,
            )  # fmt: skip
            no_rows = np.zeros(0, dtype=np.int64)
            state = dynamics.start_and_forward(state, book, rows, no_rows, self._streams, self.model, self.config,
                                               new_seed)  # fmt: skip
        except BaseException:
            self._streams.restore(snapshot)
            raise
        self._state, self._book, self._seed = state, book, new_seed
        if self.config.compile_step is not False:  # a compiled step keys its noise on a tensor, so that a new seed
            self._step_seed = torch.tensor(new_seed, device=self.device)  # is not a new graph
        else:
            self._step_seed = new_seed
        self._autoreset_pending[rows] = False
        if self.config.sync_free and self.autoreset_mode == AutoresetMode.SAME_STEP:
            self._bank = PromptBank.build(self._streams, book.episode_index, self.config, self.model, self.device)
            self._bank_age = 0
        return outputs.observation(state, self.config), outputs.step_info(state, self.config)

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
        state, book, config = self._state, self._book, self.config
        selected, device_check = validation.action_to_tensor(actions, self.num_envs, self.answer_length, self.device)
        # A host sync only when some check is on (strict, empty_action="error", 0/1 values of device actions).
        validation.check_selection(
            selected, state.action_mask, device_check if config.validate_actions else None, actions,
            strict=self.strict, empty_action=self.empty_action,
        )  # fmt: skip

        if config.sync_free and self._bank is not None and self._bank_age >= self._bank.lasts:
            self._bank = PromptBank.build(self._streams, state.episode_index.cpu().numpy(), config, self.model,
                                          self.device, previous=self._bank)  # fmt: skip  (the one sync in lasts steps)
            self._bank_age = 0
        if self._device_step is not None:  # sync_free, scored on the device: no host round trip
            new, observation, out = self._device_step(state, selected, self._bank, self.model, self._step_seed)
            self._state = new
            if self._bank is not None:
                self._bank_age += 1
            return observation, out.reward, out.terminated, out.truncated, out.info

        new, committed, done = dynamics.commit(state, selected, state.action_mask, config)
        truncated = dynamics.time_limit(new, done, config)  # (N,): Gymnasium's max_episode_steps, not the NFE budget
        ended = done | truncated
        ended_state = new.replace(running=new.running & ~ended)  # the finished episodes' last view
        if config.sync_free:
            # A host-scored task's finished answers start towards the host now; the host reads them (its one wait
            # of the step) once the forward is queued, so decoding and scoring overlap it on an accelerator.
            pending = HostCopy(torch.cat(
                [outputs.ending_columns(ended, committed, new, truncated), new.episode_index[:, None]], 1))
            new, next_book = self._advance_on_device(ended_state, committed, ended), book
            endings = self._score_on_host(pending.wait())
        else:
            new, next_book, endings = self._advance_on_host(book, new, ended_state, committed, truncated, ended)
        reward, end_info = outputs.end_info(ended_state, ended, endings, config)
        info = outputs.info_after_step(new, ended_state, ended, committed, end_info, len(endings.rows) > 0, config)
        if self.autoreset_mode != AutoresetMode.SAME_STEP:
            self._autoreset_pending = np.zeros(self.num_envs, dtype=bool)
            self._autoreset_pending[endings.rows] = self.autoreset_mode == AutoresetMode.NEXT_STEP
        self._state, self._book = new, next_book
        if self._bank is not None:  # counted once the step stands: a step that raises leaves the count as it was
            self._bank_age += 1
        return outputs.observation(new, config), reward, done.clone(), truncated.clone(), info

    def _advance_on_host(
        self, book: EpisodeBook, new: EnvState, ended_state: EnvState, committed: torch.Tensor,
        truncated: torch.Tensor, ended: torch.Tensor,
    ) -> tuple[EnvState, EpisodeBook, outputs.Endings]:  # fmt: skip
        """The step after the commit, steered by the host: restarts, the forward, decoding and scoring.

        One device -> host copy says which episodes ended, with their answers; the host draws the next prompts,
        picks the rows (and positions) to forward, and decodes the finished answers while the forward runs.
        """
        config = self.config
        host = outputs.ending_columns(ended, committed, new, truncated).cpu().numpy()  # the step's one host sync
        done_rows = np.flatnonzero(host[:, 0])  # every ended episode: terminated or truncated
        stay_rows = np.flatnonzero((host[:, 1] != 0) & (host[:, 0] == 0))  # committed and still running
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            reset_rows = done_rows
        else:
            reset_rows = np.flatnonzero(self._autoreset_pending)  # always empty with DISABLED
        snapshot = self._streams.snapshot(row // self.group_size for row in reset_rows)
        try:
            next_book = book.copy()
            next_book.advance(reset_rows, restart=False)
            stay_masked = host[stay_rows, 4:] == self.model.mask_token_id  # (len(stay_rows), L)
            new = dynamics.start_and_forward(ended_state, next_book, reset_rows, stay_rows, self._streams,
                                             self.model, config, self._seed, stay_masked)  # fmt: skip
            # Decoding and scoring come after the forward is queued: on an accelerator they overlap it.
            endings = outputs.score_episodes(book, done_rows, host, self.model, config)
        except BaseException:
            self._streams.restore(snapshot)
            raise
        return new, next_book, endings

    def _advance_on_device(self, ended_state: EnvState, committed: torch.Tensor, ended: torch.Tensor) -> EnvState:
        """The step after the commit with ``sync_free``: restarts from the prompt bank and the forward, no sync."""
        restarted, changed = restart_ended(ended_state, committed, ended, self._bank, self.config)
        return dynamics.forward_changed(restarted, changed, self.model, self.config, self._seed)

    def _book_from_device(self) -> EpisodeBook:
        """The host's book as the device's episodes left it (``sync_free``: one sync, at a reset)."""
        episode_index = self._state.episode_index.cpu().numpy().copy()
        book = self._book_of(episode_index, range(self.num_envs))
        book.episode_index, book.prompt_id = episode_index, self._state.prompt_id.cpu().numpy().copy()
        return book

    def _book_of(self, episode_index: np.ndarray, rows: Any) -> EpisodeBook:
        """A copy of the book whose ``rows`` hold the prompt and reference of their episode in ``episode_index``."""
        book = self._book.copy()
        for row in rows:
            episode = self._streams.get(row // self.group_size, int(episode_index[row]))  # kept: not yet released
            book.prompts[row], book.references[row] = episode.prompt, episode.reference
        return book

    def _score_on_host(self, host: np.ndarray) -> outputs.Endings:
        """``sync_free`` with a host-scored task: decodes and scores the episodes that ``host`` says ended.

        ``host`` (N, 5 + L): ``outputs.ending_columns`` and each row's episode index, which names its prompt and
        reference in the streams (the device advanced the book; the host's copy is not kept up to date).
        """
        columns, episode_index = host[:, :-1], host[:, -1]
        done_rows = np.flatnonzero(columns[:, 0])
        book = self._book_of(episode_index, done_rows)
        return outputs.score_episodes(book, done_rows, columns, self.model, self.config)

    def decode_answers(self, tokens: Any) -> list[str]:
        """The texts of answers (R, L) of token ids, as the info's ``completion`` holds them (up to the end token).

        With ``sync_free=True`` and a task scored on the device the info carries no texts: decode
        ``info["final_obs"]["tokens"][ended]`` here where you need them (one device -> host copy, when you ask).
        """
        rows = torch.as_tensor(tokens)
        if rows.dim() != 2 or rows.shape[1] != self.answer_length or rows.is_floating_point():
            raise ValueError(f"tokens must be integer ids of shape (R, L={self.answer_length}), got "
                             f"{tuple(rows.shape)} of dtype {rows.dtype}")  # fmt: skip
        return [decode_answer(self.model, row) for row in rows.tolist()]

    def close(self, **kwargs: Any) -> None:
        """Releases the state; later calls to ``step``/``reset`` raise RuntimeError."""
        self._state = None
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this UnmaskVectorEnv was closed; make a new one")

    def _check_ready(self) -> None:
        self._check_open()
        if self._state is None:
            raise RuntimeError("call reset() before step()")

    def _encode_reference(self, reference: Any) -> list[int]:
        """The reference's ids for scoring on the device (the task's ``reference_tokens``, at most L + 1)."""
        return self.task.reference_tokens(reference, self.answer_length + 1)

    def _encode_prompt(self, prompt: str) -> list[int]:
        """The prompt's ids; a ValueError naming the prompt and the limit if it does not fit ``max_prompt_length``."""
        tokens = encode_prompt(self.model, prompt)
        length = len(tokens)
        if length > self.prompt_length:
            raise ValueError(
                f"prompt {prompt!r} has {length} tokens, more than max_prompt_length={self.prompt_length} (from "
                f"task {self.task.name!r}; raise max_prompt_length to keep it)"
            )
        return tokens

