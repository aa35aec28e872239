"""GRPO's entropy bonus and KL penalty to the reference policy (the recipe study's regularisers)."""

from __future__ import annotations

import pytest
import torch

from unmask_gym.agents import GRPOConfig, GRPOTrainer, PolicyConfig
from unmask_gym.agents.distribution import bernoulli_kl
from unmask_gym.testing import CountingTask, FakeDiffusionLM

SMALL = PolicyConfig(width=16, ff_width=32)


def grpo(**overrides) -> GRPOTrainer:
    settings = {"iterations": 3, "num_groups": 2, "group_size": 4, "block_length": None, "device": "cpu",
                "alpha": 3.0, **overrides}  # fmt: skip
    return GRPOTrainer(GRPOConfig(**settings), SMALL, task=CountingTask(6), model=FakeDiffusionLM())


def parameters_after_one_iteration(**overrides) -> list[torch.Tensor]:
    trainer = grpo(**overrides)
    next(trainer.run())
    return [p.detach().clone() for p in trainer.policy.parameters()]


def test_bernoulli_kl_matches_the_closed_form_and_ignores_unselectable_positions():
    logits, reference = torch.tensor([[1.5, -0.5, 3.0]]), torch.tensor([[0.0, 2.0, -9.0]])
    mask = torch.tensor([[True, True, False]])
    p, q = torch.sigmoid(logits[0, :2]), torch.sigmoid(reference[0, :2])
    expected = (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).sum()
    assert torch.allclose(bernoulli_kl(logits, reference, mask), expected[None])
    assert torch.allclose(bernoulli_kl(logits, reference, mask, tau=2.0),
                          bernoulli_kl(logits / 2, reference / 2, mask))  # fmt: skip


def test_each_term_changes_the_update_and_zero_weights_leave_it_as_before():
    # Two epochs of two minibatches: the KL term's gradient is zero while the policy still equals its reference (the
    # first step), so only later steps can show it.
    steps = {"update_epochs": 2, "num_minibatches": 2}
    plain = parameters_after_one_iteration(**steps)
    same = parameters_after_one_iteration(entropy_coef=0.0, kl_coef=0.0, **steps)
    assert all(torch.equal(a, b) for a, b in zip(plain, same, strict=True))
    for overrides in ({"entropy_coef": 0.5}, {"kl_coef": 0.5}):
        changed = parameters_after_one_iteration(**overrides, **steps)
        moved = max((a - b).abs().max().item() for a, b in zip(plain, changed, strict=True))
        assert moved > 1e-4, (overrides, moved)  # a real change of the update, not float noise


def test_the_kl_reference_is_the_starting_policy_frozen_and_survives_resume(tmp_path):
    trainer = grpo(kl_coef=0.1, out=str(tmp_path), checkpoint_every=1, iterations=2)
    start = [p.detach().clone() for p in trainer.policy.parameters()]
    metrics = list(trainer.run())
    assert metrics[0]["reference_kl"] >= 0 and metrics[1]["reference_kl"] > 0  # the policy moved away from it
    assert all(torch.equal(a, b) for a, b in zip(start, trainer.reference.parameters(), strict=True))
    assert not any(p.requires_grad for p in trainer.reference.parameters())
    resumed = GRPOTrainer.resume(tmp_path, task=CountingTask(6), model=FakeDiffusionLM())
    assert all(torch.equal(a, b) for a, b in zip(start, resumed.reference.parameters(), strict=True))


@pytest.mark.parametrize("name", ["entropy_coef", "kl_coef"])
def test_negative_weights_are_refused(name):
    with pytest.raises(ValueError, match=f"{name} must be >= 0, got -0.1"):
        GRPOConfig(**{name: -0.1})


def test_without_length_normalisation_an_episode_counts_as_the_sum_of_its_steps():
    from unmask_gym.agents.grpo import clipped_surrogate_loss, step_weights

    # Two episodes: A = +1 over 2 steps, A = -1 over 4 steps; at ratio 1 the loss is -sum_t w_t A_t log-ratio...
    nfe = torch.tensor([2, 2, 4, 4, 4, 4])
    advantages = torch.tensor([1.0, 1.0, -1.0, -1.0, -1.0, -1.0])
    old = torch.zeros(6)
    new = torch.zeros(6, requires_grad=True)
    clipped_surrogate_loss(new, old, advantages, step_weights(nfe, False), 0.5).backward()
    assert torch.allclose(new.grad, -advantages / 6)  # every step weighs the same: the sum over an episode's steps
    new.grad = None
    clipped_surrogate_loss(new, old, advantages, step_weights(nfe), 0.5).backward()
    assert torch.allclose(new.grad, -advantages / nfe / 2)  # every episode weighs 1 (the default)
    # Adam's first step is about lr * sign(gradient) per parameter, so the weighting shows from the second on.
    plain, summed = grpo(), grpo(length_normalized=False)
    for trainer in (plain, summed):
        list(trainer.run())
    pairs = zip(plain.policy.parameters(), summed.policy.parameters(), strict=True)
    assert max((a - b).abs().max().item() for a, b in pairs) > 1e-5


def test_the_entropy_bonus_decays_to_zero_over_the_last_fraction_of_the_run():
    trainer = grpo(iterations=8, entropy_coef=0.4, entropy_decay=0.5)  # constant for 4 updates, then down to 0
    weights = []
    for iteration in range(8):
        trainer.iteration = iteration
        weights.append(trainer.entropy_weight())
    assert weights == pytest.approx([0.4, 0.4, 0.4, 0.4, 0.3, 0.2, 0.1, 0.0])
    assert grpo(entropy_coef=0.4).entropy_weight() == 0.4  # no decay: constant
    # The last update of a decaying run is the plain one: the same parameters as a run without the bonus.
    decayed = grpo(iterations=1, entropy_coef=0.5, entropy_decay=1.0)
    next(decayed.run())
    plain = grpo(iterations=1)
    next(plain.run())
    assert all(torch.equal(a, b) for a, b in zip(plain.policy.parameters(), decayed.policy.parameters(), strict=True))
    constant = grpo(iterations=1, entropy_coef=0.5)
    next(constant.run())  # without the decay the same update does move differently
    assert not all(torch.equal(a, b) for a, b in zip(plain.policy.parameters(), constant.policy.parameters(),
                                                        strict=True))  # fmt: skip
    with pytest.raises(ValueError, match="entropy_decay must be a fraction of the iterations in \\[0, 1\\], got 2"):
        GRPOConfig(entropy_decay=2)
