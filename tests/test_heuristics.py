"""Each heuristic's selection rule on hand-made observations, the registry and its errors."""

from __future__ import annotations

import math
import re

import pytest
import torch

from unmask_gym.heuristics import (
    EBSampler,
    FastDLLMFactor,
    FastDLLMThreshold,
    GiveUp,
    LeftToRight,
    RandomK,
    TokenMass,
    make_policy,
    policy_spec,
    top_k_confidence,
    top_k_entropy,
    top_k_margin,
)


def observation(confidence, action_mask=None, entropy=None, margin=None, step_frac=0.0, block=0, pred_token=None):
    confidence = torch.tensor(confidence, dtype=torch.float32)
    if confidence.ndim == 1:
        confidence = confidence[None]
    n, length = confidence.shape
    action_mask = torch.ones(n, length, dtype=torch.bool) if action_mask is None else torch.tensor(action_mask)
    if action_mask.ndim == 1:
        action_mask = action_mask[None]
    return {
        "confidence": confidence,
        "action_mask": action_mask,
        "masked": action_mask.clone(),
        "entropy": torch.zeros(n, length)
        if entropy is None
        else torch.tensor(entropy, dtype=torch.float32).reshape(n, length),
        "margin": confidence.clone()
        if margin is None
        else torch.tensor(margin, dtype=torch.float32).reshape(n, length),
        "step_frac": torch.full((n, 1), step_frac),
        "block": torch.full((n,), block),
        "pred_token": torch.arange(length).expand(n, length) if pred_token is None else torch.tensor(pred_token),
    }


def chosen(action: torch.Tensor) -> list[list[int]]:
    return [torch.nonzero(row).flatten().tolist() for row in action]


def test_top_k_confidence_takes_the_k_most_confident_selectable_positions():
    obs = observation([0.9, 0.2, 0.8, 0.99], action_mask=[True, True, True, False])
    assert chosen(top_k_confidence(2)(obs)) == [[0, 2]]


def test_ties_go_to_the_leftmost_position():
    obs = observation([0.5, 0.7, 0.7, 0.7])
    assert chosen(top_k_confidence(2)(obs)) == [[1, 2]]


def test_top_k_margin_and_entropy_use_their_own_scores():
    obs = observation([0.9, 0.9, 0.9], margin=[0.1, 0.5, 0.3], entropy=[0.2, 0.9, 0.1])
    assert chosen(top_k_margin(1)(obs)) == [[1]]
    assert chosen(top_k_entropy(1)(obs)) == [[2]]  # lowest entropy first


def test_k_larger_than_the_selectable_count_takes_them_all_and_no_more():
    obs = observation([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]], action_mask=[[False, True, False], [False, False, False]])
    assert chosen(top_k_confidence(3)(obs)) == [[1], []]


def test_the_linear_schedule_spreads_a_block_over_its_passes():
    policy = top_k_confidence(steps=3)
    obs = observation([0.9] * 8, action_mask=[True] * 4 + [False] * 4)
    assert len(chosen(policy(obs))[0]) == 2  # ceil(4 masked / 3 passes)
    obs = observation([0.9] * 8, action_mask=[False, False, True, True] + [False] * 4, step_frac=2 / 8)
    assert len(chosen(policy(obs))[0]) == 2  # last pass of the block: everything left
    obs = observation([0.9] * 8, action_mask=[False] * 4 + [True] * 4, step_frac=3 / 8, block=1)
    assert len(chosen(policy(obs))[0]) == 2  # a fresh block: ceil(4 / 3)


def test_left_to_right_takes_the_leftmost_selectable_positions():
    obs = observation([0.1, 0.9, 0.9, 0.9], action_mask=[False, True, True, True])
    assert chosen(LeftToRight(2)(obs)) == [[1, 2]]


def test_random_k_is_seeded_and_respects_the_action_mask():
    obs = observation([[0.5] * 6] * 50, action_mask=[[True, False] * 3] * 50)
    first, second = RandomK(2, seed=3)(obs), RandomK(2, seed=3)(obs)
    assert torch.equal(first, second)
    assert (first.sum(1) == 2).all() and not (first & ~obs["action_mask"]).any()
    assert len({tuple(row) for row in chosen(first)}) > 1


