"""Each shipped policy against the heuristic hull, from the latest `unmask-gym bench` reports.

For every agent point of every setting (one per beta, or per alpha for a conditioned policy): its accuracy and mean
NFE on the same 1,000 distinct held-out prompts as the heuristics, the heuristic hull's accuracy at that mean NFE,
the gain with its paired bootstrap 95% interval, and the verdict: "ahead" (interval above zero), "below" (interval
below zero) or "level". Also the learning issue's bars: no point more than 2 points below the hull, and in full
diffusion, where the hull is at least 20 points below one-commit-per-step accuracy, at least hull + 30 points or
2x the hull with the interval above it; and whether each conditioned policy's alpha sweep spans the hull's range.
Reads benchmarks/results/bench_<task>.json (schema unmask-gym-bench/1), prints Markdown and writes
benchmarks/results/policies_vs_heuristics.json.
"""

from __future__ import annotations

import itertools
import json
import shlex
from pathlib import Path

from unmask_gym.agents.experts import expert_specs
from unmask_gym.benchmarking import hull_table

RESULTS = Path(__file__).parent / "results"
MANIFEST = Path(__file__).parent.parent / "agents" / "pretrained" / "policies.json"
TASKS = ("permutation", "sudoku", "statetracking")


def verdict(interval: list[float] | None) -> str:
    """"ahead", "below" or "level" from a 95% interval of the hull gain (None: below the hull's NFE range)."""
    if interval is None:
        return "not compared"
    return "ahead" if interval[0] > 0 else "below" if interval[1] < 0 else "level"


def one_per_step_accuracy(data: dict) -> float | None:
    """The accuracy of one commit per step (top-1 confidence) in one setting of a report, if it was run."""
    return next((h["accuracy"] for h in data["heuristics"] if h["name"] == "top_k_confidence:k=1"), None)


def compare(task: str, setting: str, data: dict) -> list[dict]:
    """One row per agent point of one setting of a report."""
    one_per_step = one_per_step_accuracy(data)
    rows = []
    for agent, points in data["agents"].items():
        for point in points:
            hull, gain, interval = point["hull_accuracy"], point["hull_gain"], point["hull_gain_ci95"]
            room = hull is not None and one_per_step is not None and one_per_step - hull >= 0.20
            big = gain is not None and (gain >= 0.30 or point["accuracy"] >= 2 * hull) and interval[0] > 0
            rows.append({
                "task": task, "setting": setting, "agent": agent, "point": point["name"],
                "accuracy": point["accuracy"], "accuracy_ci95": point["ci95"], "mean_nfe": point["mean_nfe"],
                "hull_accuracy": hull, "hull_gain": gain, "hull_gain_ci95": interval, "verdict": verdict(interval),
                "one_per_step": one_per_step, "within_2_points": gain is None or gain >= -0.02,
                "low_nfe_bar": None if not (setting == "full" and room) else big,
            })  # fmt: skip
    return rows


def ten_percent_nfe(hull: list[list[float]]) -> float | None:
    """The lowest NFE where the hull (vertices (NFE, accuracy), NFE ascending) still has 10% accuracy.

    Example:
        >>> ten_percent_nfe([[2.0, 0.0], [4.0, 1.0]]), ten_percent_nfe([[1.0, 0.3], [2.0, 0.9]])
        (2.2, 1.0)
    """
    for (nfe_a, acc_a), (nfe_b, acc_b) in itertools.pairwise(hull):
        if acc_a >= 0.10:
            return nfe_a
        if acc_b >= 0.10:
            return round(nfe_a + (0.10 - acc_a) / (acc_b - acc_a) * (nfe_b - nfe_a), 6)
    return hull[-1][0] if hull and hull[-1][1] >= 0.10 else None


