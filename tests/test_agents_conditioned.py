"""The trade-off-conditioned policy: its alpha input, per-group alphas in GRPO, loading, the CLI, shipped ones."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest
import torch

from unmask_gym.agents import GRPOConfig, GRPOTrainer, LearnedPolicy, PolicyConfig, UnmaskingPolicy, load_policy
from unmask_gym.agents.loading import list_policies, save_checkpoint
from unmask_gym.agents.policy import alpha_grid, policy_inputs
from unmask_gym.agents.train import main as train_main
from unmask_gym.cli import main as cli_main
from unmask_gym.evaluation import evaluate, make_eval_env, served_env_kwargs
from unmask_gym.reward import multiplicative_reward
from unmask_gym.testing import CountingTask, FakeDiffusionLM

CONDITIONED = PolicyConfig(width=16, ff_width=32, alpha_range=(1.0, 16.0))


def observation(rows: int = 3, length: int = 5) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "confidence": torch.rand(rows, length, generator=generator),
        "masked": torch.ones(rows, length, dtype=torch.bool),
        "action_mask": torch.ones(rows, length, dtype=torch.bool),
        "step_frac": torch.zeros(rows, 1),
    }


def randomised(network: UnmaskingPolicy) -> UnmaskingPolicy:
    """The network with every parameter random (at init adaLN-Zero hides the conditioning from the output)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return network


@pytest.mark.parametrize("bad", [(2.0, 1.0), (0.0, 4.0), (1.0,), (1.0, float("inf")), ("a", "b")])
def test_alpha_range_must_be_an_increasing_positive_pair(bad):
    with pytest.raises(ValueError, match="alpha_range"):
        PolicyConfig(alpha_range=bad)


def test_the_flag_strings_become_floats():
    assert PolicyConfig(alpha_range=("1", "16")).alpha_range == (1.0, 16.0)


def test_the_conditioned_network_reads_a_third_condition_the_coded_alpha():
    obs = observation()
    _features, condition = policy_inputs(obs, CONDITIONED, torch.tensor([1.0, 4.0, 16.0]))
    assert condition.shape == (3, 5, 3)
    assert condition[:, 0, 2].tolist() == pytest.approx([-1.0, 0.0, 1.0])  # log-scaled: 4 is the middle of 1..16
    assert torch.equal(condition[..., :2], policy_inputs(obs, PolicyConfig(width=16))[1])  # the usual two unchanged
    with pytest.raises(ValueError, match="needs the alpha"):
        policy_inputs(obs, CONDITIONED)
    assert alpha_grid((1.0, 16.0), points=5) == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_alpha_changes_the_decision_of_a_trained_looking_network():
    policy = LearnedPolicy(randomised(UnmaskingPolicy(CONDITIONED)), env_kwargs={"alpha": 2.0})
    obs = observation()
    assert policy.alpha == 2.0  # the trained default
    slow = policy.logits(obs)
    policy.alpha = 16.0
    assert not torch.allclose(slow, policy.logits(obs))


def test_a_bad_alpha_is_refused_and_leaves_the_old_one():
    policy = LearnedPolicy(UnmaskingPolicy(CONDITIONED), env_kwargs={"alpha": 99.0})
    assert policy.alpha == pytest.approx(4.0)  # a trained alpha outside the range falls back to its middle
    for bad in (0.5, 17.0, float("nan"), "3", True):
        with pytest.raises(ValueError, match="alpha"):
            policy.alpha = bad
        assert policy.alpha == pytest.approx(4.0)
    plain = LearnedPolicy(UnmaskingPolicy(PolicyConfig(width=16)))
    assert plain.alpha is None
    with pytest.raises(ValueError, match="trained for one alpha"):
        plain.alpha = 2.0
    with pytest.raises(ValueError, match="trained for one alpha"):
        LearnedPolicy(UnmaskingPolicy(PolicyConfig(width=16)), alpha=2.0)