def test_fast_dllm_threshold_takes_everything_above_and_at_least_the_most_confident():
    obs = observation([[0.95, 0.5, 0.91, 0.99], [0.2, 0.4, 0.3, 0.1]])
    assert chosen(FastDLLMThreshold(0.9)(obs)) == [[0, 2, 3], [1]]
    assert chosen(FastDLLMThreshold(0.0)(obs)) == [[0, 1, 2, 3], [0, 1, 2, 3]]


def test_fast_dllm_threshold_with_everything_confident_commits_only_selectable_positions():
    obs = observation([0.99, 0.99, 0.99], action_mask=[True, False, True])
    assert chosen(FastDLLMThreshold(0.5)(obs)) == [[0, 2]]


def test_fast_dllm_factor_takes_the_passing_prefix():
    # sorted: 0.99 (n=1, always), 0.8: 3*0.2=0.6 <= 1 pass, 0.7: 4*0.3=1.2 > 1 fail -> 2; then 0.6 is not reached
    obs = observation([0.7, 0.99, 0.6, 0.8, 0.1])
    assert chosen(FastDLLMFactor(1.0)(obs)) == [[1, 3]]


def test_fast_dllm_factor_commits_the_last_candidate_when_it_is_the_first_failure():
    # sorted: 0.99, 0.9 (3*0.1=0.3 pass), 0.5 (4*0.5=2 > 1 fails, but it is the last masked one: committed)
    obs = observation([0.9, 0.5, 0.99])
    assert chosen(FastDLLMFactor(1.0)(obs)) == [[0, 1, 2]]


def test_fast_dllm_factor_with_nothing_confident_still_commits_one():
    obs = observation([0.1, 0.2, 0.15, 0.05])
    assert chosen(FastDLLMFactor(0.5)(obs)) == [[1]]


def test_eb_sampler_bounds_the_entropy_of_the_prefix_minus_its_largest():
    # confidence order: 3, 0, 2, 1; entropies in that order: 0.5, 0.1, 0.3, 0.05
    obs = observation([0.8, 0.2, 0.5, 0.9], entropy=[0.1, 0.05, 0.3, 0.5])
    # prefixes: {3}: 0; {3,0}: 0.6-0.5=0.1; {3,0,2}: 0.9-0.5=0.4; {all}: 0.95-0.5=0.45
    assert chosen(EBSampler(0.15)(obs)) == [[0, 3]]
    assert chosen(EBSampler(0.42)(obs)) == [[0, 2, 3]]
    assert chosen(EBSampler(0.5)(obs)) == [[0, 1, 2, 3]]
    assert chosen(EBSampler(0.0)(obs)) == [[3]]


def test_eb_sampler_with_gamma_zero_takes_one_position_plus_zero_entropy_ones():
    obs = observation([0.99, 0.99, 0.5, 0.4], entropy=[0.0, 0.0, 0.7, 0.8])
    assert chosen(EBSampler(0.0)(obs)) == [[0, 1, 2]]  # the largest entropy is not counted: one uncertain token
    obs = observation([0.9, 0.8, 0.7], entropy=[0.1, 0.2, 0.3])
    assert chosen(EBSampler(0.0)(obs)) == [[0]]


def test_token_mass_commits_a_tokens_most_confident_positions_up_to_scale_times_its_mass():
    # Token 7 at four positions (mass 0.5 + 0.3 + 0.2 + 0.2 = 1.2), token 5 at one (0.9); the last is not selectable.
    obs = observation([0.5, 0.3, 0.2, 0.2, 0.9, 0.95], action_mask=[True] * 5 + [False],
                      pred_token=[[7, 7, 7, 7, 5, 5]])  # fmt: skip
    assert chosen(TokenMass(0.75)(obs)) == [[0, 4]]  # rank 0 < 0.9; rank 1 is not < 0.9
    assert chosen(TokenMass(1.0)(obs)) == [[0, 1, 4]]  # ranks 0 and 1 < 1.2
    assert chosen(TokenMass(2.0)(obs)) == [[0, 1, 2, 4]]  # ties by position: rank 2 is position 2
    assert chosen(TokenMass(10.0)(obs)) == [[0, 1, 2, 3, 4]]  # never a position outside action_mask
    # Confidence rules cannot tell the same token from different ones: with distinct tokens every position is
    # the most confident of its own token and is committed.
    distinct = observation([0.5, 0.3, 0.2, 0.2, 0.9, 0.95], action_mask=[True] * 5 + [False])
    assert chosen(TokenMass(0.75)(distinct)) == [[0, 1, 2, 3, 4]]


