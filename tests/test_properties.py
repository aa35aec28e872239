"""Hypothesis properties of ``UnmaskVectorEnv`` over random configurations and random valid action sequences."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from unmask_gym.env import UnmaskVectorEnv
from unmask_gym.testing import CountingTask, FakeDiffusionLM

# derandomize: the same 25 examples every run, so CI never fails by luck (set it False locally to explore)
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


@dataclass
class Rollout:
    """A random configuration and a random action sequence for it."""

    num_envs: int
    answer_length: int
    block_length: int | None
    empty_action: str
    max_nfe: int
    alpha: float
    autoreset_mode: AutoresetMode
    seed: int
    actions: list[np.ndarray]  # (N, L) bool each


@st.composite
def rollouts(draw: st.DrawFn) -> Rollout:
    """Configurations with N in 1..4, L in 2..8, any divisor of L (or None) as block, budgets 1..2L."""
    num_envs = draw(st.integers(1, 4))
    answer_length = draw(st.integers(2, 8))
    divisors = [d for d in range(1, answer_length + 1) if answer_length % d == 0]
    num_steps = draw(st.integers(1, 14))
    return Rollout(
        num_envs=num_envs,
        answer_length=answer_length,
        block_length=draw(st.sampled_from([None, *divisors])),
        empty_action=draw(st.sampled_from(["noop", "top_confidence"])),
        max_nfe=draw(st.integers(1, 2 * answer_length)),
        alpha=draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])),
        autoreset_mode=draw(st.sampled_from([AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])),
        seed=draw(st.integers(0, 2**20)),
        actions=draw(st.lists(arrays(np.bool_, (num_envs, answer_length)), min_size=num_steps, max_size=num_steps)),
    )


@dataclass
class Transition:
    """One step, with each row's observation split into the episode it continued and the one it started.

    ``end`` is the observation at the end of the step of the episode each row played before the step (the
    ``final_obs`` row for a SAME_STEP row that ended, else the returned row); ``ended_info`` the matching info.
    ``started`` marks rows whose returned observation begins a new episode (its ``before`` row is then not
    part of that episode). ``calls``/``rows`` count the model's forward passes and rows during the step.
    """

    before: dict[str, torch.Tensor]
    action: np.ndarray
    after: dict[str, torch.Tensor]
    end: dict[str, torch.Tensor]
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    info: dict[str, Any]
    ended_info: dict[str, Any]
    started: np.ndarray
    calls: int
    rows: int


@dataclass
class Trace:
    """An env and everything a rollout returned."""

    env: UnmaskVectorEnv
    reset_observation: dict[str, torch.Tensor]
    reset_calls: int
    reset_rows: int
    transitions: list[Transition]


def roll_out(rollout: Rollout) -> Trace:
    """Runs the rollout's actions on a fresh env over the fake dLLM, recording every transition."""
    model = FakeDiffusionLM()
    env = UnmaskVectorEnv(
        rollout.num_envs, task=CountingTask(rollout.answer_length), model=model, block_length=rollout.block_length,
        empty_action=rollout.empty_action, max_nfe=rollout.max_nfe, alpha=rollout.alpha,
        autoreset_mode=rollout.autoreset_mode, device="cpu",
    )  # fmt: skip
    observation, _ = env.reset(seed=rollout.seed)
    trace = Trace(env, observation, model.calls, model.rows, [])
    pending = np.zeros(rollout.num_envs, dtype=bool)  # NEXT_STEP: rows that ended at the previous step
    for action in rollout.actions:
        calls, rows = model.calls, model.rows
        after, reward, terminated, truncated, info = env.step(action)
        ended = terminated.numpy()
        if rollout.autoreset_mode == AutoresetMode.SAME_STEP:
            started = ended.copy()
            end, ended_info = after, info
            if ended.any():
                assert info["_final_obs"].tolist() == ended.tolist()
                end = {key: _rows_where(ended, info["final_obs"][key], value) for key, value in after.items()}
                ended_info = info["final_info"]
        else:
            started, end, ended_info = pending.copy(), after, info
            pending = ended.copy()
        trace.transitions.append(Transition(
            observation, action, after, end, reward, terminated, truncated, info, ended_info, started,
            model.calls - calls, model.rows - rows,
        ))  # fmt: skip
        observation = after
    return trace


