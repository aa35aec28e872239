"""Markdown summary of the built-in tasks from the shipped checkpoints and the latest `unmask-gym bench` reports.

For each task: its held-out set (distinct prompts), parameters, training steps/time (from the checkpoint
metadata), accuracy at one commit per step (top-k confidence, k = 1) in full diffusion, and the best heuristic of
the hull grid at no more than 2 and 4 mean NFE in full diffusion: the room a learned policy has at low NFE. Then
the EOS-trap table: top-k confidence at each k in both settings (the same NFE, L / k), with the rate of
completions that ended (EOS) before the reference did. Reads benchmarks/results/bench_<task>.json (schema
unmask-gym-bench/1); prints both tables in Markdown.
"""

from __future__ import annotations

import json
from pathlib import Path

from unmask_gym.models import load_model
from unmask_gym.models.checkpoint import training_steps
from unmask_gym.tasks import make_task

RESULTS = Path(__file__).parent / "results"
TASKS = ("addition", "permutation", "statetracking", "sudoku")
BUDGETS = (2, 4)


def best_within(heuristics: list[dict], budget: float) -> float | None:
    """The best heuristic accuracy among settings with mean NFE <= budget (None when no setting is that fast)."""
    fitting = [h["accuracy"] for h in heuristics if h["mean_nfe"] <= budget + 1e-9]
    return max(fitting) if fitting else None


def load_reports() -> dict[str, dict]:
    """Task name → its latest bench report, for every task that has one."""
    paths = {name: RESULTS / f"bench_{name}.json" for name in TASKS}
    return {name: json.loads(path.read_text()) for name, path in paths.items() if path.exists()}


def eos_trap_rows(report: dict) -> list[list[str]]:
    """Semi-AR vs full diffusion for each top-k confidence rule that spends the same NFE in both settings."""
    semi, full = ({h["name"]: h for h in report["settings"][s]["heuristics"] if h["name"].startswith("top_k_conf")}
                  for s in ("semi_ar", "full"))  # fmt: skip
    rows = []
    for name in sorted(semi.keys() & full.keys(), key=lambda spec: int(spec.split("=")[1])):
        a, b = semi[name], full[name]
        if abs(a["mean_nfe"] - b["mean_nfe"]) > 1e-6:
            continue
        rows.append([
            name.split(":")[1],
            f"{a['accuracy']:.2f} @ {a['mean_nfe']:.1f}", f"{b['accuracy']:.2f} @ {b['mean_nfe']:.1f}",
            f"{a['accuracy'] - b['accuracy']:+.2f}", f"{a['early_eos_rate']:.2f} / {b['early_eos_rate']:.2f}",
        ])  # fmt: skip
    return rows


def task_rows(reports: dict[str, dict]) -> list[list[str]]:
    """One row per task of the first table."""
    rows = []
    for name, report in reports.items():
        model = load_model(name)
        meta = model.metadata
        full = report["settings"]["full"]["heuristics"]
        one_per_step = next(h["accuracy"] for h in full if h["name"] == "top_k_confidence:k=1")
        parameters = sum(p.numel() for p in model.parameters())
        training = f"{training_steps(meta)} steps, {meta.get('train_seconds', 0) / 60:.0f} min"
        row = [name, f"{len(make_task(name).held_out_set()):,}", f"{parameters / 1e6:.2f}M", training,
               f"{one_per_step:.3f}"]
        for budget in BUDGETS:
            best = best_within(full, budget)
            row.append("–" if best is None else f"{best:.3f}")
        rows.append(row)
    return rows


def markdown(reports: dict[str, dict]) -> str:
    """Both tables."""
    header = ["task", "held-out prompts", "params", "training", "1 per step (full)"]
    header += [f"best heuristic ≤ {b} NFE (full)" for b in BUDGETS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in task_rows(reports)]
    header = ["task", "top-k", "semi-AR acc @ NFE", "full diffusion acc @ NFE", "semi − full", "EOS early semi / full"]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([name, *row]) + " |" for name, report in reports.items()
              for row in eos_trap_rows(report)]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    """Prints the tables."""
    print(markdown(load_reports()))


if __name__ == "__main__":
    main()