def test_token_mass_writes_permutations_right_where_two_at_a_time_confidence_rules_fail():
    from unmask_gym import UnmaskVectorEnv

    env = UnmaskVectorEnv(32, task="permutation", block_length=None)
    obs, info = env.reset(seed=0)
    policy, correct, finished = TokenMass(0.75), [], 0
    while finished < 64:
        obs, _, terminated, _, info = env.step(policy(obs))
        finished += int(terminated.sum())
        correct += info["final_info"]["correct"][terminated].tolist() if terminated.any() else []
    # Every confidence rule's two-at-a-time setting is below 10% here (the hull's top-2 point: 0.078).
    assert sum(correct) / len(correct) > 0.95


def test_give_up_answers_at_once_rows_with_more_than_uncertain_open_positions_and_token_mass_the_others():
    # Row 0: three positions below 0.9 (0.5, 0.3, 0.2); row 1: one (0.5); the last position is never selectable.
    obs = observation([[0.5, 0.3, 0.2, 0.95, 0.99, 0.1], [0.5, 0.92, 0.95, 0.97, 0.99, 0.1]],
                      action_mask=[[True] * 5 + [False]] * 2, pred_token=[[7, 7, 7, 5, 6, 1], [7, 7, 7, 5, 6, 1]])
    assert chosen(GiveUp(2)(obs)) == [[0, 1, 2, 3, 4], chosen(TokenMass(0.75)(obs))[1]]
    assert chosen(GiveUp(3)(obs)) == chosen(TokenMass(0.75)(obs))  # not more than 3: both rows careful
    assert chosen(GiveUp(0)(obs)) == [[0, 1, 2, 3, 4]] * 2
    assert chosen(GiveUp(0, threshold=0.4)(obs))[1] == chosen(TokenMass(0.75)(obs))[1]  # nothing below 0.4
    # In blocks the count is the whole answer's: open positions in later blocks still give the row up.
    block = {**obs, "action_mask": torch.tensor([[True, True, False, False, False, False]] * 2)}
    assert chosen(GiveUp(2)(block)) == [[0, 1], chosen(TokenMass(0.75)(block))[1]]


def test_give_up_trades_the_long_permutations_for_passes_under_the_additive_reward():
    from unmask_gym.evaluation import evaluate, make_eval_env

    def run(spec):
        env = make_eval_env("permutation", num_envs=64, block_length=None, episodes=256)
        return evaluate(env, make_policy(spec))

    careful, graded, hasty = (run(f"give_up:uncertain={m}") for m in (16, 6, 0))
    assert careful.accuracy > 0.95 and hasty.mean_nfe == 1.0 and hasty.accuracy < 0.05
    # In between: the short multisets written right, the long ones answered in one pass.
    assert hasty.mean_nfe < graded.mean_nfe < careful.mean_nfe - 1.0
    assert 0.2 < graded.accuracy < careful.accuracy - 0.2


@pytest.mark.parametrize(
    "policy",
    [top_k_confidence(1), top_k_margin(2), top_k_entropy(1), LeftToRight(1), RandomK(1), FastDLLMThreshold(1.0),
     FastDLLMFactor(0.1), EBSampler(0.0), TokenMass(0.01), GiveUp(0), GiveUp(9)],
)  # fmt: skip
def test_every_heuristic_commits_at_least_one_position_per_sample_and_none_in_empty_rows(policy):
    obs = observation([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.5] * 4],
                      action_mask=[[True] * 4, [False, True, False, True], [False] * 4])  # fmt: skip
    action = policy(obs)
    assert action[:2].sum(1).min() >= 1 and not action[2].any()
    assert not (action & ~obs["action_mask"]).any()


