"""``EnvConfig``: one place that checks and documents every constructor argument, and the docs pages that show it."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import torch

from unmask_gym import UnmaskVectorEnv
from unmask_gym.config import EnvConfig, argument_table
from unmask_gym.tasks import make_task
from unmask_gym.testing import CountingTask, FakeDiffusionLM

DOCS = Path(__file__).parent.parent / "docs"


def test_the_constructor_takes_exactly_the_configs_fields_with_the_same_defaults():
    parameters = inspect.signature(UnmaskVectorEnv.__init__).parameters
    fields = {item.name: item.default for item in dataclasses.fields(EnvConfig)}
    assert [name for name in parameters if name != "self"] == list(fields)
    for name, default in fields.items():
        assert parameters[name].default == default, name


def test_the_docs_argument_table_is_the_generated_one():
    assert argument_table() in (DOCS / "mdp.md").read_text()


@pytest.mark.parametrize("name", ["addition", "permutation", "permutation-v0", "statetracking", "sudoku"])
def test_the_docs_show_each_tasks_prompt_format(name):
    assert f"| {name} | {make_task(name).prompt_format} |" in (DOCS / "tasks.md").read_text()


def test_the_env_exposes_its_resolved_config():
    env = UnmaskVectorEnv(2, task=CountingTask(6), model=FakeDiffusionLM(), block_length=3, max_nfe=4)
    assert env.config.block_length == env.block_length == 3
    assert env.config.max_nfe == env.max_nfe == 4 and env.config.max_episode_steps is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.config.max_nfe = 5


def test_block_length_defaults_to_the_tasks_and_a_task_without_one_is_full_diffusion():
    assert UnmaskVectorEnv(1, task="addition").block_length == make_task("addition").default_block_length == 4
    assert UnmaskVectorEnv(1, task=CountingTask(6), model=FakeDiffusionLM()).block_length is None


def test_first_group_gives_disjoint_prompt_streams_from_one_seed():
    kwargs = {"task": CountingTask(4), "model": FakeDiffusionLM(), "group_size": 2}
    first = UnmaskVectorEnv(4, **kwargs).reset(seed=0)[1]["prompt_id"]
    second = UnmaskVectorEnv(4, first_group=2, **kwargs).reset(seed=0)[1]["prompt_id"]
    both = UnmaskVectorEnv(8, **kwargs).reset(seed=0)[1]["prompt_id"]
    assert torch.equal(torch.cat([first, second]), both)  # ranks 0 and 1 together are one env of both sizes


@pytest.mark.parametrize("bad", [(2, 2), (-1, 2), (0,), (0.0, 2), "0,2"])
def test_prompt_shard_is_checked(bad):
    with pytest.raises(ValueError, match=r"prompt_shard must be \(rank, world\)"):
        UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM(), split="eval", num_prompts=4,
                        prompt_shard=bad)  # fmt: skip
    with pytest.raises(ValueError, match="needs num_prompts"):
        UnmaskVectorEnv(2, task=CountingTask(4), model=FakeDiffusionLM(), prompt_shard=(0, 2))