def _rows_where(rows: np.ndarray, chosen: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``chosen`` on ``rows``, ``other`` elsewhere."""
    index = torch.as_tensor(rows).reshape(-1, *[1] * (chosen.dim() - 1))
    return torch.where(index, chosen, other)


def continuing(transition: Transition) -> np.ndarray:
    """(N,) rows whose ``before`` and ``end`` observations belong to one running episode (the rows that stepped).

    A running row always has a selectable position, so these are the rows whose ``before`` action_mask is not
    empty; a NEXT_STEP row waiting for its reset has none.
    """
    return transition.before["action_mask"].any(1).numpy()


# ------------------------------------------------------------------------------------------------ properties
@PROPERTY_SETTINGS
@given(rollouts())
def test_committed_tokens_never_change_within_an_episode(rollout: Rollout) -> None:
    trace = roll_out(rollout)
    for transition in trace.transitions:
        for row in np.flatnonzero(continuing(transition)):
            committed = ~transition.before["masked"][row]
            before_tokens, end_tokens = transition.before["tokens"][row], transition.end["tokens"][row]
            assert torch.equal(end_tokens[committed], before_tokens[committed])
            still_committed = ~transition.end["masked"][row]
            assert torch.equal(transition.end["pred_token"][row][still_committed], end_tokens[still_committed])


@PROPERTY_SETTINGS
@given(rollouts())
def test_only_positions_inside_action_mask_get_committed_and_an_empty_selection_follows_empty_action(
    rollout: Rollout,
) -> None:
    trace = roll_out(rollout)
    for transition in trace.transitions:
        for row in np.flatnonzero(continuing(transition)):
            newly = transition.before["masked"][row] & ~transition.end["masked"][row]
            allowed = transition.before["action_mask"][row]
            chosen = torch.as_tensor(transition.action[row]) & allowed
            if chosen.any() or rollout.empty_action == "noop":
                assert torch.equal(newly, chosen)
            else:  # top_confidence: exactly the most confident selectable position
                assert newly.sum() == 1
                confidence = transition.before["confidence"][row].masked_fill(~allowed, -1.0)
                assert newly.nonzero()[0, 0].item() == confidence.argmax().item()


@PROPERTY_SETTINGS
@given(rollouts())
def test_the_masked_count_never_rises_within_an_episode_and_a_new_episode_starts_fully_masked(
    rollout: Rollout,
) -> None:
    trace = roll_out(rollout)
    mask_token_id = trace.env.model.mask_token_id
    assert trace.reset_observation["masked"].all()
    for transition in trace.transitions:
        before_count, end_count = transition.before["masked"].sum(1), transition.end["masked"].sum(1)
        rows = torch.as_tensor(continuing(transition))
        assert (end_count[rows] <= before_count[rows]).all()
        for row in np.flatnonzero(transition.started):
            assert transition.after["masked"][row].all()
            assert (transition.after["tokens"][row] == mask_token_id).all()
            assert transition.after["step_frac"][row].item() == 0.0
            assert transition.reward[row].item() == 0.0 or rollout.autoreset_mode == AutoresetMode.SAME_STEP


@PROPERTY_SETTINGS
@given(rollouts())
def test_action_mask_lies_inside_masked_and_inside_one_block_and_is_empty_only_for_ended_episodes(
    rollout: Rollout,
) -> None:
    trace = roll_out(rollout)
    block_length = rollout.block_length or rollout.answer_length
    positions = torch.arange(rollout.answer_length)
    observations = [(trace.reset_observation, np.ones(rollout.num_envs, dtype=bool))]
    for transition in trace.transitions:
        running_after = ~(transition.terminated.numpy() & (rollout.autoreset_mode == AutoresetMode.NEXT_STEP))
        observations += [(transition.after, running_after), (transition.end, ~transition.terminated.numpy())]
    for observation, running in observations:
        action_mask, masked = observation["action_mask"], observation["masked"]
        assert not (action_mask & ~masked).any()
        assert action_mask.any(1).tolist() == running.tolist()
        block_of = positions // block_length  # (L,)
        assert (~action_mask | (block_of[None, :] == observation["block"][:, None])).all()
        first_masked_block = torch.where(masked.any(1), masked.int().argmax(1), rollout.answer_length - 1)
        assert observation["block"].tolist() == (first_masked_block // block_length).tolist()


@PROPERTY_SETTINGS
@given(rollouts())
def test_the_model_runs_one_forward_per_step_over_exactly_the_rows_that_committed_or_started(
    rollout: Rollout,
) -> None:
    trace = roll_out(rollout)
    assert (trace.reset_calls, trace.reset_rows) == (1, rollout.num_envs)
    for transition in trace.transitions:
        committed = (transition.end["masked"].sum(1) < transition.before["masked"].sum(1)).numpy()
        changed = committed & continuing(transition) & ~transition.terminated.numpy()
        expected_rows = int(changed.sum() + transition.started.sum())
        assert transition.rows == expected_rows
        assert transition.calls == (1 if expected_rows else 0)


@PROPERTY_SETTINGS
@given(rollouts())
def test_episodes_end_within_max_nfe_steps_and_nfe_counts_every_step(rollout: Rollout) -> None:
    trace = roll_out(rollout)
    steps = np.zeros(rollout.num_envs, dtype=np.int64)  # steps of each row's current episode
    for transition in trace.transitions:
        rows = continuing(transition)
        steps[rows] += 1
        ended = transition.terminated.numpy()
        assert not transition.truncated.any()
        assert not (ended & ~rows).any()  # only a running episode can end
        assert (steps <= rollout.max_nfe).all()
        assert ended[(steps == rollout.max_nfe) & rows].all()
        assert transition.ended_info["nfe"][ended].tolist() == steps[ended].tolist()
        assert ("episode" in transition.info) == ended.any()  # top-level info, as Gymnasium's statistics wrapper
        if ended.any():
            assert transition.info["_episode"].tolist() == ended.tolist()
            assert transition.info["episode"]["l"][ended].tolist() == steps[ended].tolist()
        exhausted = transition.end["masked"].any(1).numpy()
        assert transition.ended_info["nfe_budget_exhausted"][ended].tolist() == exhausted[ended].tolist()
        assert ended[~exhausted & rows].all()  # a row with no masked position left has ended
        steps[transition.started] = 0
        running = ~ended if rollout.autoreset_mode == AutoresetMode.NEXT_STEP else np.ones_like(ended)
        assert transition.info["nfe"][running].tolist() == steps[running].tolist()
        expected_frac = torch.as_tensor(steps, dtype=torch.float32)[running] / rollout.answer_length
        assert torch.equal(transition.after["step_frac"][torch.as_tensor(running), 0], expected_frac)


@PROPERTY_SETTINGS
@given(rollouts())
def test_every_observation_row_lies_in_the_single_observation_space_with_its_dtypes(rollout: Rollout) -> None:
    trace = roll_out(rollout)
    space = trace.env.single_observation_space
    observations = [trace.reset_observation]
    for transition in trace.transitions:
        observations += [transition.after, transition.end]
    for observation in observations:
        assert observation.keys() == space.spaces.keys()
        assert trace.env.observation_space.contains({key: value.numpy() for key, value in observation.items()})
        for row in range(rollout.num_envs):
            row_observation = {key: value[row].numpy() for key, value in observation.items()}
            for key, value in row_observation.items():
                assert value.dtype == space[key].dtype, key
                assert value.shape == space[key].shape, key
            assert space.contains(row_observation)


@PROPERTY_SETTINGS
@given(rollouts())
def test_rewards_are_finite_zero_before_the_end_and_equal_the_multiplicative_formula_at_the_end(
    rollout: Rollout,
) -> None:
    trace = roll_out(rollout)
    task, length = trace.env.task, rollout.answer_length
    for transition in trace.transitions:
        reward, ended = transition.reward, transition.terminated.numpy()
        assert reward.dtype == torch.float32
        assert torch.isfinite(reward).all()
        assert (reward[torch.as_tensor(~ended)] == 0).all()
        info = transition.ended_info
        for row in np.flatnonzero(ended):
            score = float(info["completion"][row] == task.reference_for(info["prompt"][row]))
            nfe = info["nfe"][row].item()
            expected = score * ((length - min(nfe, length) + 1) / length) ** rollout.alpha
            assert math.isclose(reward[row].item(), expected, rel_tol=1e-6, abs_tol=1e-7)
            assert info["score"][row].item() == score
            assert info["correct"][row].item() == (score == 1.0)
            assert transition.info["episode"]["r"][row].item() == reward[row].item()