def test_make_policy_parses_specs_and_policy_spec_round_trips():
    for spec in ["top_k_confidence:k=2", "fast_dllm_factor:factor=2.0", "eb_sampler:gamma=0.1", "left_to_right:k=3",
                 "top_k_entropy:k=1", "random_k:k=2", "token_mass:scale=0.5",
                 "give_up:uncertain=6,threshold=0.9,scale=0.75"]:  # fmt: skip
        assert policy_spec(make_policy(spec)) == spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown policy 'nope'; valid policies are ['eb_sampler', 'fast_dllm_factor'"),
        (
            "top_k_confidence:kk=2",
            "policy 'top_k_confidence' has no parameter 'kk'; valid parameters are ['k', 'steps']",
        ),
        ("top_k_confidence:k=two", "parameter 'k' of 'top_k_confidence' must be int, got 'two'"),
        ("top_k_confidence:k=0", "k must be >= 1, got 0"),
        ("random_k:k=-1", "k must be >= 1, got -1"),
        ("fast_dllm_threshold:threshold=1.5", "threshold must be in [0.0, 1.0], got 1.5"),
        ("fast_dllm_factor:factor=0", "factor must be in (0.0, inf], got 0.0"),
        ("eb_sampler:gamma=-1", "gamma must be a finite number >= 0.0, got -1.0"),
        ("token_mass:scale=0", "scale must be in (0.0, inf], got 0.0"),
        ("give_up:uncertain=-1", "uncertain must be >= 0, got -1"),
        ("give_up:uncertain=2.5", "parameter 'uncertain' of 'give_up' must be int, got '2.5'"),
        ("give_up:threshold=2", "threshold must be in [0.0, 1.0], got 2.0"),
    ],
)
def test_bad_policy_specs_get_clear_errors_listing_the_valid_choices(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_policy(spec)


def test_nan_parameters_are_refused():
    with pytest.raises(ValueError, match="threshold must be in"):
        FastDLLMThreshold(math.nan)
    with pytest.raises(TypeError, match="k must be an int"):
        LeftToRight(1.5)


@pytest.mark.parametrize("spec", ["top_k_confidence:k=2", "random_k:k=2", "left_to_right:k=1",
                                  "fast_dllm_threshold:threshold=0.9", "fast_dllm_factor:factor=1.0",
                                  "eb_sampler:gamma=0.1", "token_mass:scale=0.75",
                                  "give_up:uncertain=2"])  # fmt: skip
def test_heuristics_take_numpy_and_unbatched_observations_and_answer_in_kind(spec):
    import gymnasium as gym
    import numpy as np

    env = gym.make("UnmaskGym/Addition-v0")
    obs, _ = env.reset(seed=0)  # numpy, unbatched (L,)
    action = make_policy(spec)(obs)
    assert isinstance(action, np.ndarray) and action.shape == (12,) and action.dtype == np.bool_
    batched = {key: torch.as_tensor(value)[None] for key, value in obs.items()}
    assert np.array_equal(make_policy(spec)(batched)[0].numpy(), make_policy(spec)(obs))
    env.step(action)
    sampled = env.observation_space.sample()  # int8 masks, random values: still an action of the right shape
    assert make_policy(spec)(sampled).shape == (12,)


def test_renormalized_confidence_ranks_as_dreams_default_sampler_after_top_k_filtering():
    from unmask_gym.features import predict

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 200, generator=generator) * 3  # (N, L, V)
    prediction = predict(logits, top_k=50)
    obs = {"top_k_probs": prediction.top_k_probs, "confidence": prediction.confidence,
           "action_mask": torch.ones(3, 6, dtype=torch.bool), "masked": torch.ones(3, 6, dtype=torch.bool)}  # fmt: skip
    # Dream's maskgit_plus with top_k=50: keep the 50 largest logits, softmax over them, rank by the top probability
    dream = torch.softmax(logits.topk(50, dim=-1).values, dim=-1)[..., 0]  # (N, L)
    for k in (1, 2):
        action = make_policy(f"top_k_renormalized_confidence:k={k}")(obs)
        expected = torch.zeros_like(action).scatter_(1, dream.topk(k, dim=1).indices, True)
        assert torch.equal(action, expected)


def test_renormalized_confidence_differs_from_confidence_and_needs_the_top_k_observation():
    obs = {"confidence": torch.tensor([[0.5, 0.4]]), "action_mask": torch.ones(1, 2, dtype=torch.bool),
           "masked": torch.ones(1, 2, dtype=torch.bool),
           "top_k_probs": torch.tensor([[[0.5, 0.5], [0.4, 0.1]]])}  # renormalised: 0.5 and 0.8  # fmt: skip
    assert make_policy("top_k_confidence")(obs).tolist() == [[True, False]]
    assert make_policy("top_k_renormalized_confidence")(obs).tolist() == [[False, True]]
    del obs["top_k_probs"]
    with pytest.raises(ValueError, match=re.escape("reads the top_k_probs observation: build the env with top_k=K")):
        make_policy("top_k_renormalized_confidence")(obs)
    assert policy_spec(make_policy("top_k_renormalized_confidence:k=2")) == "top_k_renormalized_confidence:k=2"
