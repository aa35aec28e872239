"""Continuous batching vs a static batch: episodes per second with the same policy, model and batch size.

Continuous: `AutoresetMode.SAME_STEP` refills each finished slot at once, so every forward pass carries N live
episodes. Static (the paper's evaluation loop): a batch of N prompts runs until its slowest episode ends, then the
next batch starts; finished rows wait (our env skips them in the forward, so the static loop wastes no compute
either, only batch occupancy). Prints the ratio measured in one run; writes
benchmarks/results/continuous_batching.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym import UnmaskVectorEnv
from unmask_gym.bench import machine_description
from unmask_gym.evaluation import save_json
from unmask_gym.heuristics import make_policy


def run(args: argparse.Namespace, static: bool) -> tuple[float, int]:
    """Seconds and batched steps to finish ``args.episodes`` episodes.

    ``static=False`` refills each finished slot at once (SAME_STEP autoreset); ``static=True`` waits for the whole
    batch to finish, then resets every slot.
    """
    mode = AutoresetMode.DISABLED if static else AutoresetMode.SAME_STEP
    env = UnmaskVectorEnv(args.num_envs, task=args.task, block_length=None, autoreset_mode=mode)
    policy = make_policy(args.policy)
    obs, _ = env.reset(seed=0)
    finished, passes = 0, 0
    start = time.perf_counter()
    while finished < args.episodes:
        obs, _, terminated, _, _ = env.step(policy(obs))
        finished += int(terminated.sum())
        passes += 1
        if static and not env.running.any():
            obs, _ = env.reset(options={"reset_mask": np.ones(args.num_envs, dtype=bool)})
    return time.perf_counter() - start, passes


def main() -> None:
    """Runs both loops and reports episodes per second."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="permutation")
    parser.add_argument("--policy", default="fast_dllm_threshold:threshold=0.9", help="varied episode lengths")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--episodes", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "continuous_batching.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    run(args, static=True)  # warm-up (allocations, model load)
    continuous_seconds, continuous_passes = run(args, static=False)
    static_seconds, static_passes = run(args, static=True)
    report = {
        "task": args.task,
        "policy": args.policy,
        "num_envs": args.num_envs,
        "episodes": args.episodes,
        "continuous": {"seconds": round(continuous_seconds, 2), "batched_steps": continuous_passes},
        "static": {"seconds": round(static_seconds, 2), "batched_steps": static_passes},
        "episodes_per_second_ratio": round(static_seconds / continuous_seconds, 3),
        "machine": machine_description(),
        "threads": args.threads,
    }
    print(json.dumps(report, indent=2))
    save_json(report, args.out)


if __name__ == "__main__":
    main()
