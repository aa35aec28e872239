"""Soak test: 10,000 episodes with autoreset on a built-in task; resident memory must stay flat.

Reports resident memory (RSS) after warm-up, at the middle and at the end, and any error; writes
benchmarks/results/soak.json. Not a unit test: run it with `python benchmarks/soak.py`.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import traceback
from pathlib import Path

import torch

from unmask_gym import UnmaskVectorEnv
from unmask_gym.bench import machine_description, publish
from unmask_gym.heuristics import make_policy


def resident_megabytes() -> float:
    """Current resident set size of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    """Runs the soak."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="sudoku")
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--policy", default="random_k:k=4", help="varied episode lengths exercise autoreset")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "soak.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    env = UnmaskVectorEnv(args.num_envs, task=args.task, block_length=None, group_size=4)
    policy = make_policy(args.policy)
    obs, _ = env.reset(seed=0)
    finished, steps, error = 0, 0, None
    samples: dict[str, float] = {}
    start = time.perf_counter()
    try:
        while finished < args.episodes:
            obs, _reward, terminated, _truncated, _info = env.step(policy(obs))
            finished += int(terminated.sum())
            steps += 1
            if "after_warmup" not in samples and finished >= args.episodes // 20:
                gc.collect()
                samples["after_warmup"] = resident_megabytes()
            if "middle" not in samples and finished >= args.episodes // 2:
                gc.collect()
                samples["middle"] = resident_megabytes()
    except Exception:  # the point of a soak is to report any error, not to stop at the first traceback line
        error = traceback.format_exc()
    gc.collect()
    samples["end"] = resident_megabytes()
    growth = samples["end"] / samples.get("after_warmup", samples["end"]) - 1
    report = {
        "task": args.task,
        "policy": args.policy,
        "episodes": finished,
        "steps": steps,
        "seconds": round(time.perf_counter() - start, 1),
        "rss_megabytes": {key: round(value, 1) for key, value in samples.items()},
        "rss_growth_after_warmup": round(growth, 4),
        "flat_within_5_percent": abs(growth) < 0.05,
        "error": error,
        "machine": machine_description(),
    }
    publish(report, args.out)


if __name__ == "__main__":
    main()