def test_a_conditioned_checkpoint_round_trips_with_its_range(tmp_path):
    network = randomised(UnmaskingPolicy(CONDITIONED))
    path = save_checkpoint(tmp_path / "cond.pt", network, {"task": "addition", "alpha": 3.0})
    loaded = load_policy(path, alpha=8.0)
    assert loaded.config.alpha_range == (1.0, 16.0) and loaded.alpha == 8.0
    obs = observation()
    assert torch.equal(loaded.logits(obs), LearnedPolicy(network, alpha=8.0).logits(obs))


def conditioned_trainer(**overrides) -> GRPOTrainer:
    settings = {"iterations": 2, "num_groups": 3, "group_size": 4, "block_length": None, "device": "cpu",
                "alpha": 2.0, **overrides}  # fmt: skip
    return GRPOTrainer(GRPOConfig(**settings), CONDITIONED, task=CountingTask(6), model=FakeDiffusionLM())


def test_each_prompt_group_shares_one_alpha_and_is_scored_with_it():
    trainer = conditioned_trainer(expert_steering=True)
    seed = trainer.iteration_seed(0)
    alphas = trainer.group_alphas(seed)
    assert alphas.shape == (3,) and bool(((alphas >= 1) & (alphas <= 16)).all())
    assert len(set(alphas.tolist())) == 3 and torch.equal(alphas, trainer.group_alphas(seed))  # seeded
    rollouts = trainer.collect(seed)
    row_alpha = torch.cat([alphas.repeat_interleave(4), alphas])  # 12 policy rows, then one expert row per group
    coded = CONDITIONED.alpha_code(row_alpha)
    assert torch.allclose(rollouts.condition[:, 0, 2], coded[rollouts.episode])  # every step reads its row's alpha
    expected = multiplicative_reward(rollouts.score, rollouts.nfe, 6, row_alpha)
    assert torch.allclose(rollouts.reward, expected)
    assert not torch.allclose(rollouts.reward, multiplicative_reward(rollouts.score, rollouts.nfe, 6, 2.0))


def test_alpha_scaled_advantages_divide_each_episode_by_one_plus_its_groups_alpha():
    trainer = conditioned_trainer(reward="additive", expert_steering=True)
    seed = trainer.iteration_seed(0)
    alphas = trainer.group_alphas(seed)
    rollouts = trainer.collect(seed)
    assert torch.equal(rollouts.alpha, torch.cat([alphas.repeat_interleave(4), alphas]))  # policy rows, then experts
    plain = trainer.episode_advantages(rollouts)
    assert plain.abs().max() > 0  # the additive reward differs with the NFE, so there is something to scale
    trainer.config = dataclasses.replace(trainer.config, alpha_scaled_advantages=True)
    assert torch.allclose(trainer.episode_advantages(rollouts), plain / (1 + rollouts.alpha))
    trainer.config = dataclasses.replace(trainer.config, alpha_scale_power=0.5)
    assert torch.allclose(trainer.episode_advantages(rollouts), plain / (1 + rollouts.alpha).sqrt())
    with pytest.raises(ValueError, match="alpha_scale_power must lie in"):
        conditioned_trainer(alpha_scale_power=-1.0)


def test_the_alpha_curriculum_widens_the_range_from_its_low_end_then_serves_all_of_it():
    trainer = conditioned_trainer(iterations=8, alpha_curriculum=0.5, num_groups=64)  # widens over 4 iterations
    tops = []
    for iteration in range(8):
        trainer.iteration = iteration
        alphas = trainer.collect(trainer.iteration_seed(iteration)).alpha
        assert bool((alphas >= 1.0).all())
        tops.append(16.0 ** min(1.0, (iteration + 1) / 4))  # the widened top: low * (high / low) ** progress
        assert bool((alphas <= tops[-1] * (1 + 1e-6)).all())
    assert alphas.max() > 8.0  # after the curriculum the draws reach the top of the whole range again
    early = trainer.group_alphas(trainer.iteration_seed(0), progress=0.25)
    assert torch.allclose(early, trainer.group_alphas(trainer.iteration_seed(0)) ** 0.25)  # the same draws, narrowed
    assert conditioned_trainer(iterations=8).curriculum_progress() == 1.0  # off by default
    with pytest.raises(ValueError, match="alpha_curriculum must be a fraction"):
        conditioned_trainer(alpha_curriculum=1.5)


