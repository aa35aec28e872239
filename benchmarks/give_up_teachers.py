"""Between solving a Sudoku and answering it in one pass: give the hard puzzles up, solve the others.

Under the additive reward score − alpha · NFE / L a conditioned policy's high alphas trade answers for passes.
``give_up:uncertain=U else sudoku-full-a8-ft`` answers in one pass the puzzles whose first pass leaves more than
U cells below 0.9 confidence and has ``sudoku-full-a8-ft`` write the others: a per-prompt mix of its two
behaviours, with the dLLM's first picture choosing the prompts (U = 16 never gives up, U = 0 nearly always does).
This runs it for several U on the bench's 1,000 distinct held-out prompts of full diffusion (the hull's heuristic
runs come from the bench's cache) and names, for each U on the upper concave envelope of these points, the alphas
at which it is the additive reward's best of them: the teachers of the round-24 conditioned runs
(``benchmarks/recipe_study.py``).

Prints Markdown and writes benchmarks/results/give_up_teachers.json.

    python benchmarks/give_up_teachers.py     # about three minutes on one CPU core
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import torch

from unmask_gym.agents.loading import policy_from_spec
from unmask_gym.bench import held_out_parser
from unmask_gym.benchmarking import benchmark, hull_table, summary_rows
from unmask_gym.evaluation import heuristic_hull

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results"
SOLVER = "sudoku-full-a8-ft"
UNCERTAIN = (0, 4, 6, 8, 9, 10, 11, 12, 16)


def spec(uncertain: int) -> str:
    """The policy spec of one U."""
    return f"give_up:uncertain={uncertain} else {SOLVER}"


def additive_bands(rows: list[dict[str, Any]], answer_length: int) -> dict[str, tuple[float, float]]:
    """Name → (low, high): the alphas at which that row is the additive reward's best (rows on the envelope only).

    Along the upper concave envelope of (mean NFE, accuracy), the reward accuracy − alpha · NFE / L prefers the
    vertex whose segments' slopes (times L) bracket alpha: the next one costs more passes than it buys answers.

    Example:
        >>> rows = [{"name": "fast", "mean_nfe": 1.0, "accuracy": 0.3}, {"name": "mid", "mean_nfe": 1.5,
        ...          "accuracy": 0.7}, {"name": "slow", "mean_nfe": 2.0, "accuracy": 0.9}, {"name": "bad",
        ...          "mean_nfe": 1.6, "accuracy": 0.5}]
        >>> additive_bands(rows, answer_length=16)
        {'fast': (12.8, inf), 'mid': (6.4, 12.8), 'slow': (0.0, 6.4)}
    """
    vertices = heuristic_hull((row["mean_nfe"], row["accuracy"]) for row in rows)
    names = {(float(row["mean_nfe"]), float(row["accuracy"])): row["name"] for row in rows}
    slopes = [answer_length * (a2 - a1) / (n2 - n1) for (n1, a1), (n2, a2) in itertools.pairwise(vertices)]
    edges = [float("inf"), *slopes, 0.0]  # alpha falls as the vertices take more passes
    return {names[vertex]: (round(edges[i + 1], 2), round(edges[i], 2)) for i, vertex in enumerate(vertices)}


def markdown(rows: list[dict[str, Any]]) -> str:
    """Each U against the hull, with the alphas where it is the additive optimum."""

    def band(row: dict[str, Any]) -> str:
        if row.get("alpha_band") is None:
            return "–"
        low, high = row["alpha_band"]
        return f"from {low:g}" if high is None else f"{low:g} to {high:g}"

    return hull_table(rows, {"agent": lambda r: f"`{r['name']}`", "additive optimum for alpha": band})


def main() -> None:
    """Runs every U and writes the table."""
    parser = held_out_parser(__doc__.splitlines()[0], cache=ROOT / "bench" / "cache")
    args = parser.parse_args()
    torch.set_num_threads(1)
    agents = {spec(uncertain): policy_from_spec(spec(uncertain))[0] for uncertain in UNCERTAIN}
    report = benchmark(agents, task="sudoku", settings=("full",), episodes=args.episodes, cache_dir=args.cache).data
    rows = summary_rows(report, "full")
    bands = additive_bands(rows, next(iter(agents.values())).env_kwargs["answer_length"])  # the solver's L
    for row in rows:  # JSON has no infinity: the band of the fewest passes is open above
        low, high = bands.get(row["name"], (None, None))
        row["alpha_band"] = None if low is None else [low, None if high == float("inf") else high]
    print(markdown(rows))
    (RESULTS / "give_up_teachers.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
