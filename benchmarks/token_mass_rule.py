"""The ``token_mass`` rule against the heuristic hull: what reading token equality alone buys, with no learning.

The hull's rules read confidences only; ``unmask_gym.heuristics.TokenMass`` also reads whether two positions
predict the same token (the numbers of the policy features ``token_mass`` and ``token_rank``). This runs it at a
few scales on every task and setting, on the same 1,000 distinct held-out prompts as ``unmask-gym bench`` (the
hull's heuristic runs come from the bench's cache), prints Markdown and writes
benchmarks/results/token_mass_rule.json. It is a reference for the learned policies, not part of the hull.

    python benchmarks/token_mass_rule.py              # about 10 minutes on one CPU core
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from unmask_gym.bench import held_out_parser
from unmask_gym.benchmarking import benchmark, hull_summary, hull_table
from unmask_gym.heuristics import TokenMass

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results"
TASKS = ("permutation", "sudoku", "statetracking")
SCALES = (0.5, 0.75, 1.0)


def markdown(rows: list[dict]) -> str:
    """One row per task, setting and scale."""
    return hull_table(rows, {"task": lambda r: r["task"], "setting": lambda r: r["setting"],
                             "rule": lambda r: f"`{r['rule']}`"})  # fmt: skip


def main() -> None:
    """Runs the rule and writes the table."""
    parser = held_out_parser(__doc__.splitlines()[0], cache=ROOT / "bench" / "cache")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for task in TASKS:
        rules = {f"token_mass:scale={scale}": TokenMass(scale) for scale in SCALES}
        report = benchmark(rules, task=task, episodes=args.episodes, cache_dir=args.cache).data
        for setting, data in report["settings"].items():
            for rule, points in data["agents"].items():
                point = points[0]
                rows.append({"task": task, "setting": setting, "rule": rule, "episodes": report["distinct_prompts"],
                             "machine": report["machine"],
                             **hull_summary(point)})
    print(markdown(rows))
    (RESULTS / "token_mass_rule.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
