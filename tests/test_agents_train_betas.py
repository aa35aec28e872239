"""Training at the evaluation knob: ``GRPOConfig.train_betas`` samples groups with p' = beta * p."""

from __future__ import annotations

import math
import re

import pytest
import torch

from unmask_gym.agents import GRPOConfig, GRPOTrainer, PolicyConfig, UnmaskingPolicy, log_prob
from unmask_gym.agents.distribution import sample_action
from unmask_gym.testing import CountingTask, FakeDiffusionLM

SMALL = PolicyConfig(width=16, ff_width=32)


def small_trainer(**overrides) -> GRPOTrainer:
    settings = {"iterations": 2, "num_groups": 4, "group_size": 3, "block_length": None, "device": "cpu", **overrides}
    return GRPOTrainer(GRPOConfig(**settings), SMALL, task=CountingTask(6), model=FakeDiffusionLM())


def bernoulli_log_prob(p: torch.Tensor, action: torch.Tensor) -> float:
    return float(torch.where(action, p, 1 - p).log().sum())


@pytest.mark.parametrize("beta", [0.25, 0.5, 1.0])
def test_the_log_prob_at_a_beta_is_that_of_the_scaled_bernoullis(beta):
    logits = torch.tensor([[2.0, -1.0, 0.5, 8.0]])
    action = torch.tensor([[True, False, False, True]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    p = beta * torch.sigmoid(logits[0])
    got = log_prob(logits, action, mask, beta=torch.tensor([beta]))
    assert got.item() == pytest.approx(bernoulli_log_prob(p, action[0]), rel=1e-5)
    # With a fallback the executed {j} adds the empty sample: prod_{i != j} (1 - beta p_i).
    single = torch.tensor([[False, False, False, True]])
    fallback = log_prob(logits, single, mask, fallback=torch.tensor([3]), beta=torch.tensor([beta]))
    assert fallback.item() == pytest.approx(float((1 - p[:3]).log().sum()), rel=1e-5)


def test_beta_one_gives_the_plain_log_prob_and_its_gradient():
    logits = torch.tensor([[3.0, -2.0, 0.1], [40.0, -40.0, 0.0]], requires_grad=True)
    action = torch.tensor([[True, False, True], [True, False, False]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    plain = log_prob(logits, action, mask)
    (plain_grad,) = torch.autograd.grad(plain.sum(), logits)
    scaled = log_prob(logits, action, mask, beta=torch.ones(2))
    (scaled_grad,) = torch.autograd.grad(scaled.sum(), logits)
    assert torch.allclose(plain, scaled) and torch.allclose(plain_grad, scaled_grad)
    assert torch.isfinite(scaled_grad).all()


def test_a_beta_below_one_is_refused_under_shared_noise():
    logits, mask = torch.zeros(1, 2), torch.ones(1, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="beta scales independent draws only"):
        log_prob(logits, mask, mask, noise="shared", beta=torch.tensor([0.5]))
    with pytest.raises(ValueError, match=re.escape("train_betas=(0.5, 1.0) scale independent draws")):
        GRPOTrainer(GRPOConfig(train_betas=(0.5, 1.0), block_length=None, device="cpu"),
                     PolicyConfig(width=16, ff_width=32, commit_noise="shared"), task=CountingTask(6),
                     model=FakeDiffusionLM())  # fmt: skip


def test_sampling_at_a_row_beta_commits_that_share_of_certain_positions():
    logits = torch.full((2, 4000), 30.0)  # p = 1: the commits are beta's alone
    mask = torch.ones_like(logits, dtype=torch.bool)
    action = sample_action(logits, mask, beta=torch.tensor([[0.5], [1.0]]), generator=torch.Generator().manual_seed(0))
    half, every = action.float().mean(1).tolist()
    assert every == 1.0 and abs(half - 0.5) < 0.03


@pytest.mark.parametrize(("betas", "message"), [
    ((0.5, 1.5), "train_betas must be one or more numbers in (0, 1]"),
    ((0.0,), "train_betas must be one or more numbers in (0, 1]"),
    ((), "train_betas must be one or more numbers in (0, 1]"),
    (("half",), "train_betas must be numbers in (0, 1], got ('half',)"),
])  # fmt: skip
def test_bad_train_betas_are_refused(betas, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        GRPOConfig(train_betas=betas)


def test_train_betas_from_the_cli_and_a_checkpoint_become_floats():
    assert GRPOConfig(train_betas=("0.5", "1")).train_betas == (0.5, 1.0)
    assert GRPOConfig(train_betas=[0.5]).train_betas == (0.5,)


def test_each_group_samples_and_is_scored_at_one_drawn_beta():
    trainer = small_trainer(train_betas=(0.25, 1.0))
    rollouts = trainer.collect(seed=3)
    by_group = rollouts.beta.view(4, 3)
    assert (by_group == by_group[:, :1]).all()  # every member of a group shares its beta
    assert set(rollouts.beta.tolist()) <= {0.25, 1.0}
    assert torch.equal(by_group[:, 0], trainer.group_betas(3))
    # The stored log-probabilities are those of the distribution each row sampled from.
    with torch.no_grad():
        logits = trainer.policy(rollouts.features, rollouts.condition)
    fallback = trainer._fallback(logits, rollouts.action_mask, rollouts.fallback)
    again = log_prob(logits, rollouts.action, rollouts.action_mask, fallback=fallback,
                     beta=rollouts.beta[rollouts.episode])  # fmt: skip
    assert torch.allclose(again, rollouts.old_log_prob, atol=1e-5)
    draws = torch.cat([trainer.group_betas(seed) for seed in range(50)])
    assert 0.3 < (draws == 0.25).float().mean().item() < 0.7  # both betas are drawn


def test_at_beta_one_the_rollouts_and_training_are_those_of_the_paper():
    assert small_trainer().group_betas(0) is None
    default, explicit = small_trainer(), small_trainer(train_betas=(1.0,))
    list(default.run()), list(explicit.run())
    assert all(torch.equal(a, b) for a, b in zip(default.policy.parameters(), explicit.policy.parameters(),
                                                 strict=True))  # fmt: skip


def test_the_update_scores_actions_at_the_beta_they_were_sampled_with():
    # One epoch of one minibatch: the update's log-probabilities come from the policy that collected, so the ratio
    # is exactly 1 (approx-KL 0) only if the update uses each episode's own beta as the collection did.
    metrics = list(small_trainer(train_betas=(0.5,), iterations=3).run())
    learned = [m for m in metrics if m["skipped_update"] == 0.0]
    assert learned and all(m["approx_kl"] < 1e-7 and math.isfinite(m["loss"]) for m in learned)
    trainer = small_trainer(train_betas=(0.5,))
    rollouts = trainer.collect(trainer.iteration_seed(0))
    with torch.no_grad():
        logits = trainer.policy(rollouts.features, rollouts.condition)
    fallback = trainer._fallback(logits, rollouts.action_mask, rollouts.fallback)
    at_one = log_prob(logits, rollouts.action, rollouts.action_mask, fallback=fallback)
    assert not torch.allclose(at_one, rollouts.old_log_prob)  # beta 0.5 is not beta 1


def test_a_beta_input_network_reads_each_rows_beta_in_training_and_its_knob_at_evaluation(tmp_path):
    import dataclasses

    from unmask_gym.agents import LearnedPolicy, save_checkpoint
    from unmask_gym.agents.loading import initialise_from

    aware = dataclasses.replace(SMALL, beta_input=True)
    trainer = GRPOTrainer(GRPOConfig(iterations=1, num_groups=4, group_size=3, block_length=None, device="cpu",
                                     train_betas=(0.25, 1.0)), aware, task=CountingTask(6), model=FakeDiffusionLM())
    rollouts = trainer.collect(seed=3)
    assert trainer.policy.config.condition_columns[-1] == "beta"
    assert torch.equal(rollouts.condition[:, 0, -1], rollouts.beta[rollouts.episode].log2())  # stored, per row
    # At evaluation the knob is the input: a network whose beta column matters answers differently at 0.25 and 1.
    from test_agents_policy import randomized_policy

    network = randomized_policy(trainer.policy.config)  # (a fresh head is 0: every logit -2 at any input)
    obs = {name: value for name, value in trainer.env.reset(seed=0)[0].items()}
    low, one = (LearnedPolicy(network, beta=beta).logits(obs) for beta in (0.25, 1.0))
    assert not torch.allclose(low, one)
    torch.testing.assert_close(one, network.logits(obs))  # None is beta 1
    for above in (2.0, 4.0):  # never trained (train_betas lie in (0, 1]): read as 1, not extrapolated
        assert torch.equal(LearnedPolicy(network, beta=above).logits(obs), one)
    # Started from a network without it, the beta column is 0: the same policy at every beta, until trained.
    plain = randomized_policy(dataclasses.replace(trainer.policy.config, beta_input=False))
    path = save_checkpoint(tmp_path / "plain.pt", plain, {"task": "counting"})
    started = initialise_from(UnmaskingPolicy(trainer.policy.config), path)
    for beta in (0.25, 1.0):
        torch.testing.assert_close(started.logits(obs, beta=beta), plain.logits(obs))
    # The other way, the beta column is dropped: the new network acts as the source does at beta 1, its default.
    source = randomized_policy(trainer.policy.config)
    blind = initialise_from(UnmaskingPolicy(plain.config), save_checkpoint(tmp_path / "aware.pt", source,
                                                                           {"task": "counting"}))  # fmt: skip
    torch.testing.assert_close(blind.logits(obs), source.logits(obs, beta=1.0))
    assert not torch.allclose(blind.logits(obs), source.logits(obs, beta=0.25))


def test_train_beta_alphas_reward_each_betas_groups_at_its_own_alpha():
    import dataclasses

    from unmask_gym.reward import multiplicative_reward

    aware = dataclasses.replace(SMALL, beta_input=True)
    config = GRPOConfig(iterations=1, num_groups=4, group_size=3, block_length=None, device="cpu", alpha=4.0,
                        train_betas=(0.25, 1.0), train_beta_alphas=("0.5", "4"))  # fmt: skip
    trainer = GRPOTrainer(config, aware, task=CountingTask(6), model=FakeDiffusionLM())
    rollouts = trainer.collect(seed=3)
    expected_alpha = torch.where(rollouts.beta == 0.25, 0.5, 4.0)
    assert set(rollouts.beta.tolist()) == {0.25, 1.0}  # this seed draws both, so both alphas are checked
    assert torch.equal(rollouts.alpha, expected_alpha)
    torch.testing.assert_close(rollouts.reward, multiplicative_reward(rollouts.score, rollouts.nfe, 6, expected_alpha))
    # The same draw as without them: the betas, and so the actions, do not change.
    plain = GRPOTrainer(dataclasses.replace(config, train_beta_alphas=()), aware, task=CountingTask(6),
                        model=FakeDiffusionLM())  # fmt: skip
    assert torch.equal(plain.group_betas(3), trainer.group_betas(3))
    assert torch.equal(plain.collect(seed=3).action, rollouts.action)
    assert not torch.allclose(plain.collect(seed=3).reward, rollouts.reward)  # the beta-0.25 groups score at 0.5


@pytest.mark.parametrize(("betas", "alphas"), [((0.5, 1.0), (1.0,)), ((1.0,), (2.0,)), ((0.5, 1.0), (0.0, 8.0)),
                                               ((0.5, 1.0), ("fast", 8.0))])  # fmt: skip
def test_bad_train_beta_alphas_are_refused(betas, alphas):
    with pytest.raises(ValueError, match="train_beta_alphas must"):
        GRPOConfig(train_betas=betas, train_beta_alphas=alphas)


@pytest.mark.parametrize("policy", [SMALL, PolicyConfig(width=16, ff_width=32, beta_input=True, alpha_range=(1, 4))])
def test_train_beta_alphas_need_a_one_alpha_policy_that_reads_its_beta(policy):
    config = GRPOConfig(block_length=None, device="cpu", alpha=2.0, train_betas=(0.5, 1.0),
                        train_beta_alphas=(0.5, 2.0))  # fmt: skip
    with pytest.raises(ValueError, match=re.escape("it needs a one-alpha policy that reads its beta")):
        GRPOTrainer(config, policy, task=CountingTask(6), model=FakeDiffusionLM())


@pytest.mark.parametrize(("architecture", "beta_head"), [("adaln", False), ("plain", False), ("adaln", True)])
def test_train_only_beta_changes_the_policy_below_beta_one_and_not_at_it(tmp_path, architecture, beta_head):
    import dataclasses

    from test_agents_policy import randomized_policy

    from unmask_gym.agents import save_checkpoint

    aware = dataclasses.replace(SMALL, beta_input=True, architecture=architecture, beta_head=beta_head)
    blind = dataclasses.replace(small_trainer(iterations=0).policy.config, architecture=architecture)
    source = randomized_policy(blind)  # a trained-looking policy that does not read beta
    path = save_checkpoint(tmp_path / "source.pt", source, {"task": "counting"})
    config = GRPOConfig(iterations=4, num_groups=4, group_size=3, block_length=None, device="cpu", alpha=4.0,
                        train_betas=(0.25,), train_beta_alphas=(0.5,), train_only_beta=True, learning_rate=0.05,
                        init_policy=str(path))  # fmt: skip
    trainer = GRPOTrainer(config, aware, task=CountingTask(6), model=FakeDiffusionLM())
    start = {name: value.clone() for name, value in trainer.policy.state_dict().items()}
    metrics = list(trainer.run())
    assert any(m["skipped_update"] == 0.0 for m in metrics)  # some steps were taken
    columns = aware.input_columns + aware.condition_columns if architecture == "plain" else aware.condition_columns
    weight_name = "embed.weight" if architecture == "plain" else "condition_embed.0.weight"
    beta = list(columns).index("beta")
    for name, value in trainer.policy.state_dict().items():
        if name == weight_name:
            assert torch.equal(torch.cat([value[:, :beta], value[:, beta + 1:]], 1),
                               torch.cat([start[name][:, :beta], start[name][:, beta + 1:]], 1))  # fmt: skip
            assert not torch.equal(value[:, beta], start[name][:, beta])  # the beta column learned
        elif name.startswith("beta_head."):
            assert not torch.equal(value, start[name])  # and the head that corrects the logits below beta 1
        else:
            assert torch.equal(value, start[name]), name  # bit for bit, weight decay included
    obs = trainer.env.reset(seed=1)[0]
    assert torch.equal(trainer.policy.logits(obs, beta=1.0), source.logits(obs))  # beta 1: the source exactly
    assert not torch.allclose(trainer.policy.logits(obs, beta=0.25), source.logits(obs))


def test_train_only_beta_resumes_from_a_checkpoint(tmp_path):
    import dataclasses

    from test_agents_policy import randomized_policy

    from unmask_gym.agents import save_checkpoint

    source = randomized_policy(small_trainer(iterations=0).policy.config)
    path = save_checkpoint(tmp_path / "source.pt", source, {"task": "counting"})
    settings = {"num_groups": 4, "group_size": 3, "block_length": None, "device": "cpu", "train_betas": (0.5,),
                "train_only_beta": True, "init_policy": str(path), "checkpoint_every": 2}
    aware = dataclasses.replace(SMALL, beta_input=True)
    whole = GRPOTrainer(GRPOConfig(iterations=4, **settings), aware, task=CountingTask(6), model=FakeDiffusionLM())
    list(whole.run())
    half = GRPOTrainer(GRPOConfig(iterations=4, out=str(tmp_path / "run"), **settings), aware, task=CountingTask(6),
                       model=FakeDiffusionLM())  # fmt: skip
    for metrics in half.run():
        if metrics["iteration"] == 2:
            break
    resumed = GRPOTrainer.resume(tmp_path / "run", task=CountingTask(6), model=FakeDiffusionLM())
    list(resumed.run())
    for a, b in zip(whole.policy.parameters(), resumed.policy.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(("settings", "message"), [
    ({"train_betas": (0.5, 1.0)}, "it needs train_betas below 1"),
    ({"train_betas": (0.5,), "warm_start": True}, "no warm_start"),
])  # fmt: skip
def test_train_only_beta_refuses_beta_one_and_a_warm_start(settings, message):
    with pytest.raises(ValueError, match=message):
        GRPOConfig(train_only_beta=True, **settings)


def test_train_only_beta_needs_a_network_that_reads_beta_and_allows_one_beta_its_own_alpha():
    with pytest.raises(ValueError, match="the policy needs beta_input=True"):
        small_trainer(train_betas=(0.5,), train_only_beta=True)
    assert GRPOConfig(train_betas=(0.5,), train_beta_alphas=(0.1,), train_only_beta=True).train_beta_alphas == (0.1,)
    with pytest.raises(ValueError, match="unless train_only_beta"):
        GRPOConfig(train_betas=(0.5,), train_beta_alphas=(0.1,))


def test_a_beta_head_corrects_the_logits_below_beta_one_and_adds_exactly_nothing_at_it(tmp_path):
    import dataclasses

    from test_agents_policy import randomized_policy

    from unmask_gym.agents import LearnedPolicy, save_checkpoint
    from unmask_gym.agents.loading import initialise_from

    with pytest.raises(ValueError, match="it needs beta_input=True"):
        PolicyConfig(beta_head=True)
    trainer = small_trainer(iterations=0)
    obs = trainer.env.reset(seed=0)[0]
    aware = dataclasses.replace(trainer.policy.config, beta_input=True)
    headed = randomized_policy(dataclasses.replace(aware, beta_head=True))
    without = UnmaskingPolicy(aware)  # the same weights but for the head (registered last, drawn last)
    without.load_state_dict({k: v for k, v in headed.state_dict().items() if not k.startswith("beta_head.")})
    for beta in (1.0, 2.0):
        assert torch.equal(LearnedPolicy(headed, beta=beta).logits(obs), LearnedPolicy(without, beta=beta).logits(obs))
    assert not torch.allclose(LearnedPolicy(headed, beta=0.5).logits(obs), LearnedPolicy(without, beta=0.5).logits(obs))
    # A new head starts at 0: from a policy without one, the network acts as that policy at every beta.
    started = initialise_from(UnmaskingPolicy(dataclasses.replace(aware, beta_head=True)),
                              save_checkpoint(tmp_path / "without.pt", without, {"task": "counting"}))  # fmt: skip
    for beta in (0.5, 1.0):
        torch.testing.assert_close(started.logits(obs, beta=beta), without.logits(obs, beta=beta))
    # A network that reads no beta drops the head with the beta column: the source as it acts at beta 1.
    blind = initialise_from(UnmaskingPolicy(trainer.policy.config),
                            save_checkpoint(tmp_path / "headed.pt", headed, {"task": "counting"}))  # fmt: skip
    torch.testing.assert_close(blind.logits(obs), headed.logits(obs, beta=1.0))


def test_the_train_command_links_a_beta_head_onto_a_run_that_stays_the_same_at_beta_one(tmp_path):
    from unmask_gym.agents import load_policy
    from unmask_gym.agents.train import main as train_main
    from unmask_gym.evaluation import make_eval_env

    base, link = tmp_path / "base", tmp_path / "link"
    common = ["--task", "addition", "--block-length", "none", "--alpha", "4", "--num-groups", "2", "--group-size", "3",
              "--width", "16", "--ff-width", "32", "--eval-episodes", "0", "--no-progress"]  # fmt: skip
    assert train_main([*common, "--iterations", "2", "--out", str(base)]) == 0
    assert train_main([*common, "--iterations", "2", "--train-betas", "0.5", "--train-beta-alphas", "0.1",
                       "--train-only-beta", "--beta-input", "--beta-head", "--learning-rate", "0.05", "--init-policy",
                       str(base), "--out", str(link)]) == 0  # fmt: skip
    before, after = load_policy(base), load_policy(link)
    assert after.config.beta_input and after.config.beta_head and after.env_kwargs["alpha"] == 4.0
    obs = make_eval_env(episodes=4, num_envs=4, **before.env_kwargs).reset(seed=0)[0]
    assert torch.equal(after.logits(obs), before.logits(obs))  # beta 1: the first run, bit for bit
    after.beta = 0.5
    assert not torch.equal(after.logits(obs), before.logits(obs))
