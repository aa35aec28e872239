"""The registered ids: one ``UnmaskGym/<Task>-v0`` per built-in task with its shipped model."""

from __future__ import annotations

import gymnasium as gym

# Each id pairs a built-in task with its shipped model, in the task's semi-AR setting (4-token blocks);
# pass block_length=None to gym.make / gym.make_vec for full diffusion.
REGISTERED_TASKS = {
    "Addition": {"task": "addition", "block_length": 4},
    "Permutation": {"task": "permutation", "block_length": 4},
    "StateTracking": {"task": "statetracking", "block_length": 4},
    "Sudoku": {"task": "sudoku", "block_length": 4},
}


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
