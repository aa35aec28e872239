"""Shared commit noise: one uniform per row against every position's probability (a random threshold on the logits)."""

from __future__ import annotations

import collections
import itertools
import math

import pytest
import torch

from unmask_gym.agents import LearnedPolicy, PolicyConfig, load_policy, log_prob, sample_action, save_checkpoint
from unmask_gym.agents.distribution import cut_probabilities, entropy, expected_commits, shared_log_prob
from unmask_gym.agents.grpo import GRPOConfig, GRPOTrainer
from unmask_gym.testing import CountingTask, FakeDiffusionLM

LOGITS = torch.tensor([[0.7, -1.2, 2.5, 0.1, -0.4]])
MASK = torch.tensor([[True, True, False, True, True]])  # position 2 has the highest logit but is not selectable
SELECTABLE = [0, 1, 3, 4]


def every_action() -> list[torch.Tensor]:
    """Every subset of the selectable positions, as (1, L) bool actions."""
    actions = []
    for bits in itertools.product((False, True), repeat=len(SELECTABLE)):
        action = torch.zeros_like(MASK)
        action[0, [position for position, bit in zip(SELECTABLE, bits, strict=True) if bit]] = True
        actions.append(action)
    return actions


def probability(action: torch.Tensor, fallback: torch.Tensor | None = None, logits: torch.Tensor = LOGITS) -> float:
    return log_prob(logits, action, MASK, fallback=fallback, noise="shared").exp().item()


@pytest.mark.parametrize("fallback", [None, torch.tensor([0])], ids=["no-fallback", "fallback"])
def test_shared_probabilities_are_a_distribution_over_the_top_k_sets(fallback):
    probabilities = {tuple(action[0].tolist()): probability(action, fallback) for action in every_action()}
    executable = {action: p for action, p in probabilities.items() if fallback is None or any(action)}
    assert sum(executable.values()) == pytest.approx(1.0, abs=1e-5)  # with a fallback, no empty action is executed
    order = sorted(SELECTABLE, key=lambda position: -LOGITS[0, position].item())  # 0, 3, 4, 1
    top_k = {tuple(position in order[:k] for position in range(5)) for k in range(len(order) + 1)}
    assert {action for action, p in probabilities.items() if p > 1e-5} <= top_k
    p = torch.sigmoid(LOGITS[0, order]).tolist()
    expected_pair = p[1] - p[2]  # the threshold between the 2nd and 3rd highest logits: {0, 3}
    assert probabilities[(True, False, False, True, False)] == pytest.approx(expected_pair, rel=1e-5)
    if fallback is None:
        assert probabilities[(False,) * 5] == pytest.approx(1 - p[0], rel=1e-5)
    else:  # the empty sample lands on position 0, the highest selectable logit: {0} takes its mass
        assert probabilities[(True, False, False, False, False)] == pytest.approx(1 - p[1], rel=1e-5)


def test_shared_samples_follow_their_log_probabilities():
    draws = 40_000
    logits, mask = LOGITS.expand(draws, -1), MASK.expand(draws, -1)
    actions = sample_action(logits, mask, generator=torch.Generator().manual_seed(0), noise="shared",
                            fallback_to_highest_logit=True)  # fmt: skip
    counts = collections.Counter(tuple(row.tolist()) for row in actions)
    for action, count in counts.items():
        assert count / draws == pytest.approx(probability(torch.tensor([action]), torch.tensor([0])), abs=0.01)
    # Each position keeps its marginal p_i = sigmoid(z_i), the same as under independent noise.
    marginals = actions.float().mean(0)[SELECTABLE]
    independent = sample_action(logits, mask, generator=torch.Generator().manual_seed(0)).float().mean(0)
    assert torch.allclose(marginals[1:], torch.sigmoid(LOGITS[0, SELECTABLE])[1:], atol=0.01)  # 0 gets the fallback
    assert torch.allclose(independent[SELECTABLE], torch.sigmoid(LOGITS[0, SELECTABLE]), atol=0.01)
    every_position = sample_action(torch.full((draws, 8), 2.0), torch.ones(draws, 8, dtype=torch.bool),
                                   generator=torch.Generator().manual_seed(1), noise="shared").all(1)  # fmt: skip
    assert every_position.float().mean().item() == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item(), abs=0.01)


def test_shared_entropy_and_expected_commits_match_the_enumerated_distribution():
    without = [probability(action) for action in every_action()]
    exact_entropy = -sum(p * math.log(p) for p in without if p > 1e-5)  # out of logit order: a 1e-6 floor
    assert entropy(LOGITS, MASK, noise="shared").item() == pytest.approx(exact_entropy, rel=1e-5)
    assert cut_probabilities(LOGITS, MASK).sum().item() == pytest.approx(1.0)
    with_fallback = [probability(action, torch.tensor([0])) for action in every_action()]  # the empty one counts 0
    exact_commits = sum(p * action.sum().item() for p, action in zip(with_fallback, every_action(), strict=True))
    assert expected_commits(LOGITS, MASK, noise="shared").item() == pytest.approx(exact_commits, rel=1e-5)
    assert entropy(LOGITS, MASK, noise="shared").item() < entropy(LOGITS, MASK).item()


