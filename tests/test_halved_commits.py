"""``benchmarks/halved_commits.py``: random halves of the confidence order, and shipped policies at beta 0.5."""

from __future__ import annotations

import pytest
import torch
from scripts import benchmark_script

from unmask_gym.agents.distribution import NOISES

halved_commits = benchmark_script("halved_commits")


def test_half_of_the_top_m_commits_only_among_them_about_half_of_the_time():
    confidence = torch.tensor([[0.9, 0.1, 0.8, 0.7, 0.2, 0.6]]).repeat(4000, 1)
    obs = {"confidence": confidence, "action_mask": torch.ones_like(confidence, dtype=torch.bool)}
    obs["action_mask"][:, 0] = False  # the most confident position is not selectable
    action = halved_commits.HalvedTopConfidence(3)(obs)
    offered = torch.tensor([False, False, True, True, False, True])  # 0.8, 0.7, 0.6
    assert not action[:, ~offered].any()
    # Each offered position w.p. 1/2, plus the top one (0.8) when none was drawn (1/8 of rows).
    rate = action.float().mean(0)
    assert abs(rate[2].item() - (0.5 + 0.5 / 4)) < 0.03 and abs(rate[3].item() - 0.5) < 0.03
    assert action.any(dim=1).all()
    again = halved_commits.HalvedTopConfidence(3)
    assert torch.equal(again(obs), action)  # seeded: a rerun draws the same coins


def test_a_halved_shipped_policy_keeps_its_weights_and_changes_only_beta_and_noise():
    name = halved_commits.per_alpha_sudoku_policies()[0]
    for noise in NOISES:
        policy = halved_commits.halved(name, noise)
        assert policy.beta == 0.5 and policy.config.commit_noise == noise
    original = halved_commits.load_policy(name)
    assert original.beta == 1.0 and original.config.commit_noise == "independent"
    for key, value in original.network.state_dict().items():
        assert torch.equal(policy.network.state_dict()[key], value)


def test_halves_of_the_confident_offer_only_positions_at_or_above_the_threshold():
    confidence = torch.tensor([[0.95, 0.5, 0.9, 0.2]]).repeat(4000, 1)
    obs = {"confidence": confidence, "action_mask": torch.ones_like(confidence, dtype=torch.bool)}
    action = halved_commits.HalvedTopConfidence(above=0.9)(obs)
    assert not action[:, [1, 3]].any() and action.any(dim=1).all()
    rate = action.float().mean(0)  # 0.95: drawn (1/2), or the fallback when neither is (1/4)
    assert abs(rate[0].item() - 0.75) < 0.03 and abs(rate[2].item() - 0.5) < 0.03
    with pytest.raises(ValueError, match="offer the top m or the positions above a confidence, one of them"):
        halved_commits.HalvedTopConfidence(2, above=0.9)
