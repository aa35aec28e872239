"""Copies a finished training run's policy into the package and records how it was made.

    python benchmarks/ship_policy.py runs/perm-full-a6 permutation-full-a6 "unmask-gym train ..."

Writes ``agents/pretrained/<name>.pt`` and the run's entry in ``agents/pretrained/policies.json``: the command
that reproduces it, its iterations, the seconds its rollouts and updates took (from ``metrics.csv``) and its
imitation warm start (from its last checkpoint), the machine,
and its held-out evaluation measured now, with the installed code (200 distinct prompts, seed 0, beta 1, as the
trainer's ``eval.json``; for a conditioned policy at its default alpha and along its alpha sweep), so that a run
evaluated by older code never ships a stale number.

A policy trained in several runs, each starting where the one before ended (``--init-policy`` naming the previous
run's ``--out``), names the earlier ones with ``--after RUN COMMAND``, in order:

    python benchmarks/ship_policy.py runs/b sudoku-full-a8 "unmask-gym train ... --init-policy runs/a --out runs/b" \
        --after runs/a "unmask-gym train ... --out runs/a"

Its entry's ``command`` is then the last run's, ``after`` lists the earlier runs (command, iterations, seconds),
and ``iterations`` and ``train_seconds`` count them all.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import shutil
import subprocess
from pathlib import Path

from unmask_gym.bench import machine_description

PRETRAINED = Path(__file__).parent.parent / "agents" / "pretrained"
MANIFEST = PRETRAINED / "policies.json"


def flag_value(command: str, name: str) -> str | None:
    """The value a command gives its flag ``name`` (None without it).

    Example:
        >>> flag_value("unmask-gym train --threads 2 --out runs/a", "--out")
        'runs/a'
    """
    words = shlex.split(command)
    return words[words.index(name) + 1] if name in words[:-1] else None


def machine_note(command: str, alone: bool) -> str:
    """The machine and how the run used it: the command's ``--threads`` and whether another training shared it.

    Example:
        >>> machine_note("unmask-gym train --threads 2", alone=True).endswith("threads=2, alone on the machine")
        True
    """
    threads = flag_value(command, "--threads") or "1"
    return f"{machine_description()} threads={threads}, " + (
        "alone on the machine" if alone else "sharing the 2 cores with another training run")


def stage(run: Path, command: str) -> dict:
    """One training run of a policy: its command, RL iterations and seconds (rollouts, updates and warm start)."""
    from unmask_gym.agents.loading import iteration_seconds, train_seconds, warm_start_seconds

    warm_start = warm_start_seconds(run)
    return {"command": command, "iterations": len(iteration_seconds(run)), "train_seconds": round(train_seconds(run)),
            **({} if warm_start is None else {"warm_start_seconds": round(warm_start)})}


def check_chain(commands: list[str]) -> None:
    """Each command after the first starts from the run the one before wrote (its ``--init-policy`` is that ``--out``).

    Example:
        >>> check_chain(["train --out runs/a", "train --init-policy runs/a --out runs/b"])
        >>> check_chain(["train --out runs/a", "train --init-policy runs/x --out runs/b"])
        Traceback (most recent call last):
        ...
        ValueError: run 2 must start from runs/a, where run 1 ends (--init-policy runs/a); it starts from runs/x
    """
    for i, (before, after) in enumerate(itertools.pairwise(commands), start=1):
        start, end = flag_value(after, "--init-policy"), flag_value(before, "--out")
        if start != end:
            raise ValueError(f"run {i + 1} must start from {end}, where run {i} ends (--init-policy {end}); it "
                             f"starts from {start}")


def held_out(run: Path, episodes: int = 200) -> dict:
    """The run's policy on ``episodes`` distinct held-out prompts (seed 0, beta 1), as ``unmask-gym train`` writes.

    A conditioned policy is measured at its default alpha, then along ``alpha_grid`` (``alpha_sweep``).
    """
    from unmask_gym.agents import load_policy
    from unmask_gym.agents.policy import alpha_grid
    from unmask_gym.evaluation import evaluate, make_eval_env, served_env_kwargs

    policy = load_policy(run)
    alphas = [policy.alpha, *alpha_grid(policy.config.alpha_range)] if policy.config.conditioned else [None]
    results = []
    for alpha in alphas:
        if alpha is not None:
            policy.alpha = alpha
        env = make_eval_env(episodes=episodes, **served_env_kwargs(policy, {**policy.env_kwargs,
                                                                             **policy.observation_kwargs}))
        results.append({"alpha": alpha, **evaluate(env, policy, seed=0).to_dict()})
    first = results[0]
    return {**first, "alpha_sweep": results[1:]} if len(results) > 1 else first


def main() -> None:
    """Ships one run (and the runs it continues)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run folder (holds policy.pt, metrics.csv, eval.json)")
    parser.add_argument("name", help="<task>-<semi_ar|full>-<tag>")
    parser.add_argument("command", help="the exact command that trained it")
    parser.add_argument("--alone", action="store_true",
                        help="no other training shared the machine while it ran (default: one on the other core)")
    parser.add_argument("--after", nargs=2, action="append", default=[], metavar=("RUN", "COMMAND"),
                        help="an earlier run the policy continues, in order (repeat for each)")
    args = parser.parse_args()
    check_chain([command for _, command in args.after] + [args.command])
    stages = [stage(Path(run), command) for run, command in args.after] + [stage(args.run, args.command)]
    evaluation = held_out(args.run)
    PRETRAINED.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.run / "policy.pt", PRETRAINED / f"{args.name}.pt")
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    warm_start = [s["warm_start_seconds"] for s in stages if "warm_start_seconds" in s]
    manifest[args.name] = {
        "command": args.command,
        **({"after": stages[:-1]} if args.after else {}),
        "iterations": sum(s["iterations"] for s in stages),
        "train_seconds": sum(s["train_seconds"] for s in stages),
        **({"warm_start_seconds": sum(warm_start)} if warm_start else {}),
        "machine": machine_note(args.command, args.alone),
        "shipped_at_commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                               cwd=Path(__file__).parent).stdout.strip(),
        "held_out": {key: evaluation[key] for key in ("episodes", "accuracy", "accuracy_ci95", "mean_nfe")},
    }
    if "alpha_sweep" in evaluation:  # a conditioned policy: its held-out result at each alpha of the sweep
        manifest[args.name]["held_out"]["alpha"] = evaluation["alpha"]
        manifest[args.name]["alpha_sweep"] = [{key: point[key] for key in ("alpha", "accuracy", "mean_nfe")}
                                              for point in evaluation["alpha_sweep"]]  # fmt: skip
    MANIFEST.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    print(json.dumps({args.name: manifest[args.name]}, indent=2))


if __name__ == "__main__":
    main()
