"""Differential tests: ``UnmaskVectorEnv`` and ``UnmaskEnv`` against the plain-Python reference in ``reference.py``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode
from reference import ReferenceEpisode

from unmask_gym.env import UnmaskVectorEnv
from unmask_gym.prompts import prompt_hash
from unmask_gym.single_env import UnmaskEnv
from unmask_gym.testing import CountingTask, FakeDiffusionLM

NUM_ENVS, ANSWER_LENGTH = 4, 6


class CanvasAwareFakeLM(FakeDiffusionLM):
    """A fake dLLM whose predictions depend on the committed answer tokens, as a real dLLM's do.

    It predicts ``FakeDiffusionLM``'s target tokens with a strength that varies by position and canvas (so the
    most confident position is not always the leftmost one), plus a distractor token whose logit grows with the
    number of committed tokens (so later commits are sometimes wrong). A stale cached prediction, a forward over
    the wrong canvas or a wrong row would show in the observations.
    """

    def logits(
        self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Target logit ``1.3 + 0.35 ((5 j + c + s) % 11)``, distractor ``0.57 c`` (c committed ids of sum s)."""
        targets = super().logits(tokens, attention_mask, positions).argmax(-1)  # (R, L)
        logits = torch.zeros(tokens.shape[0], len(positions), self.vocab_size)  # (R, L, V)
        answer = tokens[:, positions]  # (R, L)
        for row in range(tokens.shape[0]):
            committed = [int(t) for t in answer[row] if int(t) != self.mask_token_id]
            count, total = len(committed), sum(committed)
            for j in range(len(positions)):
                # Strengths differ across positions (5 is prime to 11 and L <= 11), and 0.57 c never equals one.
                logits[row, j, targets[row, j]] = 1.3 + 0.35 * ((5 * j + count + total) % 11)
                logits[row, j, 3 + (j + count + total) % (self.vocab_size - 3)] += 0.57 * count
        return logits


MODELS = {"fake": FakeDiffusionLM, "canvas-aware": CanvasAwareFakeLM}

CONFIGS = {
    "full": {},
    "block-2": {"block_length": 2},
    "block-3": {"block_length": 3},
    "block-1": {"block_length": 1},
    "top-confidence": {"empty_action": "top_confidence"},
    "block-3-top-confidence": {"block_length": 3, "empty_action": "top_confidence"},
    "budget-3": {"max_nfe": 3},
    "budget-1": {"max_nfe": 1},
    "budget-4-block-2-top-confidence": {"max_nfe": 4, "block_length": 2, "empty_action": "top_confidence"},
    "budget-9-alpha-2": {"max_nfe": 9, "alpha": 2.0},
    "alpha-0": {"alpha": 0.0},
    "temperature-1": {"temperature": 1.0},
    "temperature-0.6-block-2-top-confidence": {"temperature": 0.6, "block_length": 2, "empty_action": "top_confidence"},
    "temperature-2-budget-4": {"temperature": 2.0, "max_nfe": 4},
    "top-k-3": {"top_k": 3},
    "top-k-3-temperature-1": {"top_k": 3, "temperature": 1.0},
}


def make_vector_env(model: Any, config: dict[str, Any], **kwargs: Any) -> UnmaskVectorEnv:
    """The env under test: 4 slots, L = 6, no autoreset unless ``kwargs`` say otherwise, on the CPU."""
    kwargs = {"autoreset_mode": AutoresetMode.DISABLED, **kwargs}
    return UnmaskVectorEnv(
        NUM_ENVS, task=CountingTask(ANSWER_LENGTH), model=model, device="cpu", **config, **kwargs
    )  # fmt: skip