def sweep_coverage(task: str, setting: str, data: dict) -> list[dict]:
    """Per conditioned policy of one setting: does its alpha sweep span the hull's range?

    The learning issue's bar: from one-commit-per-step accuracy (within 2 points) down to the lowest NFE where the
    hull still has 10% accuracy. ``widest_gap``, the largest NFE step between neighbouring points of the sweep,
    shows a sweep that spans the range by jumping across it (a policy with two modes) rather than trading along it.
    """
    one_per_step = one_per_step_accuracy(data)
    low_end = ten_percent_nfe(data["hull"])
    rows = []
    for agent, points in data["agents"].items():
        if not all(":alpha=" in point["name"] for point in points):
            continue
        best = max(point["accuracy"] for point in points)
        nfe = sorted(point["mean_nfe"] for point in points)
        fewest, widest_gap = nfe[0], max((b - a for a, b in itertools.pairwise(nfe)), default=0.0)
        rows.append({
            "task": task, "setting": setting, "agent": agent, "best_accuracy": best, "one_per_step": one_per_step,
            "reaches_top": one_per_step is not None and best >= one_per_step - 0.02, "fewest_nfe": fewest,
            "hull_ten_percent_nfe": low_end, "reaches_low_end": low_end is not None and fewest <= low_end,
            "widest_gap": widest_gap,
        })  # fmt: skip
    return rows


