"""PPO against GRPO: one network trained by each, judged against the heuristic hull on the same held-out prompts.

    python benchmarks/ppo_vs_grpo.py --ppo runs/sudoku-full-ppo-a4 --grpo runs/sudoku-full-grpo-a4 --episodes 1000

Both runs train the same network on the same task, setting and alpha, each with its algorithm's defaults. Three
points are benchmarked with ``unmask_gym.benchmarking.benchmark`` on the same distinct held-out prompts as the
heuristic grid (the heuristics come from the bench cache): each run's final policy, and the checkpoint of the
longer run whose training time (rollouts + updates, ``metrics.csv``) first reaches the shorter run's whole time,
the two algorithms at equal CPU time. Each row reports accuracy @ mean NFE, the hull there and the gain with its
paired bootstrap 95% interval, the training time and the command (the run's ``<folder>.cmd``, where this project's
runs keep it). Writes benchmarks/results/ppo_vs_grpo.json and prints a Markdown table.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import torch

from unmask_gym.agents import load_policy
from unmask_gym.agents.loading import (
    checkpoint_path,
    iteration_seconds,
    run_command,
    train_seconds,
    warm_start_seconds,
)
from unmask_gym.bench import held_out_parser
from unmask_gym.benchmarking import benchmark, hull_table, summary_rows

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results"


def checkpoint_at(run: Path, seconds: float) -> tuple[int, float]:
    """The run's first checkpointed iteration whose training time reaches ``seconds``, and that time.

    The time is ``train_seconds(run, iteration)``'s (the warm start, then the iterations), summed as it goes: the
    run's metrics and checkpoint are read once.

    Raises:
        ValueError: when no checkpoint of the run has trained that long.
    """
    elapsed = itertools.accumulate(iteration_seconds(run), initial=warm_start_seconds(run) or 0.0)
    for iteration, spent in enumerate(elapsed):
        if iteration and spent >= seconds and checkpoint_path(run, iteration).exists():
            return iteration, spent
    raise ValueError(f"{run} has no checkpoint at or after {seconds:.0f} s of training")


def points(ppo: Path, grpo: Path) -> dict[str, dict]:
    """What to benchmark: each run's final policy, then the longer run's checkpoint at the shorter one's time.

    Returns:
        label → ``{"source": the run folder or checkpoint file, "train_seconds", "command": its .cmd or None}``.
    """
    runs = {"ppo": ppo, "grpo": grpo}
    seconds = {name: train_seconds(run) for name, run in runs.items()}
    for name, run in runs.items():
        if seconds[name] is None:
            raise ValueError(f"{run} has no metrics.csv: pass a finished run folder")
    shorter, longer = sorted(runs, key=lambda name: seconds[name])
    iteration, elapsed = checkpoint_at(runs[longer], seconds[shorter])
    chosen = {name: {"source": run, "train_seconds": seconds[name], "command": run_command(run)}
              for name, run in runs.items()}  # fmt: skip
    chosen[f"{longer} at {shorter}'s time (iteration {iteration})"] = {
        "source": checkpoint_path(runs[longer], iteration), "train_seconds": elapsed,
        "command": run_command(runs[longer])}  # fmt: skip
    return chosen


def markdown(rows: list[dict]) -> str:
    """The comparison's table, one row per point."""
    return hull_table(rows, {"policy": lambda row: row["name"],
                             "training": lambda row: f"{row['train_seconds'] / 60:.1f} min"})


def main() -> None:
    """Benchmarks the three points and writes the table."""
    parser = held_out_parser(__doc__.splitlines()[0], cache=ROOT / "bench" / "cache")
    parser.add_argument("--ppo", type=Path, required=True, help="a finished PPO run folder (with checkpoints/)")
    parser.add_argument("--grpo", type=Path, required=True, help="a finished GRPO run folder (with checkpoints/)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    chosen = points(args.ppo, args.grpo)
    policies = {name: load_policy(point["source"]) for name, point in chosen.items()}
    trained_for = {(kwargs["task"], kwargs["block_length"], kwargs["alpha"])
                   for kwargs in (policy.env_kwargs for policy in policies.values())}  # fmt: skip
    if len(trained_for) != 1:
        raise SystemExit(f"the runs were trained for different (task, block_length, alpha): {sorted(trained_for)}")
    task, block_length, _alpha = trained_for.pop()
    setting = "full" if block_length is None else "semi_ar"
    report = benchmark(policies, task=task, settings=(setting,), episodes=args.episodes, cache_dir=args.cache).data
    rows = [{**row, "task": task, "setting": setting, "source": str(chosen[row["name"]]["source"]),
             "train_seconds": chosen[row["name"]]["train_seconds"], "command": chosen[row["name"]]["command"]}
            for row in summary_rows(report, setting)]  # fmt: skip
    print(markdown(rows))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ppo_vs_grpo.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