def make_reference(env: UnmaskVectorEnv, row: int, config: dict[str, Any], seed: int) -> ReferenceEpisode:
    """The reference episode of the env's ``row`` (its current prompt), with its own model of the same kind."""
    prompt = env._book.prompts[row]
    return ReferenceEpisode(
        type(env.model)(), env.task, prompt, env.task.reference_for(prompt), answer_length=env.answer_length,
        prompt_length=env.prompt_length, seed=seed, member=row % env.group_size,
        draw=() if env.num_prompts is not None else (row // env.group_size, int(env._book.episode_index[row])),
        **config,
    )  # fmt: skip


def random_actions(rng: np.random.Generator) -> np.ndarray:
    """(N, L) random 0/1 actions over all positions (selected committed or closed ones must be ignored).

    The density varies per step, so empty rows (noop / top_confidence) and whole-answer commits both happen.
    """
    density = rng.choice([0.0, 0.15, 0.4, 1.0], p=[0.3, 0.3, 0.3, 0.1])
    return (rng.random((NUM_ENVS, ANSWER_LENGTH)) < density).astype(np.int8)


def assert_row_matches(observation: dict[str, torch.Tensor], row: int, reference: ReferenceEpisode) -> None:
    """One observation row equals the reference's observation (confidence up to float32 rounding)."""
    expected = reference.observation()
    for key in ("tokens", "masked", "action_mask", "pred_token"):
        assert observation[key][row].tolist() == expected[key], key
    assert observation["block"][row].item() == expected["block"]
    for key in ("confidence", "margin", "entropy"):
        np.testing.assert_allclose(observation[key][row].numpy(), expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(observation["step_frac"][row].numpy(), expected["step_frac"], rtol=1e-6)
    if reference.top_k:
        np.testing.assert_allclose(observation["top_k_probs"][row].numpy(), expected["top_k_probs"], atol=1e-6)
        # Tied probabilities may list their tokens in either order: check each listed token's probability instead.
        for j, (probs, _) in enumerate(reference.top_k_list):
            if not expected["masked"][j]:  # committed: its token in every slot
                assert observation["top_k_tokens"][row, j].tolist() == expected["top_k_tokens"][j]
                continue
            listed = [reference.distribution[j][int(v)] for v in observation["top_k_tokens"][row, j]]
            np.testing.assert_allclose(listed, probs, atol=1e-6)
            assert len(set(observation["top_k_tokens"][row, j].tolist())) == reference.top_k


def run_differential(model_name: str, config: dict[str, Any], seed: int, prompts: list[str] | None = None) -> list:
    """Drives the vector env and 4 reference episodes with the same actions, asserting equality at every step.

    Returns the env's trajectory: ``[(actions or None, obs, reward, terminated, info), ...]`` from the reset on.
    """
    env = make_vector_env(MODELS[model_name](), config)
    observation, info = env.reset(seed=seed, options=None if prompts is None else {"prompts": prompts})
    if prompts is not None:
        assert env._book.prompts == prompts
    references = [make_reference(env, row, config, seed) for row in range(NUM_ENVS)]
    for row, reference in enumerate(references):
        assert_row_matches(observation, row, reference)
    assert info["nfe"].tolist() == [0] * NUM_ENVS
    trajectory = [(None, observation, None, None, info)]
    rng = np.random.default_rng(seed)
    while any(reference.running for reference in references):
        actions = random_actions(rng)
        observation, reward, terminated, truncated, info = env.step(actions)
        trajectory.append((actions, observation, reward, terminated, info))
        assert not truncated.any()
        for row, reference in enumerate(references):
            if reference.running:
                expected_reward, expected_terminated = reference.step(actions[row].tolist())
            else:
                expected_reward, expected_terminated = 0.0, False  # a finished slot stays idle until reset
            assert_row_matches(observation, row, reference)
            assert reward[row].item() == pytest.approx(expected_reward, rel=1e-6, abs=1e-7)
            assert terminated[row].item() == expected_terminated
            assert info["nfe"][row].item() == reference.nfe
            assert info["_completion"][row] == expected_terminated
            if expected_terminated:
                assert info["completion"][row] == reference.completion
                assert info["score"][row].item() == reference.score
                assert info["unmask_step"][row].tolist() == reference.unmask_step
                assert info["nfe_budget_exhausted"][row].item() == any(reference.masked)
                assert info["episode"]["nfe"][row].item() == reference.nfe
        assert len(trajectory) <= env.max_nfe + 1
    assert env.model.rows == sum(reference.forwards for reference in references)
    return trajectory


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_the_vector_env_follows_the_reference_mdp_step_by_step(config_name: str, model_name: str, seed: int) -> None:
    run_differential(model_name, CONFIGS[config_name], seed)


@pytest.mark.parametrize("config_name", ["full", "block-3-top-confidence", "budget-3"])
def test_the_vector_env_follows_the_reference_mdp_on_given_prompts(config_name: str) -> None:
    prompts = ["6:123", "1:999", "4:270", "3:504"]
    run_differential("canvas-aware", CONFIGS[config_name], seed=5, prompts=prompts)


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_the_differential_runs_cover_rewards_budgets_and_empty_actions(model_name: str) -> None:
    rewards, budget_ends, empty_steps = [], 0, 0
    for config_name in ("full", "budget-3", "top-confidence"):
        for seed in range(3):
            for actions, _, reward, terminated, info in run_differential(model_name, CONFIGS[config_name], seed)[1:]:
                rewards += reward[terminated].tolist()
                budget_ends += int(info["nfe_budget_exhausted"].sum())
                empty_steps += int((actions == 0).all(1).sum())
    assert max(rewards) > 0.0  # some episodes are right, and the reward is not always 0
    assert min(rewards) == 0.0  # some are wrong
    assert budget_ends > 0
    assert empty_steps > 0


def test_the_canvas_aware_model_is_not_always_most_confident_on_the_left() -> None:
    model = CanvasAwareFakeLM()
    env = make_vector_env(model, {})
    observation, _ = env.reset(seed=0)
    assert (observation["confidence"].argmax(1) != 0).any()
    before = observation["confidence"].clone()
    observation, *_ = env.step(np.eye(NUM_ENVS, ANSWER_LENGTH, dtype=np.int8))  # one commit per row
    assert (observation["confidence"][:, 4:] != before[:, 4:]).all()  # predictions moved with the canvas


def test_the_reference_solves_a_prompt_in_one_step_with_full_reward() -> None:
    reference = ReferenceEpisode(FakeDiffusionLM(), CountingTask(6), "5:472", "47247", answer_length=6, prompt_length=6)
    assert reference.forwards == 1
    assert reference.observation()["action_mask"] == [True] * 6
    reward, terminated = reference.step([1] * 6)
    assert (reward, terminated) == (1.0, True)
    assert reference.completion == "47247"
    assert reference.forwards == 1  # no forward after the final commit


def test_the_reference_charges_an_nfe_for_a_noop_and_reuses_its_prediction() -> None:
    reference = ReferenceEpisode(
        FakeDiffusionLM(), CountingTask(4), "4:123", "1231", answer_length=4, prompt_length=6, block_length=2
    )
    assert reference.step([0, 0, 0, 0]) == (0.0, False)
    assert (reference.nfe, reference.forwards) == (1, 1)
    assert reference.step([0, 1, 1, 1]) == (0.0, False)  # only position 1 is in the open block
    assert reference.answer[2:] == [reference.model.mask_token_id] * 2
    assert (reference.block, reference.forwards) == (0, 2)
    assert reference.step([1, 1, 1, 1]) == (0.0, False)  # block 0 completes, block 1 opens
    assert (reference.block, reference.forwards) == (1, 3)
    assert reference.action_mask == [False, False, True, True]
    reward, terminated = reference.step([1, 1, 1, 1])
    assert terminated
    assert reward == pytest.approx(1 / 4)  # ((4 - 4 + 1) / 4) ** 1


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("config_name", ["full", "block-2", "top-confidence", "budget-3", "budget-9-alpha-2"])
def test_single_envs_given_the_same_prompts_replay_the_vector_envs_trajectories(config_name: str, seed: int) -> None:
    config = CONFIGS[config_name]
    trajectory = run_differential("canvas-aware", config, seed)
    first_observation = trajectory[0][1]
    prompts = _prompts_of(trajectory)
    for row in range(NUM_ENVS):
        env = UnmaskEnv(task=CountingTask(ANSWER_LENGTH), model=CanvasAwareFakeLM(), device="cpu", **config)
        observation, info = env.reset(seed=seed, options={"prompt": prompts[row]})
        _assert_single_row(observation, first_observation, row)
        assert info["prompt_id"] == prompt_hash(prompts[row])  # a given prompt's id is its text's hash
        for actions, vector_observation, reward, terminated, vector_info in trajectory[1:]:
            observation, single_reward, single_terminated, truncated, info = env.step(actions[row])
            _assert_single_row(observation, vector_observation, row)
            assert single_reward == reward[row].item()
            assert single_terminated == terminated[row].item()
            assert not truncated
            assert info["nfe"] == vector_info["nfe"][row].item()
            if single_terminated:
                assert info["completion"] == vector_info["completion"][row]
                assert info["unmask_step"].tolist() == vector_info["unmask_step"][row].tolist()
                break
        else:
            pytest.fail(f"row {row}'s single env never terminated")


def _prompts_of(trajectory: list) -> list[str]:
    """The prompt of each slot, read from the ``prompt`` info of the step its episode ended."""
    prompts: list[str | None] = [None] * NUM_ENVS
    for _, _, _, terminated, info in trajectory[1:]:
        for row in np.flatnonzero(terminated.numpy()):
            prompts[row] = info["prompt"][row]
    assert all(prompt is not None for prompt in prompts)
    return prompts


def _assert_single_row(single: dict[str, np.ndarray], vector: dict[str, torch.Tensor], row: int) -> None:
    """A ``UnmaskEnv`` observation equals row ``row`` of a vector observation, values and dtypes."""
    assert single.keys() == vector.keys()
    for key, value in single.items():
        expected = vector[key][row].numpy()
        assert isinstance(value, np.ndarray | np.generic), key
        assert value.dtype == expected.dtype, key
        np.testing.assert_array_equal(value, expected, err_msg=key)


def run_autoreset_differential(mode: AutoresetMode, group_size: int, config: dict[str, Any], seed: int,
                               steps: int = 30) -> int:  # fmt: skip
    """Drives an autoresetting env for ``steps`` steps against a fresh reference per episode; returns episodes ended.

    SAME_STEP: a finished row's last view is in ``final_obs``/``final_info`` and the returned row is the next
    episode's first observation. NEXT_STEP: the finished row's last view is returned, and the following step
    resets it (reward 0, action ignored). Members of a group must start their k-th episodes on the same prompt.
    """
    env = make_vector_env(CanvasAwareFakeLM(), config, autoreset_mode=mode, group_size=group_size)
    observation, info = env.reset(seed=seed)
    references = [make_reference(env, row, config, seed) for row in range(NUM_ENVS)]
    prompts_by_episode: dict[tuple[int, int], str] = {}
    pending_reset = [False] * NUM_ENVS
    rng, ended = np.random.default_rng(seed), 0
    for _ in range(steps):
        for row in range(NUM_ENVS):
            key = (row // group_size, int(info["episode_index"][row]))
            assert prompts_by_episode.setdefault(key, env._book.prompts[row]) == env._book.prompts[row]
            assert info["prompt_id"][row].item() == references[row].prompt_id
        actions = random_actions(rng)
        observation, reward, terminated, _, info = env.step(actions)
        for row in range(NUM_ENVS):
            if pending_reset[row]:  # NEXT_STEP: this step restarted the row
                assert (reward[row].item(), terminated[row].item()) == (0.0, False)
                references[row] = make_reference(env, row, config, seed)
                pending_reset[row] = False
                assert_row_matches(observation, row, references[row])
                continue
            expected_reward, expected_terminated = references[row].step(actions[row].tolist())
            assert reward[row].item() == pytest.approx(expected_reward, rel=1e-6, abs=1e-7)
            assert terminated[row].item() == expected_terminated
            if not expected_terminated:
                assert_row_matches(observation, row, references[row])
                continue
            ended += 1
            if mode == AutoresetMode.SAME_STEP:
                assert info["_final_obs"][row]
                assert_row_matches(info["final_obs"], row, references[row])
                assert info["final_info"]["completion"][row] == references[row].completion
                references[row] = make_reference(env, row, config, seed)
                assert_row_matches(observation, row, references[row])
            else:
                assert_row_matches(observation, row, references[row])
                assert info["completion"][row] == references[row].completion
                pending_reset[row] = True
    return ended


@pytest.mark.parametrize("group_size", [1, 2])
@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
@pytest.mark.parametrize("config_name", ["full", "block-3-top-confidence", "temperature-1", "top-k-3-temperature-1"])
def test_autoresetting_grouped_envs_follow_a_fresh_reference_per_episode(config_name, mode, group_size) -> None:
    assert run_autoreset_differential(mode, group_size, CONFIGS[config_name], seed=11) >= 8


def test_sampled_differential_runs_really_sample() -> None:
    greedy = run_differential("canvas-aware", CONFIGS["full"], seed=0)
    sampled = run_differential("canvas-aware", CONFIGS["temperature-1"], seed=0)
    assert not torch.equal(greedy[0][1]["pred_token"], sampled[0][1]["pred_token"])
