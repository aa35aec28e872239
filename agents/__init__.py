"""Agents for unmask-gym: the paper's unmasking policy, its GRPO trainer and trained-policy loading.

Installed as ``unmask_gym.agents`` (the folder ``agents/`` is mapped there, so it never clashes with other
packages called ``agents``, such as openai-agents)::

    from unmask_gym.agents import load_policy
    policy = load_policy("runs/addition")  # a run folder, a checkpoint file or a shipped name

The names load their module on first use, so that ``unmask-gym train --help`` does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .distribution import commit_probabilities, log_prob, sample_action
    from .grpo import GRPOConfig, GRPOTrainer, clipped_surrogate_loss, group_advantages
    from .loading import (
        list_policies,
        load_policy,
        policy_and_env_kwargs,
        policy_from_spec,
        read_checkpoint,
        save_checkpoint,
    )
    from .policy import LearnedPolicy, PolicyConfig, UnmaskingPolicy, policy_inputs

_LAZY = {
    "commit_probabilities": "distribution",
    "log_prob": "distribution",
    "sample_action": "distribution",
    "GRPOConfig": "grpo",
    "GRPOTrainer": "grpo",
    "clipped_surrogate_loss": "grpo",
    "group_advantages": "grpo",
    "list_policies": "loading",
    "load_policy": "loading",
    "policy_and_env_kwargs": "loading",
    "policy_from_spec": "loading",
    "read_checkpoint": "loading",
    "save_checkpoint": "loading",
    "LearnedPolicy": "policy",
    "PolicyConfig": "policy",
    "UnmaskingPolicy": "policy",
    "policy_inputs": "policy",
}

__all__ = [
    "GRPOConfig",
    "GRPOTrainer",
    "LearnedPolicy",
    "PolicyConfig",
    "UnmaskingPolicy",
    "clipped_surrogate_loss",
    "commit_probabilities",
    "group_advantages",
    "list_policies",
    "load_policy",
    "log_prob",
    "policy_and_env_kwargs",
    "policy_from_spec",
    "policy_inputs",
    "read_checkpoint",
    "sample_action",
    "save_checkpoint",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