def test_a_set_out_of_logit_order_keeps_a_finite_log_probability_and_gradient():
    logits = LOGITS.clone().requires_grad_()
    out_of_order = torch.tensor([[False, True, False, False, False]])  # commits the lowest logit, skips the others
    value = shared_log_prob(logits, out_of_order, MASK)
    assert value.exp().item() < 1e-5 and torch.isfinite(value).all()
    value.sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad[0, 1] > 0 and logits.grad[0, 0] < 0  # raise the committed one, lower the skipped one
    for action in every_action():  # no nan anywhere, empty and full sets included
        logits.grad = None
        log_prob(logits, action, MASK, fallback=torch.tensor([0]), noise="shared").sum().backward()
        assert torch.isfinite(logits.grad).all()


def test_unknown_noise_is_refused():
    with pytest.raises(ValueError, match="noise must be one of"):
        sample_action(LOGITS, MASK, noise="correlated")
    with pytest.raises(ValueError, match="commit_noise must be one of"):
        PolicyConfig(commit_noise="correlated")


def test_a_shared_noise_policy_commits_top_k_sets_and_keeps_its_noise_in_the_checkpoint(tmp_path):
    config = PolicyConfig(width=16, commit_noise="shared", features=("confidence", "masked", "step_frac"))
    trainer = GRPOTrainer(GRPOConfig(iterations=0, num_groups=2, group_size=2, block_length=None, device="cpu"),
                          config, task=CountingTask(6), model=FakeDiffusionLM())  # fmt: skip
    with torch.no_grad():
        for parameter in trainer.policy.parameters():
            parameter.add_(0.5 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(3)))
    save_checkpoint(tmp_path / "policy.pt", trainer.policy, trainer.env_kwargs)
    policy = load_policy(tmp_path / "policy.pt")
    assert isinstance(policy, LearnedPolicy) and policy.config.commit_noise == "shared"
    obs, _ = trainer.env.reset(seed=0)
    logits = policy.logits(obs)
    for _ in range(30):
        action = policy(obs)
        weakest = logits.masked_fill(~action, torch.inf).amin(1)
        strongest_skipped = logits.masked_fill(action | ~obs["action_mask"], -torch.inf).amax(1)
        assert (weakest > strongest_skipped).all()  # every row's commits are its top-k logits


def test_grpo_with_shared_noise_stores_shared_log_probabilities_and_learns_differently():
    def train(noise: str) -> GRPOTrainer:
        config = GRPOConfig(iterations=3, num_groups=4, group_size=4, block_length=None, device="cpu", alpha=2.0)
        trainer = GRPOTrainer(config, PolicyConfig(width=16, commit_noise=noise), task=CountingTask(6),
                              model=FakeDiffusionLM())  # fmt: skip
        list(trainer.run())
        return trainer

    shared, independent = train("shared"), train("independent")
    rollouts = shared.collect(seed=123)
    logits = shared.model(rollouts.features, rollouts.condition)
    again = log_prob(logits, rollouts.action, rollouts.action_mask, fallback=rollouts.fallback, noise="shared")
    assert torch.allclose(again, rollouts.old_log_prob, atol=1e-5)
    assert not torch.allclose(again, log_prob(logits, rollouts.action, rollouts.action_mask,
                                              fallback=rollouts.fallback), atol=1e-3)  # fmt: skip
    assert any(not torch.equal(a, b) for a, b in zip(shared.policy.parameters(), independent.policy.parameters(),
                                                        strict=True))  # fmt: skip


def test_grpo_refuses_a_kl_penalty_under_shared_noise():
    with pytest.raises(ValueError, match=r"kl_coef=0\.1 needs commit_noise='independent'"):
        GRPOTrainer(GRPOConfig(iterations=1, num_groups=2, group_size=2, block_length=None, device="cpu",
                               kl_coef=0.1), PolicyConfig(width=16, commit_noise="shared"), task=CountingTask(4),
                    model=FakeDiffusionLM())  # fmt: skip


def test_ppo_with_shared_noise_stores_shared_log_probabilities():
    from unmask_gym.agents.ppo import PPOConfig, PPOTrainer

    trainer = PPOTrainer(PPOConfig(iterations=1, num_envs=4, num_steps=6, device="cpu", block_length=None),
                         PolicyConfig(width=16, ff_width=32, commit_noise="shared"), task=CountingTask(6),
                         model=FakeDiffusionLM())  # fmt: skip
    rollout, _, _ = trainer.collect()
    flat = {name: getattr(rollout, name).flatten(0, 1) for name in ("features", "condition", "action_mask", "action",
                                                                     "fallback", "log_prob")}  # fmt: skip
    with torch.no_grad():
        logits, _ = trainer.agent(flat["features"], flat["condition"])
    shared = log_prob(logits, flat["action"], flat["action_mask"], fallback=flat["fallback"], noise="shared")
    assert torch.allclose(shared, flat["log_prob"], atol=1e-5)
    assert (flat["action"].sum(1) > 1).any()  # multi-position sets were drawn, where the two noises differ
    independent = log_prob(logits, flat["action"], flat["action_mask"], fallback=flat["fallback"])
    assert not torch.allclose(independent, flat["log_prob"], atol=1e-3)