def sweeps_markdown(rows: list[dict]) -> str:
    """Each conditioned policy's sweep against the hull's range, one table row each."""
    lines = ["| policy | task | setting | most accurate point | one commit per step | fewest NFE | hull's 10% point "
             "| spans the range | widest NFE gap |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        spans = "yes" if r["reaches_top"] and r["reaches_low_end"] else "no"
        lines.append(f"| `{r['agent']}` | {r['task']} | {r['setting']} | {r['best_accuracy']:.3f} | "
                     f"{r['one_per_step']:.3f} | {r['fewest_nfe']:.2f} | {r['hull_ten_percent_nfe']:.2f} NFE | "
                     f"{spans} | {r['widest_gap']:.2f} |")  # fmt: skip
    return "\n".join(lines)


def targets_markdown(points: list[dict], sweeps: list[dict], first_vertices: dict[str, list[float]],
                     manifest: dict) -> str:  # fmt: skip
    """The learning issue's four targets, each with whether it is met and, where not, by how much.

    ``points``: ``compare`` rows of every setting; ``sweeps``: ``sweep_coverage`` rows; ``first_vertices``: per task,
    the full-diffusion hull's first vertex (NFE, accuracy); ``manifest``: the shipped policies' policies.json.
    A point's bar in full diffusion (target 2) is a gain of min(0.30, hull): hull + 30 points or 2x the hull.
    """
    compared = [r for r in points if r["hull_gain"] is not None]
    below = sorted((r for r in compared if not r["within_2_points"]), key=lambda r: r["hull_gain"])
    shown = ", ".join(f"`{r['point']}` ({r['hull_gain']:+.3f})" for r in below)
    lowest = min(compared, key=lambda r: r["hull_gain"]) if compared else None
    lowest_words = f"; the lowest is `{lowest['point']}` ({lowest['hull_gain']:+.3f})" if lowest else ""
    rows = [("1. no point more than 2 points below the hull", "met" if not below else "not met",
             f"{len(below)} of {len(compared)} compared points are: {shown}" if below else
             f"none of {len(compared)} compared points is{lowest_words}")]  # fmt: skip
    met_tasks, per_task = [], []
    for task in TASKS:
        full = [r for r in points if r["task"] == task and r["setting"] == "full"]
        eligible = [r for r in full if r["low_nfe_bar"] is not None]
        met = [r for r in eligible if r["low_nfe_bar"]]
        if met:
            met_tasks.append(task)
            per_task.append(f"{task}: {len(met)} of {len(eligible)} eligible points meet it")
        elif eligible:
            best = min(eligible, key=lambda r: min(0.30, r["hull_accuracy"]) - r["hull_gain"])
            need = min(0.30, best["hull_accuracy"])
            per_task.append(f"{task}: none of {len(eligible)} eligible points; the closest, `{best['point']}`, is "
                            f"{best['hull_gain']:+.3f} at {best['mean_nfe']:.2f} NFE against {need:+.3f} needed")
        elif full:
            nfe, accuracy = first_vertices[task]
            per_task.append(f"{task}: no eligible budget (the hull starts at {accuracy:.3f} @ {nfe:.2f} NFE, within "
                            f"20 points of one commit per step's {full[0]['one_per_step']:.3f})")  # fmt: skip
    rows.append(("2. in full diffusion, hull + 30 points or 2x the hull on two tasks",
                 "met" if len(met_tasks) >= 2 else "not met", "; ".join(per_task)))  # fmt: skip
    short = []
    for r in sweeps:
        if not r["reaches_top"]:
            short.append(f"`{r['agent']}` tops out at {r['best_accuracy']:.3f} (one per step: {r['one_per_step']:.3f})")
        elif not r["reaches_low_end"]:
            short.append(f"`{r['agent']}` stops at {r['fewest_nfe']:.2f} NFE (the hull's 10% point: "
                         f"{r['hull_ten_percent_nfe']:.2f})")  # fmt: skip
    spanning = len(sweeps) - len(short)
    rows.append(("3. each conditioned sweep spans the hull's range", "met" if not short else "not met",
                 f"{spanning} of {len(sweeps)} span it" + (f"; {'; '.join(short)}" if short else "")))
    slowest = max(manifest, key=lambda name: from_scratch_seconds(manifest, name))
    minutes = from_scratch_seconds(manifest, slowest) / 60
    rows.append(("4. each shipped policy trains in 30 minutes or less", "met" if minutes <= 30 else "not met",
                 f"the slowest, `{slowest}`, took {minutes:.1f} min from scratch (shipped policies it starts from "
                 f"or learns from included; {manifest[slowest]['machine']})"))  # fmt: skip
    lines = ["| target | status | as measured |", "|---|---|---|"]
    lines += [f"| {target} | {status} | {detail} |" for target, status, detail in rows]
    return "\n".join(lines)


def command_flags(command: str) -> dict[str, str]:
    """A training command's flags and their values ("" for a switch such as ``--warm-start``)."""
    words = shlex.split(command)
    return {word: (words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("--") else "")
            for i, word in enumerate(words) if word.startswith("--")}  # fmt: skip


def stage_commands(entry: dict) -> list[str]:
    """A shipped policy's training commands in order: the runs it continues (``after``), then its own."""
    return [stage["command"] for stage in entry.get("after", [])] + [entry["command"]]


def prerequisites(manifest: dict, name: str) -> list[str]:
    """The shipped policies a policy's commands start from (``--init-policy``) or imitate (``--expert``)."""
    specs = []
    for command in stage_commands(manifest[name]):
        flags = command_flags(command)
        specs += [flags["--init-policy"]] if "--init-policy" in flags else []
        if "--expert" in flags:
            specs += expert_specs(flags["--expert"])
    return [spec for spec in dict.fromkeys(specs) if spec in manifest]


def from_scratch_seconds(manifest: dict, name: str) -> float:
    """Seconds to train a policy from nothing: its own run plus, once each, the shipped policies it builds on."""
    seen, order = set(), [name]
    while order:
        current = order.pop()
        if current not in seen:
            seen.add(current)
            order += prerequisites(manifest, current)
    return sum(manifest[policy]["train_seconds"] for policy in seen)


RECIPE_FLAGS = {
    "--reward": lambda v: f"{v} reward", "--init-policy": lambda v: f"starts from `{v}`",
    "--expert": lambda v: f"warm start from {'a teacher per alpha range' if '@' in v else f'`{v}`'}",
    "--warm-start-per-teacher": lambda v: "an equal share of it per teacher", "--kl-coef": lambda v: f"KL {v} to it",
    "--entropy-coef": lambda v: f"entropy bonus {v}", "--commit-noise": lambda v: f"{v} commit noise",
    "--alpha-scaled-advantages": lambda v: "alpha-scaled advantages", "--alpha-scale-power": lambda v: f"to the "
    f"power {v}", "--alpha-curriculum": lambda v: f"alpha "
    f"curriculum {v}", "--normalize-std": lambda v: "std-normalised advantages",
    "--min-learning-rate-ratio": lambda v: "constant learning rate" if float(v) == 1 else f"cosine to {v}x",
    "--train-betas": lambda v: f"groups at beta {v.replace(',', ', ')}", "--train-beta-alphas": lambda v: f"rewarded "
    f"at alpha {v.replace(',', ', ')}", "--train-only-beta": lambda v: "only the weights that read beta",
    "--beta-head": lambda v: "a beta head",
    "--learning-rate": lambda v: f"learning rate {v}",
}  # fmt: skip
"""What a shipped command changes from the trainer's defaults, in words (the flags the recipe study varied)."""


def recipe_markdown(manifest: dict) -> str:
    """Each shipped policy's recipe: what its command changes from the defaults, and its RL iterations."""
    lines = ["| policy | alpha | recipe (beyond the trainer's defaults) | RL iterations |", "|---|---|---|---|"]
    for name, entry in manifest.items():
        flags = command_flags(entry["command"])
        alpha = flags.get("--alpha-range", flags["--alpha"]).replace(",", " to ")
        recipes = []
        for i, command in enumerate(stage_commands(entry)):
            run = command_flags(command)
            parts = [describe(run[flag]) for flag, describe in RECIPE_FLAGS.items() if flag in run
                     and not (flag == "--expert" and "--warm-start" not in run)
                     and not (flag == "--init-policy" and i > 0)]  # a later run starts where the one before ended
            recipe = "; ".join(parts) or "the defaults"
            recipes.append(recipe if i == 0 else f"then {run['--iterations']} iterations with {recipe}")
        lines.append(f"| `{name}` | {alpha} | {'; '.join(recipes)} | {entry['iterations']} |")
    return "\n".join(lines)


def shipped_markdown(manifest: dict) -> str:
    """The shipped policies: how each was trained, how long it took, and its held-out result at the end."""
    lines = ["| policy | task, setting, alpha | network | iterations | training (warm start + rollouts + updates) | "
             "held-out accuracy @ mean NFE (beta 1) |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, entry in manifest.items():
        flags = command_flags(entry["command"])
        held = entry["held_out"]
        conditioned = "--alpha-range" in flags
        alpha = f"alpha {flags['--alpha-range']} (conditioned)" if conditioned else f"alpha {flags['--alpha']}"
        at = f", at alpha {held['alpha']:g}" if conditioned else ""
        features = flags["--features"].replace("step_frac", "step fraction").replace("_", " ").split(",")
        network = (f"{flags.get('--architecture', 'adaln')}, width {flags['--width']}, {flags['--num-heads']} heads, "
                   f"FFN {flags['--ff-width']}; {', '.join(features)}")  # fmt: skip
        if flags.get("--commit-noise", "independent") != "independent":
            network += f"; {flags['--commit-noise']} commit noise"
        training = f"{entry['train_seconds'] / 60:.1f} min"
        if "warm_start_seconds" in entry:
            training += f" (warm start {entry['warm_start_seconds'] / 60:.1f} min)"
        elif "--warm-start" in flags:  # shipped before the warm start was timed: the RL iterations alone
            training += " (RL only; warm start not timed)"
        if built_on := prerequisites(manifest, name):
            training += (f"; {from_scratch_seconds(manifest, name) / 60:.1f} min from scratch with "
                         f"{', '.join(f'`{p}`' for p in built_on)}")  # fmt: skip
        lines.append(f"| `{name}` | {flags['--task']}, block {flags['--block-length']}, {alpha} | {network} | "
                     f"{entry['iterations']} | {training} | {held['accuracy']:.3f} @ "
                     f"{held['mean_nfe']:.2f} ({held['episodes']} prompts{at}) |")  # fmt: skip
    return "\n".join(lines)


def comparison_markdown(rows: list[dict]) -> str:
    """Every agent point against the hull, one table row each."""
    return hull_table(rows, {"task": lambda r: r["task"], "setting": lambda r: r["setting"],
                             "point": lambda r: r["point"]}, {"verdict": lambda r: r["verdict"]})  # fmt: skip


def main() -> None:
    """Prints the tables and writes the JSON."""
    print(shipped_markdown(json.loads(MANIFEST.read_text())) + "\n")
    rows, sweeps = [], []
    for task in TASKS:
        path = RESULTS / f"bench_{task}.json"
        if path.exists():
            for setting, data in json.loads(path.read_text())["settings"].items():
                rows += compare(task, setting, data)
                sweeps += sweep_coverage(task, setting, data)
    print(comparison_markdown(rows) + "\n")
    print(sweeps_markdown(sweeps))
    (RESULTS / "policies_vs_heuristics.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
