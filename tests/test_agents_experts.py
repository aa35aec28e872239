"""Teachers keyed by alpha (``agents/experts.py``): parsing, routing, and the warm start that distils them."""

from __future__ import annotations

import re

import pytest
import torch

from unmask_gym.agents import GRPOConfig, GRPOTrainer, PolicyConfig, load_policy
from unmask_gym.agents.distribution import highest_logit, most_likely_action
from unmask_gym.agents.experts import AlphaKeyedExpert, make_expert
from unmask_gym.agents.loading import iteration_seconds, train_seconds, warm_start_seconds
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


def test_per_teacher_the_warm_start_gives_each_teachers_range_an_equal_share(monkeypatch):
    import unmask_gym.agents.grpo as grpo

    seen = []
    monkeypatch.setattr(grpo, "collect", lambda env, policy, seed, choose, alpha: seen.append(alpha) or
                        collect(env, policy, seed, choose, alpha=alpha))  # fmt: skip
    config = PolicyConfig(width=16, ff_width=32, alpha_range=(0.5, 64.0))
    for per_teacher in (False, True):
        seen.clear()
        runner = trainer(config, expert="top_k_confidence:k=1@0.5 | top_k_confidence:k=3@32", warm_start_batches=8,
                         warm_start_max_epochs=1, warm_start_per_teacher=per_teacher)  # fmt: skip
        list(runner.run())
        alphas = torch.cat(seen)
        assert alphas.min() >= 0.5 and alphas.max() <= 64.0
        share = (alphas >= 32).float().mean().item()  # the k = 3 teacher's range: 1/7 of [0.5, 64] on a log scale
        assert (0.35 < share < 0.65) if per_teacher else (share < 0.3), (per_teacher, share)
    with pytest.raises(ValueError, match=re.escape("warm_start_per_teacher shares a warm start's episodes among")):
        trainer(config, expert="top_k_confidence:k=1", warm_start_per_teacher=True)


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
    assert iteration_seconds(out) == [] and train_seconds(out) == warm_start_seconds(out)
    assert iteration_seconds(tmp_path / "no run") == [] and train_seconds(tmp_path / "no run") is None


def test_train_seconds_add_up_the_iterations_of_metrics_csv(tmp_path):
    (tmp_path / "metrics.csv").write_text("iteration,rollout_seconds,update_seconds,reward\n1,1.5,0.25,0.1\n"
                                          "2,2.0,0.5,0.2\n")  # fmt: skip
    assert iteration_seconds(tmp_path) == [1.75, 2.5]
    assert train_seconds(tmp_path) == 4.25  # no checkpoint: no warm start to add
    assert train_seconds(tmp_path, iterations=1) == 1.75  # what the checkpoint of iteration 1 had cost


def give_up_obs(rows: int = 6, length: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    masked = torch.rand(rows, length, generator=generator) < 0.8
    return {"confidence": torch.rand(rows, length, generator=generator) ** 0.3, "masked": masked,
            "action_mask": masked, "pred_token": torch.randint(0, 3, (rows, length), generator=generator),
            "margin": torch.rand(rows, length, generator=generator), "entropy": torch.rand(rows, length),
            "step_frac": torch.zeros(rows, 1)}  # fmt: skip


def test_give_up_else_token_mass_is_the_give_up_heuristic_and_else_swaps_what_kept_rows_follow():
    from unmask_gym.agents.experts import GiveUpElse
    from unmask_gym.heuristics import make_policy

    obs = give_up_obs()
    same = GiveUpElse.from_spec("give_up:uncertain=9 else token_mass:scale=0.75")
    assert torch.equal(same(obs), make_policy("give_up:uncertain=9,scale=0.75")(obs))
    rule = GiveUpElse.from_spec("give_up:uncertain=9 else top_k_confidence:k=1")
    assert rule.__name__ == "give_up:uncertain=9 else top_k_confidence:k=1"
    gives_up = make_policy("give_up:uncertain=9").gives_up(obs)[:, 0]
    assert 0 < int(gives_up.sum()) < len(gives_up)  # both kinds of rows
    action = rule(obs)
    assert torch.equal(action[gives_up], obs["action_mask"][gives_up])
    assert torch.equal(action[~gives_up], top_k_confidence(1)(obs)[~gives_up])
    single = {key: value[0].numpy() for key, value in obs.items()}  # a single env's numpy row: answered in kind
    assert (rule(single) == action[0].numpy()).all()


@pytest.mark.parametrize(("spec", "message"), [
    ("top_k_confidence:k=1 else token_mass", "takes a give_up spec as RULE and a policy spec after it"),
    ("give_up:uncertain=3 else ", "takes a give_up spec as RULE and a policy spec after it"),
    ("give_up:uncertain=x else token_mass", "parameter 'uncertain' of 'give_up' must be int, got 'x'")])
def test_a_bad_give_up_else_spec_is_refused(spec, message):
    from unmask_gym.agents.loading import policy_from_spec

    with pytest.raises(ValueError, match=re.escape(message)):
        policy_from_spec(spec)


def test_give_up_else_a_learned_policy_runs_in_its_mdp_and_reproduces():
    from unmask_gym.agents.loading import policy_from_spec
    from unmask_gym.evaluation import evaluate, make_eval_env

    rule, env_kwargs = policy_from_spec("give_up:uncertain=2 else statetracking-full-a3")
    assert env_kwargs == load_policy("statetracking-full-a3").env_kwargs
    assert policy_from_spec("give_up:uncertain=2 else top_k_confidence:k=1")[1] == {}
    runs = [evaluate(make_eval_env(episodes=24, num_envs=8, **env_kwargs), rule, seed=0) for _ in range(2)]
    assert runs[0].records == runs[1].records  # reseed reaches the learned policy's sampler
    plain = evaluate(make_eval_env(episodes=24, num_envs=8, **env_kwargs), load_policy("statetracking-full-a3"))
    assert runs[0].mean_nfe < plain.mean_nfe  # some answers given up at their first pass
    keyed = AlphaKeyedExpert("top_k_confidence:k=1@0.5 | give_up:uncertain=2 else top_k_confidence:k=2@4")
    assert keyed.specs[1] == "give_up:uncertain=2 else top_k_confidence:k=2"
