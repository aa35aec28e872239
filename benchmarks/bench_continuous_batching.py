"""Continuous batching against static batches: passes, row-forwards, episodes per second and accuracy.

Three ways to decode the same held-out prompts with the same policy, model and batch size N:
- ``continuous``: ``AutoresetMode.SAME_STEP`` refills each finished slot at once, so every forward pass carries up
  to N live episodes (this env's default).
- ``static_skip``: a batch of N prompts runs until its slowest episode ends, then the next batch starts; finished
  rows wait and are not forwarded (``AutoresetMode.DISABLED`` plus a full reset).
- ``paper_static``: the paper's evaluation loop: the same static batches, but finished sequences stay in the batch
  and keep being forwarded (every pass runs N rows).

On a GPU a pass costs about the same for 10 or 64 rows, so batched passes are what counts there; on a CPU cost
follows the rows forwarded. The report gives both, the wall time on this machine and each loop's accuracy (equal:
decoding is greedy and each row's trajectory is its own). Writes benchmarks/results/continuous_batching.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym import UnmaskVectorEnv
from unmask_gym.bench import machine_description, publish
from unmask_gym.heuristics import make_policy


class CountedForward:
    """Wraps a model: counts batched passes and rows forwarded; ``full_batch`` forwards every pass N rows wide."""

    def __init__(self, model: Any, full_batch: int | None = None) -> None:
        self.model, self.full_batch, self.passes, self.rows = model, full_batch, 0, 0

    def logits(self, tokens: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """The wrapped model's logits; with ``full_batch`` the batch is topped up to N rows first.

        The top-up rows repeat the first row: they cost what the paper's finished rows cost (same canvas length)
        and their logits are dropped, as the paper's loop drops its finished rows' predictions.
        """
        rows = tokens.shape[0]
        if self.full_batch is not None and rows < self.full_batch:
            extra = self.full_batch - rows
            tokens = torch.cat([tokens, tokens[:1].expand(extra, -1)])
            attention_mask = torch.cat([attention_mask, attention_mask[:1].expand(extra, -1)])
        self.passes += 1
        self.rows += tokens.shape[0]
        return self.model.logits(tokens, attention_mask, positions=positions)[:rows]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def decode_all(loop: str, args: argparse.Namespace) -> dict[str, Any]:
    """Decodes ``args.episodes`` held-out prompts with one loop; its seconds, passes, rows and accuracy."""
    mode = AutoresetMode.SAME_STEP if loop == "continuous" else AutoresetMode.DISABLED
    env = UnmaskVectorEnv(args.num_envs, task=args.task, block_length=None, autoreset_mode=mode,
                          num_prompts=args.episodes, split="eval")  # fmt: skip
    counted = env.model = CountedForward(env.model, args.num_envs if loop == "paper_static" else None)
    policy = make_policy(args.policy)
    correct, finished = 0, 0
    start = time.perf_counter()
    obs, _ = env.reset(seed=0)
    while True:
        obs, *_, info = env.step(policy(obs))
        ended = info.get("_episode")
        if ended is not None:
            source = info["final_info"] if loop == "continuous" else info
            correct += int(source["correct"][ended].sum())
            finished += int(ended.sum())
        if not env.running.any():
            if env.prompts_remaining == 0:
                break
            if loop != "continuous":  # the next static batch
                obs, _ = env.reset(options={"reset_mask": np.ones(args.num_envs, dtype=bool)})
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 3),
        "episodes_per_second": round(finished / seconds, 2),
        "batched_passes": counted.passes,
        "row_forwards": counted.rows,
        "episodes": finished,
        "accuracy": round(correct / finished, 4),
    }


def compare(task: str, args: argparse.Namespace) -> dict[str, Any]:
    """The three loops on one task, with the ratios against continuous batching."""
    args.task = task
    loops = {loop: decode_all(loop, args) for loop in ("continuous", "static_skip", "paper_static")}
    continuous, paper, skip = loops["continuous"], loops["paper_static"], loops["static_skip"]
    return {
        "loops": loops,
        "paper_over_continuous": {
            "batched_passes": round(paper["batched_passes"] / continuous["batched_passes"], 3),
            "row_forwards": round(paper["row_forwards"] / continuous["row_forwards"], 3),
            "seconds": round(paper["seconds"] / continuous["seconds"], 3),
        },
        "static_skip_over_continuous": {
            "batched_passes": round(skip["batched_passes"] / continuous["batched_passes"], 3),
            "row_forwards": round(skip["row_forwards"] / continuous["row_forwards"], 3),
            "seconds": round(skip["seconds"] / continuous["seconds"], 3),
        },
        "equal_accuracy": len({loop["accuracy"] for loop in loops.values()}) == 1,
    }


def main() -> None:
    """Runs the three loops on each task and reports their ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["sudoku", "permutation"],
                        help="Sudoku's episode lengths vary widely (mean 4.5, sd 3.0 NFE with the default policy); "
                             "Permutation's hardly (8.0, sd 2.1)")  # fmt: skip
    parser.add_argument("--policy", default="fast_dllm_threshold:threshold=0.9")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--episodes", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 64 episodes, 16 envs, first task only")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "continuous_batching.json")
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.num_envs, args.tasks = 64, 16, args.tasks[:1]
    torch.set_num_threads(args.threads)
    report = {
        "policy": args.policy,
        "num_envs": args.num_envs,
        "episodes": args.episodes,
        "block_length": None,
        "tasks": {task: compare(task, args) for task in args.tasks},
        "machine": machine_description(),
        "threads": args.threads,
    }
    publish(report, None if args.quick else args.out)


if __name__ == "__main__":
    main()
