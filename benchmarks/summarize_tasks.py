"""Markdown summary of the built-in tasks from the shipped checkpoints and the latest `unmask-gym bench` results.

For each task: parameters, training steps/time/machine (from the checkpoint metadata), accuracy at one commit per
step in the best order, accuracy in one forward pass, and the best heuristic's accuracy within NFE budgets in the
semi-AR and full-diffusion settings. Reads benchmarks/results/bench_<task>.json; prints the table.
"""

from __future__ import annotations

import json
from pathlib import Path

from unmask_gym.models import list_models, load_model

RESULTS = Path(__file__).parent / "results"
BUDGETS = (1, 2, 4, 8)


def best_within(points: list[dict], budget: float) -> str:
    """Best accuracy among points with mean NFE ≤ budget ("–" when no rule is that fast)."""
    fitting = [p for p in points if p["mean_nfe"] <= budget + 1e-9]
    if not fitting:
        return "–"
    best = max(fitting, key=lambda p: p["accuracy"])
    return f"{best['accuracy']:.2f}"


def main() -> None:
    """Prints the table."""
    header = ["task", "params", "training", "1 per step (best order)", "1 pass"]
    header += [f"best rule ≤{b} NFE semi-AR / full" for b in BUDGETS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name in list_models():
        path = RESULTS / f"bench_{name}.json"
        if not path.exists():
            continue
        results = json.loads(path.read_text())["results"]
        model = load_model(name)
        parameters = sum(p.numel() for p in model.parameters())
        meta = model.metadata
        training = f"{meta.get('steps')} steps, {meta.get('train_seconds', 0) / 60:.0f} min"
        settings = list(results)
        points = [p for s in settings for p in results[s]["points"]]
        one_per_step = max(p["accuracy"] for p in points if p["policy"].endswith(":k=1"))
        one_pass = max(p["accuracy"] for p in results["full diffusion"]["points"] if p["mean_nfe"] <= 1.0)
        row = [name, f"{parameters / 1e6:.2f}M", training, f"{one_per_step:.3f}", f"{one_pass:.3f}"]
        for budget in BUDGETS:
            semi, full = (best_within(results[s]["points"], budget) for s in settings)
            row.append(f"{semi} / {full}")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
