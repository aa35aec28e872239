"""The sync-free step of a task scored on the device: two pure functions around the dLLM forward.

``UnmaskVectorEnv(sync_free=True)`` with a task it scores on the device steps with no host round trip:
``before_forward`` commits the action, ends and scores episodes, restarts them from the prompt bank and builds the
step's reward and info; the dLLM runs on the canvases it returns; ``after_forward`` turns the logits into
features, keeps the prediction of the rows that did not change and builds the observation. Static shapes and no
host value anywhere, so ``torch.compile`` takes each half as one graph (``compile_step``; on CUDA,
``compile_step="reduce-overhead"`` captures them as CUDA graphs), and the eager env runs the very same functions.
Shapes: N envs, L answer positions, V vocabulary, D hidden size.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import torch

from unmask_gym import dynamics, outputs
from unmask_gym.bank import PromptBank, restart_ended
from unmask_gym.compiling import compile_or_eager
from unmask_gym.config import EnvConfig
from unmask_gym.state import EnvState


class BeforeForward(NamedTuple):
    """What ``before_forward`` returns: the state to forward and the step's outputs but the observation."""

    state: EnvState  # finished episodes restarted (SAME_STEP) or stopped; the prediction of the step before
    changed: torch.Tensor  # (N,) bool: rows whose canvas the step changed, the ones the forward's prediction is for
    reward: torch.Tensor  # (N,) float32
    terminated: torch.Tensor  # (N,) bool
    truncated: torch.Tensor  # (N,) bool
    info: dict[str, Any]


def before_forward(
    state: EnvState, selected: torch.Tensor, bank: PromptBank | None, model: Any, config: EnvConfig
) -> BeforeForward:
    """The step up to the forward: commit ``selected`` (N, L) bool, score, restart from ``bank``, build the info.

    Every row is scored (a row that did not end gets 0) and every finished row restarts from the bank, so nothing
    here depends on which rows ended: the host never looks.
    """
    new, committed, done = dynamics.commit(state, selected, state.action_mask, config)
    truncated = dynamics.time_limit(new, done, config)  # (N,): Gymnasium's max_episode_steps, not the NFE budget
    ended = done | truncated
    ended_state = new.replace(running=new.running & ~ended)  # the finished episodes' last view
    scores = outputs.device_scores(new, done, truncated, model, config)
    reward, end_info = outputs.end_info(ended_state, ended, None, config, scores)
    restarted, changed = restart_ended(ended_state, committed, ended, bank, config)
    info = outputs.info_after_step(restarted, ended_state, ended, committed, end_info, True, config)
    return BeforeForward(restarted, changed, reward, done.clone(), truncated.clone(), info)


def after_forward(
    state: EnvState, changed: torch.Tensor, logits: torch.Tensor, hidden: torch.Tensor | None, config: EnvConfig,
    seed: int | torch.Tensor, compiled: bool = False,
) -> tuple[EnvState, dict[str, torch.Tensor]]:  # fmt: skip
    """The step after the forward: the new state and its observation.

    The rows ``changed`` (N,) take their prediction from ``logits`` (N, L, V) (and ``hidden``); the others keep
    theirs. ``compiled``: this function runs inside ``torch.compile``, whose fusion the features share.
    """
    new = dynamics.predict_changed(state, changed, logits, hidden, config, seed, False if compiled else None)
    return new, outputs.observation(new, config)


class DeviceStep:
    """``before_forward``, the dLLM and ``after_forward`` as one call.

    With a ``mode`` each half goes through ``torch.compile`` in that mode (else both run eager). A half that fails
    to compile (no C++ compiler, an unsupported backend) runs eager from then on, with one warning.
    """

    def __init__(self, config: EnvConfig, mode: str | None = None) -> None:
        self.config, self.mode = config, mode
        self._before, self._after = before_forward, functools.partial(after_forward, compiled=mode is not None)
        if mode is not None:
            self._before = compile_or_eager(self._before, "compile_step", mode=mode)
            self._after = compile_or_eager(self._after, "compile_step", mode=mode)

    def __call__(
        self, state: EnvState, selected: torch.Tensor, bank: PromptBank | None, model: Any, seed: int | torch.Tensor
    ) -> tuple[EnvState, dict[str, torch.Tensor], BeforeForward]:
        """One step: the new state, its observation, and the rest of the step's outputs."""
        if self.mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # a new step: the graphs may reuse the last step's outputs
        before = self._before(state, selected, bank, model, self.config)
        logits, hidden = dynamics.model_pass(model, before.state.canvas, before.state.attention, self.config)
        new, observation = self._after(before.state, before.changed, logits, hidden, self.config, seed)
        return new, observation, before
