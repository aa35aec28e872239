"""What each training choice bought a conditioned policy: the held-out alpha sweeps of several runs side by side.

    python benchmarks/conditioned_ablation.py runs/sudoku-full-cond runs/sudoku-full-cond-wide ...

Each run folder holds ``eval.json`` (its held-out sweep over alpha, written by ``unmask-gym train``),
``metrics.csv`` (training seconds) and ``config.json``; a ``<folder>.cmd`` file next to it, if any, holds the
command that made it. Prints a Markdown table per task and setting with each
run's sweep (accuracy @ mean NFE per alpha) and the best accuracy it reaches at no more than a few NFE budgets,
and writes benchmarks/results/conditioned_ablation.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from unmask_gym.agents.loading import run_command, train_seconds

RESULTS = Path(__file__).parent / "results"
DIFFERS = ("alpha_range", "iterations", "num_groups", "expert_steering", "expert", "warm_start", "update_epochs",
           "width", "learning_rate")  # fmt: skip


def summarize_run(folder: Path) -> dict:
    """A run's settings that an ablation varies, its training seconds and its held-out sweep."""
    config = json.loads((folder / "config.json").read_text())
    settings = {**config["grpo"], **config["policy"]}
    evaluation = json.loads((folder / "eval.json").read_text())
    sweep = [{key: point[key] for key in ("alpha", "accuracy", "mean_nfe")} for point in evaluation["alpha_sweep"]]
    return {
        "run": folder.name, "command": run_command(folder),
        "task": settings["task"], "block_length": evaluation["block_length"],
        "settings": {key: settings[key] for key in DIFFERS if key in settings},
        "train_seconds": round(train_seconds(folder)),
        "sweep": sorted(sweep, key=lambda point: point["alpha"]), "episodes": evaluation["episodes"],
    }  # fmt: skip


def best_within(sweep: list[dict], budget: float) -> float | None:
    """The sweep's best accuracy at no more than ``budget`` mean NFE (None when no point fits)."""
    fitting = [point["accuracy"] for point in sweep if point["mean_nfe"] <= budget + 1e-9]
    return max(fitting) if fitting else None


def main() -> None:
    """Prints the table and writes the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders of conditioned policies")
    args = parser.parse_args()
    summaries = [summarize_run(folder) for folder in args.runs]
    budgets: dict[tuple, list[float]] = {}
    for summary in summaries:
        nfe = [point["mean_nfe"] for point in summary["sweep"]]
        budgets.setdefault((summary["task"], summary["block_length"]), []).extend(nfe)
    for summary in summaries:
        low, high = min(budgets[(summary["task"], summary["block_length"])]), max(
            budgets[(summary["task"], summary["block_length"])])  # fmt: skip
        grid = [round(low + (high - low) * fraction, 2) for fraction in (0.0, 0.25, 0.5, 0.75, 1.0)]
        summary["best_within"] = {str(budget): best_within(summary["sweep"], budget) for budget in grid}
    print("| run | setting | what differs | training | sweep (alpha: accuracy @ NFE) | best accuracy at <= NFE |")
    print("|---|---|---|---|---|---|")
    for summary in summaries:
        sweep = ", ".join(f"{p['alpha']:g}: {p['accuracy']:.2f} @ {p['mean_nfe']:.2f}" for p in summary["sweep"])
        best = ", ".join(f"{budget}: {'-' if value is None else f'{value:.2f}'}"
                         for budget, value in summary["best_within"].items())  # fmt: skip
        setting = "full" if summary["block_length"] is None else f"B={summary['block_length']}"
        peers = [other for other in summaries if (other["task"], other["block_length"]) == (summary["task"],
                                                                                          summary["block_length"])]
        varying = [key for key in summary["settings"] if len({json.dumps(p["settings"].get(key)) for p in peers}) > 1]
        differs = ", ".join(f"{key}={summary['settings'][key]}" for key in varying) or "-"
        print(f"| {summary['run']} | {summary['task']} {setting} | {differs} | {summary['train_seconds'] / 60:.1f} min "
              f"| {sweep} | {best} |")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "conditioned_ablation.json").write_text(json.dumps(summaries, indent=2) + "\n")


if __name__ == "__main__":
    main()
