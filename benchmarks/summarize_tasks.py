"""Markdown summary of the built-in tasks from the shipped checkpoints and the latest `unmask-gym bench` results.

For each task: parameters, training steps/time/machine (from the checkpoint metadata), accuracy at one commit per
step in the best order, accuracy in one forward pass, and the best heuristic's accuracy within NFE budgets in the
semi-AR and full-diffusion settings. Then the EOS-trap table: top-k confidence at each k in both settings (the same
NFE, L / k), with the rate of completions that ended (EOS) before the reference did.
Reads benchmarks/results/bench_<task>.json; prints both tables in Markdown.
"""

from __future__ import annotations

import json
from pathlib import Path

from unmask_gym.models import list_models, load_model
from unmask_gym.models.checkpoint import training_steps

RESULTS = Path(__file__).parent / "results"
BUDGETS = (1, 2, 4, 8)


def best_within(points: list[dict], budget: float) -> str:
    """Best heuristic accuracy among points with mean NFE ≤ budget ("–" when no rule is that fast)."""
    fitting = [p for p in points if p["mean_nfe"] <= budget + 1e-9 and not p.get("learned", False)]
    if not fitting:
        return "–"
    best = max(fitting, key=lambda p: p["accuracy"])
    return f"{best['accuracy']:.2f}"


def load_results() -> dict[str, dict]:
    """Task name → its latest bench results, for every shipped model that has them."""
    paths = {name: RESULTS / f"bench_{name}.json" for name in list_models()}
    return {name: json.loads(path.read_text())["results"] for name, path in paths.items() if path.exists()}


def eos_trap_rows(results: dict) -> list[list[str]]:
    """Semi-AR vs full diffusion for each top-k confidence rule that spends the same NFE in both settings.

    Each row: k, accuracy @ NFE in each setting, their difference, and the premature-EOS rates.
    """
    semi, full = ({p["policy"]: p for p in results[s]["points"] if p["family"] == "top_k_confidence"} for s in results)
    rows = []
    for policy in sorted(semi.keys() & full.keys(), key=lambda spec: int(spec.split("=")[1])):
        a, b = semi[policy], full[policy]
        if abs(a["mean_nfe"] - b["mean_nfe"]) > 1e-6:
            continue
        rows.append([
            policy.split(":")[1],
            f"{a['accuracy']:.2f} @ {a['mean_nfe']:.1f}", f"{b['accuracy']:.2f} @ {b['mean_nfe']:.1f}",
            f"{a['accuracy'] - b['accuracy']:+.2f}", f"{a['premature_eos_rate']:.2f} / {b['premature_eos_rate']:.2f}",
        ])  # fmt: skip
    return rows


def main() -> None:
    """Prints the tables."""
    all_results = load_results()
    header = ["task", "params", "training", "1 per step (best order)", "1 pass"]
    header += [f"best rule ≤{b} NFE semi-AR / full" for b in BUDGETS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, results in all_results.items():
        model = load_model(name)
        parameters = sum(p.numel() for p in model.parameters())
        meta = model.metadata
        training = f"{training_steps(meta)} steps, {meta.get('train_seconds', 0) / 60:.0f} min"
        settings = list(results)
        points = [p for s in settings for p in results[s]["points"]]
        one_per_step = max(p["accuracy"] for p in points if p["policy"].endswith(":k=1"))
        one_pass = max(p["accuracy"] for p in results["full diffusion"]["points"] if p["mean_nfe"] <= 1.0)
        row = [name, f"{parameters / 1e6:.2f}M", training, f"{one_per_step:.3f}", f"{one_pass:.3f}"]
        for budget in BUDGETS:
            semi, full = (best_within(results[s]["points"], budget) for s in settings)
            row.append(f"{semi} / {full}")
        print("| " + " | ".join(row) + " |")
    header = ["task", "top-k", "semi-AR acc @ NFE", "full diffusion acc @ NFE", "semi − full", "EOS early semi / full"]
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, results in all_results.items():
        for row in eos_trap_rows(results):
            print("| " + " | ".join([name, *row]) + " |")


if __name__ == "__main__":
    main()
