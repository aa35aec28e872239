"""Each shipped trade-off-conditioned policy (``-cond``) against the heuristics and the per-alpha policies.

Reads the latest ``unmask-gym bench`` results (benchmarks/results/bench_<task>.json: every point measured on the
same held-out prompts with the same seed) and checks, per task and setting, what the conditioned-policy issue asks:

1. monotone: mean NFE falls at every step of the alpha sweep (alpha up = toward speed);
2. never far below the heuristics: at each point of the sweep, the best heuristic at no more mean NFE is at most
   2 points more accurate, and at each heuristic front point inside the sweep's NFE range, the sweep's best point
   at no more NFE is at most 2 points below it;
3. where there is room (the best heuristic at no more NFE is >= 20 points below one-commit-per-step accuracy):
   at least 2x its accuracy or 30 points more;
4. the per-alpha policies (beta 1): at each one's mean NFE, the sweep's best point at no more NFE is within
   3 points of it.

"At no more NFE" compares measured points only (no interpolation). Prints Markdown and writes
benchmarks/results/conditioned_front.json.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
TASKS = ("permutation", "sudoku", "statetracking")


def best_within(points: list[dict], budget: float) -> dict | None:
    """The most accurate point whose mean NFE is at most ``budget`` (ties: the cheaper)."""
    fitting = [p for p in points if p["mean_nfe"] <= budget + 1e-9]
    return max(fitting, key=lambda p: (p["accuracy"], -p["mean_nfe"])) if fitting else None


def accuracy_within(points: list[dict], budget: float) -> float:
    """The best accuracy at no more than ``budget`` mean NFE (0 when nothing fits)."""
    best = best_within(points, budget)
    return best["accuracy"] if best else 0.0


def check(family: str, data: dict) -> dict:
    """The four checks for one conditioned family in one setting."""
    points = data["points"]
    sweep = sorted((p for p in points if p["family"] == family), key=lambda p: p["alpha"])
    heuristics = [p for p in points if not p["learned"]]
    per_alpha = [p for p in points if p["learned"] and "alpha" not in p and p["policy"].endswith(":beta=1")]
    ceiling = max((p["accuracy"] for p in points if p["policy"] in ("top_k_confidence:k=1", "left_to_right:k=1")),
                  default=1.0)  # fmt: skip
    nfe = [p["mean_nfe"] for p in sweep]
    rows = []
    for point in sweep:
        best = best_within(heuristics, point["mean_nfe"])
        heuristic = best["accuracy"] if best else 0.0
        room = heuristic <= ceiling - 0.20
        rows.append({
            "alpha": point["alpha"], "accuracy": point["accuracy"], "mean_nfe": point["mean_nfe"],
            "best_heuristic": best["policy"] if best else None, "best_heuristic_accuracy": heuristic,
            "gap": point["accuracy"] - heuristic, "room": room,
            "room_target_met": (point["accuracy"] >= 2 * heuristic or point["accuracy"] >= heuristic + 0.30)
            if room else None,
        })  # fmt: skip
    front_gaps = [
        {"heuristic": h["policy"], "accuracy": h["accuracy"], "mean_nfe": h["mean_nfe"],
         "sweep_accuracy": accuracy_within(sweep, h["mean_nfe"]),
         "gap": accuracy_within(sweep, h["mean_nfe"]) - h["accuracy"]}
        for h in data["heuristic_front"] if min(nfe) <= h["mean_nfe"] <= max(nfe)
    ]  # fmt: skip
    versus_per_alpha = [
        {"policy": p["policy"], "accuracy": p["accuracy"], "mean_nfe": p["mean_nfe"],
         "sweep_accuracy": accuracy_within(sweep, p["mean_nfe"]),
         "gap": accuracy_within(sweep, p["mean_nfe"]) - p["accuracy"]}
        for p in per_alpha
    ]  # fmt: skip
    worst_gap = min([row["gap"] for row in rows] + [row["gap"] for row in front_gaps])
    return {
        "family": family, "one_per_step": ceiling, "sweep": rows, "heuristic_front_in_range": front_gaps,
        "per_alpha": versus_per_alpha,
        "monotone": all(later < earlier for earlier, later in itertools.pairwise(nfe)),
        "worst_gap_to_heuristics": worst_gap, "within_2_points": worst_gap >= -0.02,
        "room_targets_met": all(row["room_target_met"] for row in rows if row["room"]),
        "within_3_points_of_per_alpha": all(row["gap"] >= -0.03 for row in versus_per_alpha),
    }  # fmt: skip


def main() -> None:
    """Prints the checks of every conditioned family found in the bench results."""
    report = {}
    for task in TASKS:
        path = RESULTS / f"bench_{task}.json"
        if not path.exists():
            continue
        bench = json.loads(path.read_text())
        for setting, data in bench["results"].items():
            families = sorted({p["family"] for p in data["points"] if "alpha" in p})
            for family in families:
                result = check(family, data)
                report[f"{task} / {setting} / {family}"] = {"machine": bench["machine"], **result}
                episodes = data["settings"]["episodes"]
                print(f"\n### {family}, {setting} ({episodes} held-out prompts; one commit per step: "
                      f"{result['one_per_step']:.2f})\n")  # fmt: skip
                print("| alpha | accuracy @ mean NFE | best heuristic at no more NFE | gap | room: 2x or +30? |")
                print("|---|---|---|---|---|")
                for row in result["sweep"]:
                    room = ("yes" if row["room_target_met"] else "no") if row["room"] else "no room"
                    print(f"| {row['alpha']:g} | {row['accuracy']:.3f} @ {row['mean_nfe']:.2f} | "
                          f"{row['best_heuristic']} {row['best_heuristic_accuracy']:.3f} | {row['gap']:+.3f} | "
                          f"{room} |")  # fmt: skip
                for row in result["per_alpha"]:
                    print(f"\nper-alpha `{row['policy']}` {row['accuracy']:.3f} @ {row['mean_nfe']:.2f}: the sweep "
                          f"at no more NFE {row['sweep_accuracy']:.3f} ({row['gap']:+.3f})")  # fmt: skip
                print(f"\nmonotone NFE: {result['monotone']}; worst gap to the heuristics' front "
                      f"{result['worst_gap_to_heuristics']:+.3f} (within 2 points: {result['within_2_points']}); "
                      f"room targets met: {result['room_targets_met']}; within 3 points of every per-alpha policy: "
                      f"{result['within_3_points_of_per_alpha']}")  # fmt: skip
    (RESULTS / "conditioned_front.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
