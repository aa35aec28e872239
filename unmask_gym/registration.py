"""The registered ids: one ``UnmaskGym/<Task>-v<N>`` per built-in task with its shipped model."""

from __future__ import annotations

import gymnasium as gym

# Each id pairs a built-in task with its shipped model, in the task's semi-AR setting (4-token blocks);
# pass block_length=None to gym.make / gym.make_vec for full diffusion. The version goes up whenever a change
# alters returns (a new task layout or model): StateTracking-v1 has 16 swaps, two spellings per cup and a
# 32-position, EOS-heavy buffer; Sudoku-v1 has 8–14 blanks (v0: 6–11), so more grids fit and parallel commits clash;
# Permutation-v1 takes multisets of digits (about 18,000 held-out prompts; v0's distinct digits left 74: superseded).
REGISTERED_TASKS = {
    "Addition-v0": {"task": "addition", "block_length": 4},
    "Permutation-v0": {"task": "permutation-v0", "block_length": 4},
    "Permutation-v1": {"task": "permutation", "block_length": 4},
    "StateTracking-v1": {"task": "statetracking", "block_length": 4},
    "Sudoku-v1": {"task": "sudoku", "block_length": 4},
}


# A real dLLM from local files (model=PATH, task="gsm8k"/"math", dataset=PATH): see unmask_gym/hf_env.py.
HF_ID = "UnmaskGym/HF-v0"


def registered_ids() -> list[str]:
    """Every id of a built-in task with its shipped model (``HF_ID`` is registered too: it needs ``model=PATH``).

    Example:
        >>> "UnmaskGym/StateTracking-v1" in registered_ids()
        True
    """
    return [f"UnmaskGym/{name}" for name in REGISTERED_TASKS]


def register_envs() -> None:
    """Registers every id (idempotent: importing twice does not warn)."""
    for env_id, kwargs in zip(registered_ids(), REGISTERED_TASKS.values(), strict=True):
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="unmask_gym.single_env:UnmaskEnv",
            vector_entry_point="unmask_gym.env:UnmaskVectorEnv",
            kwargs=dict(kwargs),
        )
    if HF_ID not in gym.registry:
        gym.register(id=HF_ID, entry_point="unmask_gym.hf_env:make_hf_env",
                     vector_entry_point="unmask_gym.hf_env:make_hf_vector_env")  # fmt: skip
