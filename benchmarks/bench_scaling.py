"""Throughput against batch size: forward tokens/s and episodes/s for num_envs = 1, 2, 4, ... up to 512.

Each point steps ``UnmaskVectorEnv(num_envs)`` with the same policy for a fixed wall-time budget after a warm-up
and counts the canvas tokens forwarded (rows forwarded x canvas length) and the episodes finished. Where the
curve flattens the device is saturated: more envs then only add latency. Writes
benchmarks/results/scaling.json and scaling.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from bench_env_overhead import synchronize  # (scripts run from benchmarks/)

from unmask_gym import UnmaskVectorEnv
from unmask_gym.bench import machine_description, publish
from unmask_gym.heuristics import make_policy


class RowCounter:
    """Wraps a model and counts the canvas tokens it forwards."""

    def __init__(self, model: Any) -> None:
        self.model, self.tokens = model, 0

    def logits(self, tokens: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The wrapped model's logits, counted."""
        self.tokens += tokens.numel()
        return self.model.logits(tokens, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def measure(num_envs: int, args: argparse.Namespace) -> dict[str, Any]:
    """One batch size: tokens/s, episodes/s and the time per step."""
    env = UnmaskVectorEnv(num_envs, task=args.task, block_length=args.block_length, device=args.device)
    counter = env.model = RowCounter(env.model)
    policy = make_policy(args.policy)
    obs, _ = env.reset(seed=0)
    for _ in range(args.warmup):
        obs, *_ = env.step(policy(obs))
    synchronize(env.device)
    counter.tokens, episodes, steps = 0, 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds or steps < 3:
        obs, _, terminated, truncated, _ = env.step(policy(obs))
        episodes += int((terminated | truncated).sum())
        steps += 1
    synchronize(env.device)
    seconds = time.perf_counter() - start
    return {
        "num_envs": num_envs,
        "forward_tokens_per_second": round(counter.tokens / seconds),
        "episodes_per_second": round(episodes / seconds, 2),
        "ms_per_step": round(1000 * seconds / steps, 2),
    }


def plot(points: list[dict[str, Any]], title: str, path: Path) -> None:
    """Tokens/s and episodes/s against num_envs, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [point["num_envs"] for point in points]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(sizes, [point["forward_tokens_per_second"] for point in points], marker="o")
    left.set(xscale="log", yscale="log", xlabel="num_envs", ylabel="forward tokens / s")
    right.plot(sizes, [point["episodes_per_second"] for point in points], marker="o", color="tab:green")
    right.set(xscale="log", yscale="log", xlabel="num_envs", ylabel="episodes / s")
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    """Sweeps the batch size and writes the JSON and the plot."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="permutation")
    parser.add_argument("--block-length", type=int, default=None, help="default: full diffusion")
    parser.add_argument("--policy", default="fast_dllm_threshold:threshold=0.9")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
    parser.add_argument("--seconds", type=float, default=4.0, help="wall time per batch size")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="a smoke run: sizes 1, 4, 16 for 0.5 s each")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scaling.json")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.seconds, args.warmup = [1, 4, 16], 0.5, 1
    points = [measure(size, args) for size in args.sizes]
    report = {
        "task": args.task,
        "block_length": args.block_length,
        "policy": args.policy,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "points": points,
        "machine": machine_description(),
    }
    publish(report, None if args.quick else args.out)
    if not args.quick:
        plot(points, f"{args.task}, {args.policy}, {report['machine']}", args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
