"""Teachers that read more than the policy: importable agents as ``--expert``, and the observations they need."""

from __future__ import annotations

import re

import pytest

from unmask_gym.agents import GRPOConfig, GRPOTrainer, PolicyConfig
from unmask_gym.agents.experts import AlphaKeyedExpert, make_expert, observation_kwargs
from unmask_gym.agents.loading import policy_from_spec
from unmask_gym.heuristics import TokenMass
from unmask_gym.tasks.sudoku import RuleGuidedSchedule
from unmask_gym.testing import CountingTask, FakeDiffusionLM

RULES = "unmask_gym.tasks.sudoku:RuleGuidedSchedule"


def test_an_importable_agent_is_a_policy_spec_and_a_teacher():
    policy, env_kwargs = policy_from_spec(RULES)
    assert isinstance(policy, RuleGuidedSchedule) and env_kwargs == {}
    assert isinstance(make_expert(RULES), RuleGuidedSchedule)
    keyed = make_expert(f"token_mass@0.5 | {RULES}@4")
    assert isinstance(keyed, AlphaKeyedExpert) and isinstance(keyed.policies[1], RuleGuidedSchedule)
    with pytest.raises(ValueError, match=re.escape("cannot import 'unmask_gym.nope'")):
        policy_from_spec("unmask_gym.nope:Teacher")


def test_a_teacher_names_the_observations_it_needs():
    assert observation_kwargs(RuleGuidedSchedule()) == {"observe_prompt": True}
    assert observation_kwargs(TokenMass()) == {}
    assert observation_kwargs(make_expert(f"token_mass@0.5 | {RULES}@4")) == {"observe_prompt": True}


def test_the_trainer_builds_its_env_with_what_the_teacher_reads_and_the_policy_ignores_it():
    config = GRPOConfig(warm_start=True, expert=RULES, iterations=1, num_groups=2, group_size=2, block_length=None,
                        device="cpu")  # fmt: skip
    trainer = GRPOTrainer(config, PolicyConfig(width=16, ff_width=32), task=CountingTask(6), model=FakeDiffusionLM())
    assert trainer.env.observe_prompt
    rollouts = trainer.collect(seed=0)  # the policy's rollouts do not read prompt_tokens
    assert rollouts.num_episodes == 4
    assert not GRPOTrainer(GRPOConfig(iterations=1, num_groups=2, group_size=2, block_length=None, device="cpu"),
                           PolicyConfig(width=16, ff_width=32), task=CountingTask(6),
                           model=FakeDiffusionLM()).env.observe_prompt  # fmt: skip


@pytest.mark.filterwarnings("ignore:imitation warm start stopped")  # 2 epochs: it must run, not converge
def test_the_rule_guided_schedule_teaches_a_sudoku_warm_start():
    trainer = GRPOTrainer(GRPOConfig(task="sudoku", block_length=None, warm_start=True, expert=RULES, iterations=0,
                                     num_groups=2, group_size=4, warm_start_batches=1, warm_start_max_epochs=2,
                                     device="cpu"), PolicyConfig(width=16, ff_width=32))  # fmt: skip
    result = trainer.imitation_warm_start()
    assert result["epochs"] == 2 and result["steps"] > 0


def test_the_cli_runs_an_importable_agent_with_the_observations_it_names():
    from unmask_gym.agents.loading import policy_and_env_kwargs

    _, env_kwargs = policy_and_env_kwargs(RULES, "sudoku", None)
    assert env_kwargs == {"task": "sudoku", "block_length": None, "observe_prompt": True}
