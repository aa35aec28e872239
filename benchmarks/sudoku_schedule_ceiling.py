"""How fast an unmasking schedule could write Sudoku with the built-in dLLM: a ceiling for the learned policies.

The learning issue's second target asks, in full diffusion, for hull + 30 points (or twice the hull) where the hull
is at least 20 points below one commit per step. On Sudoku the shipped policies reach 13 points. This measures
whether the dLLM leaves room for more: ``unmask_gym.tasks.sudoku.RuleGuidedSchedule`` unmasks with knowledge no
policy has, the puzzle's rules. Each pass it takes the valid 4×4 grid that agrees with the givens and with
everything committed so far and matches the most of the dLLM's current predictions, and commits exactly the
predictions that agree with it (the most confident position when none does). It writes only what the dLLM
predicted, so it is a schedule, not a solver: what it reaches, a policy that chose the same positions would reach.
It runs on the bench's 1,000 distinct
held-out prompts (the hull's heuristic runs come from the bench's cache), prints Markdown and writes
benchmarks/results/sudoku_schedule_ceiling.json.

    python benchmarks/sudoku_schedule_ceiling.py     # about a minute on one CPU core
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from unmask_gym.bench import held_out_parser
from unmask_gym.benchmarking import benchmark, hull_summary, hull_table
from unmask_gym.tasks.sudoku import RuleGuidedSchedule

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The ceiling against the hull, and what target 2 asks for at its NFE (hull + 30 points or twice the hull)."""
    return hull_table(rows, {"schedule": lambda r: r["name"]},
                      {"target 2 asks there": lambda r: f"{r['target_two']:.3f}"})  # fmt: skip


def main() -> None:
    """Runs the schedule and writes the table."""
    parser = held_out_parser(__doc__.splitlines()[0], cache=ROOT / "bench" / "cache")
    args = parser.parse_args()
    torch.set_num_threads(1)
    report = benchmark({"solver-guided schedule": RuleGuidedSchedule()}, task="sudoku", settings=("full",),
                       episodes=args.episodes, cache_dir=args.cache).data  # fmt: skip
    rows = []
    for point in report["settings"]["full"]["agents"]["solver-guided schedule"]:
        hull = point["hull_accuracy"]
        rows.append({"name": "solver-guided schedule (knows the rules)", "episodes": report["distinct_prompts"],
                     "machine": report["machine"], "target_two": min(hull + 0.3, 2 * hull),
                     "passes": sorted(set(point["per_prompt"]["nfe"])), **hull_summary(point)})  # fmt: skip
    print(markdown(rows))
    (RESULTS / "sudoku_schedule_ceiling.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