def test_an_unconditioned_rollout_records_the_envs_alpha():
    trainer = GRPOTrainer(GRPOConfig(iterations=1, num_groups=2, group_size=2, block_length=None, device="cpu",
                                     alpha=3.0), PolicyConfig(width=16, ff_width=32), task=CountingTask(6),
                          model=FakeDiffusionLM())  # fmt: skip
    assert torch.equal(trainer.collect(trainer.iteration_seed(0)).alpha, torch.full((4,), 3.0))


def test_the_default_alpha_must_lie_in_the_range_and_the_reward_must_be_named():
    with pytest.raises(ValueError, match="alpha must lie"):
        conditioned_trainer(alpha=32.0)
    with pytest.raises(ValueError, match="named reward"):
        conditioned_trainer(reward=lambda prompts, completions, **kwargs: [0.0] * len(completions))


def test_train_writes_the_alpha_sweep_and_resume_keeps_the_range(tmp_path):
    out = tmp_path / "run"
    argv = ["--task", "addition", "--block-length", "none", "--alpha", "2", "--alpha-range", "1,8", "--iterations",
            "2", "--num-groups", "2", "--group-size", "2", "--width", "16", "--ff-width", "32", "--eval-episodes",
            "8", "--no-progress", "--checkpoint-every", "1", "--out", str(out)]  # fmt: skip
    assert train_main(argv) == 0
    result = json.loads((out / "eval.json").read_text())
    assert result["alpha"] == 2.0 and [item["alpha"] for item in result["alpha_sweep"]] == alpha_grid((1.0, 8.0))
    resumed = GRPOTrainer.resume(out, iterations=3)
    assert resumed.policy.config.alpha_range == (1.0, 8.0)
    assert dataclasses.asdict(resumed.config)["alpha"] == 2.0


def test_eval_alpha_flag(capsys, tmp_path):
    network = UnmaskingPolicy(dataclasses.replace(CONDITIONED, features=("confidence", "masked", "step_frac")))
    path = save_checkpoint(tmp_path / "cond.pt", network, {"task": "addition", "block_length": None, "alpha": 2.0})
    assert cli_main(["eval", "--policy", str(path), "--alpha", "8", "--episodes", "8"]) == 0
    assert "accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli_main(["eval", "--policy", str(path), "--alpha", "99", "--episodes", "8"])
    assert "[1, 16]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["eval", "--policy", "top_k_confidence:k=2", "--alpha", "2", "--episodes", "8"])
    assert "heuristic" in capsys.readouterr().err


SHIPPED_CONDITIONED = [name for name in list_policies() if name.endswith("-cond")]


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED_CONDITIONED)
def test_a_shipped_conditioned_policy_spends_fewer_passes_as_alpha_grows(name):
    policy = load_policy(name)
    nfe = []
    for alpha in alpha_grid(policy.config.alpha_range, points=4):
        policy.alpha = alpha
        policy.reseed()
        env = make_eval_env(episodes=64, **served_env_kwargs(policy, policy.env_kwargs))  # rewarded at that alpha
        nfe.append(evaluate(env, policy, seed=0).mean_nfe)
    if name.startswith("statetracking"):
        # StateTracking leaves no trade-off to serve: in 4-token blocks 8 passes are the fewest the blocks allow, and in
        # full diffusion more passes only walk into the EOS trap; its policies hold one operating point for every
        # alpha, and a higher alpha must never cost more passes (sampling noise aside).
        assert all(later <= earlier + 0.05 for earlier, later in itertools.pairwise(nfe)), nfe
    else:
        assert all(later < earlier for earlier, later in itertools.pairwise(nfe)), nfe
