"""Teachers keyed by alpha (``agents/experts.py``): parsing, routing, and the warm start that distils them."""

from __future__ import annotations

import re

import pytest
import torch

from unmask_gym.agents import GRPOConfig, GRPOTrainer, PolicyConfig, load_policy
from unmask_gym.agents.distribution import highest_logit, most_likely_action
from unmask_gym.agents.experts import AlphaKeyedExpert, make_expert
from unmask_gym.agents.loading import warm_start_seconds
from unmask_gym.agents.rollout import collect
from unmask_gym.heuristics import TopK, top_k_confidence
from unmask_gym.testing import CountingTask, FakeDiffusionLM

KEYED = "top_k_confidence:k=1@0.5 | top_k_confidence:k=3@2"


def test_each_row_follows_the_teacher_of_its_alpha():
    expert = AlphaKeyedExpert(KEYED)
    assert expert.specs == ["top_k_confidence:k=1", "top_k_confidence:k=3"]
    selectable = torch.ones(4, 5, dtype=torch.bool)
    obs = {"confidence": torch.rand(4, 5, generator=torch.Generator().manual_seed(0)), "masked": selectable,
           "action_mask": selectable}  # fmt: skip
    # below the first alpha: the first teacher; from an entry's alpha on (inclusive): that entry's
    action = expert(obs, alpha=torch.tensor([0.1, 1.99, 2.0, 50.0]))
    assert action.sum(1).tolist() == [1, 1, 3, 3]
    assert torch.equal(action[2:], top_k_confidence(3)(obs)[2:])
    assert isinstance(make_expert("top_k_confidence:k=2"), TopK)  # no "@": the one policy


@pytest.mark.parametrize(("spec", "message"), [
    ("top_k_confidence:k=1", None),
    ("top_k_confidence:k=1@", "each alpha-keyed expert must be SPEC@ALPHA with ALPHA > 0"),
    ("@2 | top_k_confidence:k=1@3", "got '@2' in"),
    ("top_k_confidence:k=1@0 | top_k_confidence:k=2@3", "ALPHA > 0"),
    ("top_k_confidence:k=1@4 | top_k_confidence:k=2@3", "the experts' alphas must increase from entry to entry, "
                                                         "got [4.0, 3.0]"),
    ("top_k_confidence:k=1@1 | no_such_rule@3", "unknown policy 'no_such_rule'"),
])  # fmt: skip
def test_a_bad_keyed_spec_is_refused_with_what_was_expected(spec, message):
    if message is None:
        with pytest.raises(ValueError, match="SPEC@ALPHA"):
            AlphaKeyedExpert(spec)
        return
    with pytest.raises(ValueError, match=re.escape(message)):
        AlphaKeyedExpert(spec)


def trainer(policy_config: PolicyConfig, **overrides) -> GRPOTrainer:
    settings = {"iterations": 0, "num_groups": 4, "group_size": 4, "block_length": None, "device": "cpu",
                "warm_start": True, "warm_start_learning_rate": 3e-3, "warm_start_batches": 6, "expert": KEYED,
                "warm_start_agreement": 0.97, "warm_start_max_epochs": 60, **overrides}  # fmt: skip
    return GRPOTrainer(GRPOConfig(**settings), policy_config, task=CountingTask(8), model=FakeDiffusionLM())


def test_the_warm_start_distils_each_teacher_where_its_alpha_says():
    conditioned = PolicyConfig(width=32, ff_width=64, alpha_range=(0.5, 8.0))
    distilled = trainer(conditioned)
    assert list(distilled.run()) == []
    assert distilled.warm_start_result["agreement"] >= 0.97  # (the k = 1 teacher's long episodes dominate the steps)
    # On new prompts, played by each teacher at its own alpha, the network's most likely action is that teacher's.
    for alpha, k in ((0.6, 1), (6.0, 3)):
        teacher = top_k_confidence(k)
        rows = distilled.env.num_envs
        fresh = collect(distilled.env, distilled.policy, seed=999, choose=lambda obs, logits, t=teacher: t(obs),
                        alpha=torch.full((rows,), alpha))  # fmt: skip
        with torch.no_grad():
            logits = distilled.policy(fresh.features, fresh.condition)
        chosen = most_likely_action(logits, fresh.action_mask, highest_logit(logits, fresh.action_mask))
        assert (chosen == fresh.action).all(1).float().mean().item() >= 0.9, (alpha, k)


def test_keyed_teachers_are_for_the_warm_start_of_a_conditioned_policy_only():
    with pytest.raises(ValueError, match=re.escape("teach the warm start of a conditioned policy")):
        trainer(PolicyConfig(width=16, ff_width=32))
    with pytest.raises(ValueError, match=re.escape("not expert steering")):
        trainer(PolicyConfig(width=16, ff_width=32, alpha_range=(0.5, 8.0)), expert_steering=True)


def test_a_run_of_the_warm_start_alone_writes_its_policy(tmp_path):
    out = tmp_path / "run"
    distilled = trainer(PolicyConfig(width=16, ff_width=32, alpha_range=(0.5, 8.0)), out=str(out))
    assert list(distilled.run()) == []
    loaded = load_policy(out)  # policy.pt, as for any finished run
    obs = collect(distilled.env, distilled.policy, seed=5, choose=lambda obs, logits: top_k_confidence(1)(obs),
                  alpha=torch.full((distilled.env.num_envs,), 2.0))  # fmt: skip
    with torch.no_grad():
        expected = distilled.policy(obs.features, obs.condition)
    torch.testing.assert_close(loaded.network(obs.features, obs.condition), expected)
    assert (out / "checkpoints" / "iteration_000000.pt").exists()
    # The warm start's seconds are kept (metrics.csv has no row for it), for ship_policy's training time.
    assert 0 < warm_start_seconds(out) == distilled.warm_start_result["seconds"]
    assert warm_start_seconds(tmp_path / "no run") is None
