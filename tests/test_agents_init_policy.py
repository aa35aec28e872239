"""Starting a run from a trained policy's weights (``init_policy``, ``loading.initialise_from``)."""

from __future__ import annotations

import re
import shutil

import pytest
import torch
from test_agents_policy import random_obs, randomized_policy

from unmask_gym.agents import GRPOConfig, GRPOTrainer, PolicyConfig, UnmaskingPolicy, save_checkpoint
from unmask_gym.agents.loading import initialise_from
from unmask_gym.agents.policy import policy_inputs
from unmask_gym.agents.ppo import PPOConfig, PPOTrainer
from unmask_gym.testing import CountingTask, FakeDiffusionLM

FEATURES = ("confidence", "masked", "step_frac", "margin")


def saved(tmp_path, config: PolicyConfig) -> tuple[UnmaskingPolicy, str]:
    network = randomized_policy(config)
    return network, str(save_checkpoint(tmp_path / "source" / "policy.pt", network, {"task": "addition"}))


@pytest.mark.parametrize("architecture", ["adaln", "plain"])
def test_a_conditioned_network_starts_as_the_one_alpha_policy_at_every_alpha(tmp_path, architecture):
    source, path = saved(tmp_path, PolicyConfig(width=32, features=FEATURES, architecture=architecture))
    config = PolicyConfig(width=32, features=FEATURES, architecture=architecture, alpha_range=(0.5, 8.0), seed=7)
    network = initialise_from(UnmaskingPolicy(config), path)
    obs = random_obs(rows=4, length=6)
    expected = source(*policy_inputs(obs, source.config))
    for alpha in (0.5, 2.0, 8.0):
        torch.testing.assert_close(network(*policy_inputs(obs, config, alpha=alpha)), expected)
    # The alpha column is a parameter like the others: training can make alpha matter.
    network(*policy_inputs(obs, config, alpha=8.0)).sum().backward()  # (alpha 2 is coded 0: no gradient)
    first = network.embed if architecture == "plain" else network.condition_embed[0]
    assert first.weight.grad[:, -1].abs().sum() > 0


@pytest.mark.parametrize("architecture", ["adaln", "plain"])
def test_new_one_number_features_start_at_zero_weight_wherever_they_are_listed(tmp_path, architecture):
    source, path = saved(tmp_path, PolicyConfig(width=32, features=FEATURES, architecture=architecture))
    features = ("uncertain", "confidence", "masked", "entropy", "step_frac", "margin")  # shared ones reordered too
    config = PolicyConfig(width=32, features=features, architecture=architecture, alpha_range=(0.5, 8.0))
    network = initialise_from(UnmaskingPolicy(config), path)
    obs = random_obs(rows=4, length=6)
    expected = source(*policy_inputs(obs, source.config))
    for alpha in (0.5, 8.0):
        torch.testing.assert_close(network(*policy_inputs(obs, config, alpha=alpha)), expected)
    network(*policy_inputs(obs, config, alpha=8.0)).sum().backward()
    new_columns = network.embed.weight.grad[:, [0, 3]]
    assert (new_columns.abs().sum(0) > 0).all()  # the new inputs learn like any other weight


def test_the_same_network_starts_as_an_exact_copy(tmp_path):
    source, path = saved(tmp_path, PolicyConfig(width=32, features=FEATURES))
    network = initialise_from(UnmaskingPolicy(PolicyConfig(width=32, features=FEATURES, seed=3)), path)
    copied, original = network.state_dict(), source.state_dict()
    assert copied.keys() == original.keys() and all(torch.equal(copied[key], original[key]) for key in copied)


def test_a_policy_of_another_shape_or_a_conditioned_one_is_refused_by_name(tmp_path):
    _, path = saved(tmp_path, PolicyConfig(width=32, features=FEATURES))
    with pytest.raises(ValueError, match=re.escape("its network differs from this run's in width 32 vs 16")):
        initialise_from(UnmaskingPolicy(PolicyConfig(width=16, features=FEATURES)), path)
    with pytest.raises(ValueError, match=re.escape("features ('confidence', 'masked', 'step_frac', 'margin') vs")):
        initialise_from(UnmaskingPolicy(PolicyConfig(width=32, features=FEATURES[:3])), path)
    with pytest.raises(ValueError, match=re.escape("features ('confidence', 'masked', 'step_frac', 'margin') vs")):
        initialise_from(UnmaskingPolicy(PolicyConfig(width=32, features=(*FEATURES, "position"), num_positions=6)),
                        path)  # fmt: skip  # a new embedding, not a column: no zero start to give it
    _, conditioned = saved(tmp_path / "c", PolicyConfig(width=32, features=FEATURES, alpha_range=(1.0, 4.0)))
    with pytest.raises(ValueError, match=re.escape("it reads alpha (alpha_range (1.0, 4.0)) and this run's")):
        initialise_from(UnmaskingPolicy(PolicyConfig(width=32, features=FEATURES)), conditioned)


def test_grpo_and_ppo_start_from_the_policy_and_a_resume_no_longer_needs_it(tmp_path):
    features = ("confidence", "masked", "step_frac")
    source, path = saved(tmp_path, PolicyConfig(width=16, ff_width=32, features=features))
    settings = {"iterations": 2, "block_length": None, "device": "cpu", "init_policy": path}
    policy_config = PolicyConfig(width=16, ff_width=32, features=features)
    ppo = PPOTrainer(PPOConfig(num_envs=4, num_steps=4, **settings), policy_config, task=CountingTask(6),
                     model=FakeDiffusionLM())  # fmt: skip
    assert torch.equal(ppo.agent.policy.head.weight, source.head.weight)
    out = tmp_path / "run"
    config = GRPOConfig(num_groups=2, group_size=4, checkpoint_every=1, out=str(out), **settings)
    trainer = GRPOTrainer(config, policy_config, task=CountingTask(6), model=FakeDiffusionLM())
    assert torch.equal(trainer.policy.head.weight, source.head.weight)
    list(trainer.run())
    shutil.rmtree(tmp_path / "source")  # the starting policy is gone: the checkpoint is all a resume reads
    resumed = GRPOTrainer.resume(out, iterations=3, task=CountingTask(6), model=FakeDiffusionLM())
    assert resumed.config.init_policy == path and resumed.iteration == 2
    assert torch.equal(resumed.policy.head.weight, trainer.policy.head.weight)
