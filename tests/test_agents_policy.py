"""The paper's policy network, its Bernoulli action distribution, checkpoints and ``load_policy``."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import subprocess
import sys

import gymnasium as gym
import pytest
import torch

from unmask_gym.agents import (
    LearnedPolicy,
    PolicyConfig,
    UnmaskingPolicy,
    list_policies,
    load_policy,
    log_prob,
    policy_from_spec,
    policy_inputs,
    sample_action,
    save_checkpoint,
)
from unmask_gym.agents.distribution import NO_FALLBACK, commit_probabilities, expected_commits
from unmask_gym.evaluation import evaluate, make_eval_env
from unmask_gym.testing import CountingTask, FakeDiffusionLM


def random_obs(rows: int = 3, length: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    masked = torch.rand(rows, length, generator=generator) < 0.7
    masked[:, 0] = True
    return {
        "confidence": torch.rand(rows, length, generator=generator),
        "margin": torch.rand(rows, length, generator=generator),
        "entropy": torch.rand(rows, length, generator=generator),
        "masked": masked,
        "action_mask": masked & (torch.rand(rows, length, generator=generator) < 0.8),
        "step_frac": torch.rand(rows, 1, generator=generator),
        "pred_token": torch.randint(0, 4, (rows, length), generator=generator),
    }


def randomized_policy(config: PolicyConfig, seed: int = 1) -> UnmaskingPolicy:
    """A network whose zero-initialised layers are filled with noise, so that its logits vary by position."""
    network = UnmaskingPolicy(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.5 * torch.randn(parameter.shape, generator=generator))
    return network


def test_log_prob_equals_a_hand_computed_bernoulli_product():
    logits = torch.tensor([[0.4, -1.0, 2.0, 0.3]])
    action_mask = torch.tensor([[True, True, True, False]])
    action = torch.tensor([[True, False, True, True]])  # position 3 is outside the mask: it does not count
    tau = 0.5
    p = [1 / (1 + math.exp(-z / tau)) for z in (0.4, -1.0, 2.0)]
    expected = math.log(p[0]) + math.log(1 - p[1]) + math.log(p[2])
    assert log_prob(logits, action, action_mask, tau).item() == pytest.approx(expected, rel=1e-5)


def test_log_prob_of_a_fallback_action_adds_the_empty_sample():
    logits = torch.tensor([[0.4, -1.0, 2.0], [0.4, -1.0, 2.0]])
    action_mask = torch.ones(2, 3, dtype=torch.bool)
    action = torch.tensor([[False, True, False], [True, False, False]])
    fallback = torch.tensor([1, 1])  # row 0's action is the fallback position; row 1's is not
    p = [1 / (1 + math.exp(-z)) for z in (0.4, -1.0, 2.0)]
    fallback_probability = p[1] * (1 - p[0]) * (1 - p[2]) + (1 - p[0]) * (1 - p[1]) * (1 - p[2])
    plain_probability = p[0] * (1 - p[1]) * (1 - p[2])
    got = log_prob(logits, action, action_mask, fallback=fallback).exp()
    assert got.tolist() == pytest.approx([fallback_probability, plain_probability], rel=1e-5)
    no_fallback = torch.full((2,), NO_FALLBACK)
    assert log_prob(logits, action, action_mask, fallback=no_fallback).exp()[0].item() == pytest.approx(
        p[1] * (1 - p[0]) * (1 - p[2]), rel=1e-5
    )


def test_positions_outside_action_mask_are_never_sampled():
    obs = random_obs(rows=64, length=8)
    logits = torch.full((64, 8), 30.0)  # p = 1 everywhere, so only the mask can stop a commit
    generator = torch.Generator().manual_seed(0)
    for beta in (1.0, 10.0):
        action = sample_action(logits, obs["action_mask"], 1.0, beta, generator, fallback_to_highest_logit=True)
        assert not (action & ~obs["action_mask"]).any()
        assert torch.equal(action, obs["action_mask"])
    policy = LearnedPolicy(randomized_policy(PolicyConfig(width=16)), beta=50.0)
    for _ in range(20):
        assert not (policy(obs) & ~obs["action_mask"]).any()


def test_an_empty_sample_commits_the_highest_logit_selectable_position():
    logits = torch.tensor([[-30.0, -25.0, -20.0, 5.0], [-30.0, -31.0, -32.0, -33.0], [-30.0] * 4])
    action_mask = torch.tensor([[True, True, True, False], [True, True, True, True], [False] * 4])
    action = sample_action(logits, action_mask, generator=torch.Generator().manual_seed(0),
                           fallback_to_highest_logit=True)  # fmt: skip
    # Row 0: position 3 has the highest logit but is not selectable; row 2 has nothing to commit.
    assert action.tolist() == [[False, False, True, False], [True, False, False, False], [False] * 4]
    without = sample_action(logits, action_mask, generator=torch.Generator().manual_seed(0))
    assert not without.any()


def test_beta_is_monotone_in_the_expected_number_of_commits():
    obs = random_obs(rows=16, length=8, seed=3)
    policy = LearnedPolicy(randomized_policy(PolicyConfig(width=32)))
    expected = []
    for beta in (0.25, 0.5, 1.0, 2.0, 4.0, 16.0):
        policy.beta = beta
        expected.append(policy.expected_commits(obs))
    for lower, higher in itertools.pairwise(expected):
        assert (higher >= lower - 1e-6).all()
    assert (expected[-1] > expected[0] + 0.5).any()
    assert (expected[-1] <= obs["action_mask"].sum(1) + 1e-6).all()
    counts = []
    for beta in (0.25, 4.0):  # the sampled actions follow
        policy.beta = beta
        policy.reseed(0)
        counts.append(sum(policy(obs).sum().item() for _ in range(50)))
    assert counts[1] > counts[0]


def test_expected_commits_counts_the_fallback_of_an_empty_sample():
    logits, action_mask = torch.tensor([[0.0, 0.0]]), torch.tensor([[True, True]])
    assert expected_commits(logits, action_mask).item() == pytest.approx(1.25)  # 1/2 + 1/2 + P(empty) = 1/4
    assert expected_commits(logits, action_mask, fallback_to_highest_logit=False).item() == pytest.approx(1.0)
    assert commit_probabilities(logits, action_mask, beta=1.5).tolist() == [[0.75, 0.75]]


def test_a_fresh_policy_commits_each_position_with_probability_sigmoid_minus_two():
    network = UnmaskingPolicy(PolicyConfig())
    obs = random_obs()
    assert torch.allclose(network.logits(obs), torch.full((3, 5), -2.0))
    assert 300_000 < network.num_parameters() < 360_000  # the paper's ~330K at d = 128, 2 heads, FF 512


def test_building_a_policy_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    first = UnmaskingPolicy(PolicyConfig(width=16, seed=4))
    assert torch.equal(torch.random.get_rng_state(), state)
    second = UnmaskingPolicy(PolicyConfig(width=16, seed=4))
    assert all(
        torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )


def test_features_are_configurable_and_in_order():
    obs = random_obs(rows=2, length=4)
    obs["hidden"] = torch.randn(2, 4, 3)
    config = PolicyConfig(features=("entropy", "end_token", "hidden", "step_frac"), hidden_size=3, end_token_ids=(2,))
    features, condition = policy_inputs(obs, config)
    assert features.shape == (2, 4, 1 + 1 + 3 + 1) == (2, 4, config.num_inputs)
    assert torch.equal(features[..., 0], obs["entropy"])
    assert torch.equal(features[..., 1], (obs["pred_token"] == 2).float())
    assert torch.equal(features[..., 2:5], obs["hidden"])
    assert torch.equal(features[..., 5], obs["step_frac"].expand(2, 4))
    assert torch.equal(condition[..., 0], obs["masked"].float())
    assert UnmaskingPolicy(config)(features, condition).shape == (2, 4)
    assert config.input_columns == ("entropy", "end_token", "hidden", "hidden", "hidden", "step_frac")


def test_uncertain_is_the_rows_count_of_open_positions_below_0_9_at_every_position():
    obs = {"confidence": torch.tensor([[0.5, 0.95, 0.2, 0.3], [0.99, 0.1, 0.95, 0.4]]),
           "masked": torch.tensor([[True, True, True, False], [True, True, True, True]]),
           "step_frac": torch.zeros(2, 1)}
    features, _ = policy_inputs(obs, PolicyConfig(features=("confidence", "uncertain")))
    # Row 0: 0.5 and 0.2 (0.3 is committed); row 1: 0.1 and 0.4. Of L = 4, at every position.
    assert features[..., 1].tolist() == [[0.5] * 4, [0.5] * 4]
    obs["confidence"][1, 0] = 0.2
    assert policy_inputs(obs, PolicyConfig(features=("uncertain",)))[0][1, :, 0].tolist() == [0.75] * 4


def test_token_agreement_counts_and_ranks_the_selectable_positions_that_share_a_token():
    obs = random_obs(rows=4, length=9, seed=3)
    obs["confidence"][0, :4] = 0.5  # ties: broken by position
    config = PolicyConfig(features=("token_count", "token_rank", "token_mass", "confidence"))
    features, _ = policy_inputs(obs, config)
    for row, i in itertools.product(range(4), range(9)):
        selectable, tokens, confidence = obs["action_mask"][row], obs["pred_token"][row], obs["confidence"][row]
        same = [j for j in range(9) if selectable[j] and tokens[j] == tokens[i]]
        before = [j for j in same if (confidence[j], -j) > (confidence[i], -i)]
        expected = (len(same), len(before)) if selectable[i] else (0, 0)
        assert (features[row, i, :2] * 9).round().tolist() == list(expected), (row, i)
        mass = sum(confidence[j] for j in same) if selectable[i] else 0.0
        torch.testing.assert_close(features[row, i, 2] * 9, torch.as_tensor(mass, dtype=torch.float32))
    # The most confident of each token is ranked 0, and each token's ranks are 0, 1, ... count - 1.
    ranks = (features[..., 1] * 9).round().long()
    for row in range(4):
        for token in obs["pred_token"][row][obs["action_mask"][row]].unique():
            where = obs["action_mask"][row] & (obs["pred_token"][row] == token)
            assert sorted(ranks[row][where].tolist()) == list(range(int(where.sum())))
    assert UnmaskingPolicy(config)(features, _).shape == (4, 9)


@pytest.mark.parametrize("architecture", ["adaln", "plain"])
def test_token_equality_biases_attention_by_which_positions_show_the_same_token(tmp_path, architecture):
    features = ("confidence", "token_equality", "masked", "step_frac")
    config = PolicyConfig(width=32, features=features, architecture=architecture)
    assert config.num_inputs == 3 and config.token_equality
    network = randomized_policy(config)
    obs = random_obs(rows=4, length=7, seed=2)
    inputs, condition = policy_inputs(obs, config)
    assert inputs.shape == (4, 7, 4) and torch.equal(inputs[..., -1], obs["pred_token"].float())  # the ids, last
    logits = network(inputs, condition)
    # Equality is all it reads: renaming the tokens (any bijection, a huge id included) changes nothing...
    renamed = dict(obs, pred_token=torch.tensor([40, 7, 126_463, 3])[obs["pred_token"]])
    torch.testing.assert_close(network(*policy_inputs(renamed, config)), logits)
    # ...while making two positions agree that did not moves the logits,
    agreeing = dict(obs, pred_token=obs["pred_token"].clone())
    agreeing["pred_token"][:, 1] = agreeing["pred_token"][:, 0]
    changed = obs["pred_token"][:, 1] != obs["pred_token"][:, 0]
    moved = (network(*policy_inputs(agreeing, config)) - logits)[changed].abs().max()
    assert changed.any() and moved > 1e-3
    # and without the feature the same network reads no tokens at all.
    plain = randomized_policy(PolicyConfig(width=32, features=("confidence", "masked", "step_frac"),
                                           architecture=architecture))  # fmt: skip
    torch.testing.assert_close(plain.logits(agreeing), plain.logits(obs))
    # The bias is learned (per head, linear in the query position's input), and a checkpoint keeps it.
    bias = network.block.attention.equality_bias
    assert bias.weight.shape == (config.num_heads, 32)
    network(inputs, condition).sum().backward()
    assert bias.weight.grad.abs().sum() > 0 and bias.bias.grad.abs().sum() > 0
    loaded = load_policy(save_checkpoint(tmp_path / "policy.pt", network, {"task": "addition"}))
    assert loaded.config.features == features
    torch.testing.assert_close(loaded.network(inputs, condition), logits)
    with pytest.raises(ValueError, match=re.escape("features ('token_equality',) only modify what the network reads")):
        PolicyConfig(features=("token_equality",))
    with pytest.raises(ValueError, match=re.escape("features ('position', 'token_equality') only modify")):
        PolicyConfig(features=("position", "token_equality"))


def test_position_embeds_where_each_answer_position_is(tmp_path):
    features = ("confidence", "masked", "step_frac", "position")
    with pytest.raises(ValueError, match=re.escape("the 'position' feature needs num_positions >= 1")):
        UnmaskingPolicy(PolicyConfig(width=32, features=features, architecture="plain"))
    config = PolicyConfig(width=32, features=features, architecture="plain", num_positions=7)
    assert config.num_inputs == 3 and config.position
    network, without = (randomized_policy(PolicyConfig(width=32, features=names, architecture="plain",
                                                       num_positions=7 if "position" in names else 0))
                        for names in (features, features[:3]))  # fmt: skip
    obs = random_obs(rows=4, length=7, seed=2)
    inputs, condition = policy_inputs(obs, config)
    assert inputs.shape == (4, 7, 3)  # the index is not a column: the network embeds it
    reverse = torch.arange(6, -1, -1)
    flipped = [inputs[:, reverse], condition[:, reverse]]
    # The plain block has no position encoding of its own: without the feature, reversing the answer reverses the
    # logits; with it, a position's logit depends on where it is.
    torch.testing.assert_close(without(*flipped), without(inputs, condition)[:, reverse])
    logits = network(inputs, condition)
    assert (network(*flipped) - logits[:, reverse]).abs().max() > 1e-3
    assert network(inputs[:, :5], condition[:, :5]).shape == (4, 5)  # shorter answers read the first embeddings
    with pytest.raises(ValueError, match=re.escape("7 answer positions ('position' feature), got an answer of 8")):
        network(torch.cat([inputs, inputs[:, :1]], 1), torch.cat([condition, condition[:, :1]], 1))
    network(inputs, condition).sum().backward()
    assert network.position_embed.weight.grad.abs().sum() > 0
    loaded = load_policy(save_checkpoint(tmp_path / "policy.pt", network, {"task": "addition"}))
    assert loaded.config.num_positions == 7
    torch.testing.assert_close(loaded.network(inputs, condition), logits)
    # The other parameters start as they would without it (it is drawn last from the seeded generator).
    fresh, bare = UnmaskingPolicy(config), UnmaskingPolicy(PolicyConfig(width=32, features=features[:3],
                                                                         architecture="plain"))  # fmt: skip
    torch.testing.assert_close(fresh.embed.weight, bare.embed.weight)


def test_the_trainer_resolves_the_positions_the_position_feature_embeds():
    env = make_eval_env("addition", num_envs=2)
    resolved = PolicyConfig(features=("confidence", "position")).resolved_for(env, seed=0)
    assert resolved.num_positions == env.answer_length > 0
    assert PolicyConfig(features=("confidence",)).resolved_for(env, seed=0).num_positions == 0
    env.close()


def test_bad_policy_settings_are_refused_with_a_message():
    with pytest.raises(ValueError, match=re.escape("features must be distinct names from")):
        PolicyConfig(features=("confidence", "colour"))
    with pytest.raises(ValueError, match=re.escape("width=30 must be a multiple of 2 * num_heads=4 (RoPE)")):
        PolicyConfig(width=30)
    with pytest.raises(ValueError, match=re.escape("the 'end_token' feature needs end_token_ids")):
        UnmaskingPolicy(PolicyConfig(features=("end_token",)))
    policy = LearnedPolicy(UnmaskingPolicy(PolicyConfig(width=16)), beta=-1.0)
    with pytest.raises(ValueError, match=re.escape("beta must be > 0, got -1.0")):
        policy(random_obs())


def test_the_plain_network_has_no_position_encoding_and_round_trips(tmp_path):
    with pytest.raises(ValueError, match=re.escape("architecture must be 'adaln' or 'plain', got 'dense'")):
        PolicyConfig(architecture="dense")
    config = PolicyConfig(width=32, features=("confidence", "margin"), architecture="plain", alpha_range=(1.0, 8.0))
    network = randomized_policy(config)
    features, condition = policy_inputs(random_obs(rows=2, length=6), config, alpha=2.0)
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    logits = network(features, condition)
    # Permuted positions give permuted logits: without RoPE the network cannot tell positions apart...
    torch.testing.assert_close(network(features[:, order], condition[:, order]), logits[:, order])
    paper = randomized_policy(PolicyConfig(width=32, features=("confidence", "margin"), alpha_range=(1.0, 8.0)))
    moved = paper(features[:, order], condition[:, order]) - paper(features, condition)[:, order]
    assert moved.abs().max() > 1e-3  # ...while the paper's RoPE network can
    # and it reads the alpha it serves as an input.
    assert not torch.allclose(network(*policy_inputs(random_obs(2, 6), config, alpha=8.0)), logits)
    path = save_checkpoint(tmp_path / "policy.pt", network, {"task": "addition"})
    loaded = load_policy(path)
    assert loaded.config.architecture == "plain"
    assert torch.equal(loaded.network(features, condition), logits)


def test_a_checkpoint_round_trips_to_identical_logits_actions_and_env_kwargs(tmp_path):
    features = ("confidence", "masked", "step_frac", "margin", "token_mass", "token_rank")
    network = randomized_policy(PolicyConfig(width=32, features=features))
    env_kwargs = {"task": "addition", "block_length": None, "answer_length": 5, "max_nfe": 5, "reward": "additive",
                  "alpha": 2.0, "empty_action": "noop", "temperature": 0.0, "model": "addition"}  # fmt: skip
    path = save_checkpoint(tmp_path / "run" / "policy.pt", network, env_kwargs)
    obs = random_obs(rows=8)
    original = LearnedPolicy(network, env_kwargs, seed=5)
    for source in (path, tmp_path / "run"):  # a file, or a run folder holding policy.pt
        loaded = load_policy(source, seed=5)
        assert loaded.env_kwargs == env_kwargs and loaded.config == network.config
        assert torch.equal(loaded.logits(obs), original.logits(obs))
        original.reseed(5)
        assert all(torch.equal(loaded(obs), original(obs)) for _ in range(5))


def test_loading_something_that_is_not_a_policy_names_it(tmp_path):
    with pytest.raises(ValueError, match=re.escape("no shipped policy 'no-such-policy' (shipped: ")):
        load_policy("no-such-policy")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=re.escape(f"cannot read policy checkpoint {bad}")) as error:
        load_policy(bad)
    assert "weights_only=False" not in str(error.value)  # torch's advice to unpickle anything is not passed on
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"garbage")  # what torch answers with "re-run with weights_only=False"
    with pytest.raises(ValueError, match=re.escape(f"cannot read policy checkpoint {garbage}")) as error:
        load_policy(garbage)
    assert "weights_only=False" not in str(error.value)
    for missing in (tmp_path / "missing", "/missing", "missing.pt"):
        with pytest.raises(ValueError, match=re.escape(f"no such checkpoint file or run folder: {str(missing)!r}")):
            load_policy(missing)
    with pytest.raises(ValueError, match=re.escape(f"run folder {tmp_path} has no policy.pt")):
        load_policy(tmp_path)
    assert list_policies() == sorted(list_policies())


def test_policy_from_spec_takes_heuristics_and_learned_policies(tmp_path):
    heuristic, kwargs = policy_from_spec("fast_dllm_threshold:threshold=0.5")
    assert heuristic.threshold == 0.5 and kwargs == {}
    save_checkpoint(tmp_path / "p.pt", UnmaskingPolicy(PolicyConfig(width=16)), {"task": "addition"})
    learned, kwargs = policy_from_spec(str(tmp_path / "p.pt"))
    assert isinstance(learned, LearnedPolicy) and kwargs == {"task": "addition"}


def test_an_evaluation_of_a_loaded_policy_reproduces(tmp_path):
    path = save_checkpoint(tmp_path / "p.pt", UnmaskingPolicy(PolicyConfig(width=16, init_bias=0.0)), {})  # p = 1/2
    results = []
    for _ in range(2):
        env = make_eval_env(CountingTask(6), episodes=12, num_envs=4, model=FakeDiffusionLM(), block_length=None)
        results.append(evaluate(env, load_policy(path), seed=1))
    assert results[0].records == results[1].records
    assert results[0].policy == str(path)  # evaluate's label: what was loaded
    assert 1 < results[0].mean_nfe < 6  # a random policy: neither everything at once nor one per step


def test_the_agents_import_as_unmask_gym_agents_not_as_a_top_level_agents(tmp_path):
    code = (
        "import importlib.util, pathlib, unmask_gym.agents as a, unmask_gym.agents.grpo as g; print(a.__name__); "
        "print(g.GRPOTrainer.__module__); spec = importlib.util.find_spec('agents'); "
        "print(spec is None or pathlib.Path(spec.origin).parent != pathlib.Path(a.__file__).parent)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    # Outside the repository (cwd not on the path) the package is unmask_gym.agents, and `import agents` never
    # finds our folder: another package of that name (openai-agents) can be installed next to it.
    assert result.stdout.split() == ["unmask_gym.agents", "unmask_gym.agents.grpo", "True"]


def test_check_compatible_refuses_an_env_whose_observations_the_network_cannot_read_before_any_reset():
    env = make_eval_env("addition", episodes=4, num_envs=2)
    length, model = env.answer_length, env.model
    fits = PolicyConfig(width=16, features=("confidence", "position", "hidden", "end_token"), num_positions=length,
                        hidden_size=model.hidden_size, end_token_ids=tuple(model.end_token_ids))  # fmt: skip
    with pytest.raises(ValueError, match=re.escape("build the env with observe_hidden=True")):
        fits.check_compatible(env)
    seen = make_eval_env("addition", episodes=4, num_envs=2, observe_hidden=True)
    fits.check_compatible(seen)
    fits.check_compatible(gym.wrappers.vector.RecordEpisodeStatistics(seen))  # through a wrapper too
    mismatches = {
        f"embeds {length - 1} answer positions (the 'position' feature), the env's answers have {length}":
            {"num_positions": length - 1},
        f"hidden states of size {model.hidden_size + 1} (the dLLM it trained on), the env's dLLM has "
        f"{model.hidden_size}": {"hidden_size": model.hidden_size + 1},
        "marks the end tokens (12345,) of the dLLM it trained on": {"end_token_ids": (12345,)},
    }  # fmt: skip
    for message, change in mismatches.items():
        config = dataclasses.replace(fits, **change)
        with pytest.raises(ValueError, match=re.escape(message)):
            config.check_compatible(seen)
        # evaluate refuses it before its reset: the env has not run a step or a forward
        with pytest.raises(ValueError, match=re.escape(message)):
            evaluate(seen, LearnedPolicy(UnmaskingPolicy(config)))
        with pytest.raises(RuntimeError, match="call reset"):
            _ = seen.running
    PolicyConfig(width=16, features=("confidence", "position"), num_positions=length + 5).check_compatible(env)
    env.close()
    seen.close()


def test_replay_refuses_a_policy_that_cannot_read_the_env_before_its_reset():
    from unmask_gym.replay import replay

    config = PolicyConfig(width=16, features=("confidence", "position"), num_positions=2)
    with pytest.raises(ValueError, match=re.escape("embeds 2 answer positions")):
        replay(LearnedPolicy(UnmaskingPolicy(config)), task="addition")
