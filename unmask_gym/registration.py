"""The registered ids: one ``UnmaskGym/<Task>-v0`` per built-in task with its shipped model."""

from __future__ import annotations

import gymnasium as gym

REGISTERED_TASKS = {"Addition": {"task": "addition"}}


def register_envs() -> None:
    """Registers every id (idempotent: importing twice does not warn)."""
    for name, kwargs in REGISTERED_TASKS.items():
        env_id = f"UnmaskGym/{name}-v0"
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="unmask_gym.single_env:UnmaskEnv",
            vector_entry_point="unmask_gym.env:UnmaskVectorEnv",
            kwargs=dict(kwargs),
        )
