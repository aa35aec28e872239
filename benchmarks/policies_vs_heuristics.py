"""Each shipped policy against the best heuristic at no more mean NFE, from the latest `unmask-gym bench` results.

For every policy point (one per beta) of every setting: its accuracy and mean NFE, the best heuristic's accuracy
among the heuristic settings whose mean NFE is at most the policy's (same held-out prompts, same seed), the ratio
and the difference, and whether it meets the issue's target (>= 1.5x, or >= +20 points in full diffusion). Also
one-commit-per-step accuracy (the ceiling) for context. Reads benchmarks/results/bench_<task>.json, prints
Markdown and writes benchmarks/results/policies_vs_heuristics.json.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
MANIFEST = Path(__file__).parent.parent / "agents" / "pretrained" / "policies.json"
TASKS = ("permutation", "sudoku", "statetracking")


def best_heuristic_within(points: list[dict], budget: float) -> dict | None:
    """The most accurate heuristic point whose mean NFE is at most ``budget``."""
    fitting = [p for p in points if not p.get("learned", False) and p["mean_nfe"] <= budget + 1e-9]
    return max(fitting, key=lambda p: (p["accuracy"], -p["mean_nfe"])) if fitting else None


def compare(task: str, setting: str, data: dict) -> list[dict]:
    """One row per policy point of one setting."""
    ceiling = max((p["accuracy"] for p in data["points"] if p["policy"] in ("top_k_confidence:k=1",
                   "left_to_right:k=1")), default=None)  # fmt: skip
    rows = []
    per_alpha = (p for p in data["points"] if p.get("learned") and "alpha" not in p)  # -cond: conditioned_front.py
    for point in sorted(per_alpha, key=lambda p: (p["family"], p["mean_nfe"])):
        best = best_heuristic_within(data["points"], point["mean_nfe"])
        best_accuracy = best["accuracy"] if best else 0.0
        gain = point["accuracy"] - best_accuracy
        ratio = point["accuracy"] / best_accuracy if best_accuracy > 0 else float("inf")
        full = setting == "full diffusion"
        rows.append({
            "task": task, "setting": setting, "policy": point["policy"], "accuracy": point["accuracy"],
            "accuracy_ci95": point["accuracy_ci95"], "mean_nfe": point["mean_nfe"],
            "best_heuristic": best["policy"] if best else None, "best_heuristic_accuracy": best_accuracy,
            "best_heuristic_nfe": best["mean_nfe"] if best else None, "gain": gain, "ratio": ratio,
            "meets_target": ratio >= 1.5 or (full and gain >= 0.20), "one_per_step": ceiling,
        })  # fmt: skip
    return rows


def print_shipped() -> None:
    """The shipped policies: how each was trained, how long it took, and its held-out result at the end."""
    print("| policy | task, setting, alpha | iterations | training (rollouts + updates) | held-out accuracy @ mean NFE "
          "(beta 1) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, entry in json.loads(MANIFEST.read_text()).items():
        words = entry["command"].split()
        flags = {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}
        held = entry["held_out"]
        conditioned = "--alpha-range" in flags
        alpha = f"alpha {flags['--alpha-range']} (conditioned)" if conditioned else f"alpha {flags['--alpha']}"
        at = f", at alpha {held['alpha']:g}" if conditioned else ""
        print(f"| `{name}` | {flags['--task']}, block {flags['--block-length']}, {alpha} | "
              f"{entry['iterations']} | {entry['train_seconds'] / 60:.1f} min | {held['accuracy']:.3f} @ "
              f"{held['mean_nfe']:.2f} ({held['episodes']} prompts{at}) |")  # fmt: skip
    print()


def main() -> None:
    """Prints the tables and writes the JSON."""
    print_shipped()
    rows = []
    for task in TASKS:
        path = RESULTS / f"bench_{task}.json"
        if path.exists():
            for setting, data in json.loads(path.read_text())["results"].items():
                rows += compare(task, setting, data)
    print("| task | setting | policy | accuracy @ mean NFE | best heuristic at ≤ that NFE | gain | ratio | target |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        best = f"{r['best_heuristic_accuracy']:.2f} @ {r['best_heuristic_nfe']:.2f} ({r['best_heuristic']})" if (
            r["best_heuristic"]) else "none that fast"  # fmt: skip
        print(f"| {r['task']} | {r['setting']} | {r['policy']} | {r['accuracy']:.2f} @ {r['mean_nfe']:.2f} | {best} "
              f"| {r['gain']:+.2f} | {r['ratio']:.2f}× | {'yes' if r['meets_target'] else 'no'} |")  # fmt: skip
    (RESULTS / "policies_vs_heuristics.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
