"""Every multi-process path runs reset and steps, in a subprocess with a hard timeout so that a hang fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

GYM_ASYNC = """
import gymnasium as gym
import torch
import unmask_gym

torch.randn(1000, 1000) @ torch.randn(1000, 1000)  # the parent's thread pool is started before the fork
if __name__ == "__main__":
    envs = gym.make_vec("UnmaskGym/Sudoku-v1", num_envs=2, vectorization_mode="async"{context})
    obs, info = envs.reset(seed=0)
    for _ in range(5):
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    envs.close()
    print("ok", obs["masked"].shape)
"""

SB3_SUBPROC = """
import torch
from stable_baselines3.common.vec_env import SubprocVecEnv
import gymnasium as gym
import unmask_gym

torch.randn(1000, 1000) @ torch.randn(1000, 1000)
if __name__ == "__main__":
    envs = SubprocVecEnv([lambda: gym.make("UnmaskGym/Sudoku-v1")] * 2{context})
    envs.seed(0)
    obs = envs.reset()
    for _ in range(5):
        obs, reward, done, info = envs.step([envs.action_space.sample() for _ in range(2)])
    envs.close()
    print("ok", obs["masked"].shape)
"""


def run_script(script: str, directory, timeout: float = 120) -> str:
    path = directory / "main.py"  # a file, as users run it: spawn and forkserver children re-import it
    path.write_text(textwrap.dedent(script))
    try:
        done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {timeout} s (killed)")
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("context", ["", ', vector_kwargs={"context": "spawn"}', ', vector_kwargs={"context": "fork"}'])
def test_gymnasium_async_mode_resets_and_steps(context, tmp_path):
    assert run_script(GYM_ASYNC.format(context=context), tmp_path).startswith("ok (2, 16)")


@pytest.mark.parametrize("context", ["", ', start_method="fork"'])
def test_sb3_subproc_vec_env_resets_and_steps(context, tmp_path):
    pytest.importorskip("stable_baselines3")
    assert run_script(SB3_SUBPROC.format(context=context), tmp_path).startswith("ok (2, 16)")
