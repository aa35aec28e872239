"""How decided a learned policy's commits are: the share of commit probabilities strictly between 0.01 and 0.99.

A commit probability near 0 or 1 passes almost no policy gradient (the gradient of log p with respect to the logit
is 1 - p, of log(1 - p) it is -p), so a policy whose probabilities have saturated hardly moves, whatever its reward
says. For each conditioned policy (the shipped ones, and the recipe study's StateTracking run folders of rounds 18
to 20 where they exist) at three alphas (its range's ends and their geometric middle), on the first decision of 256
held-out prompts: the share of selectable positions whose commit probability lies in (0.01, 0.99), the median
|logit| and the share held back (probability below 0.5). Writes benchmarks/results/commit_saturation.json; a run
folder that is not on this machine keeps its row from that file.

    python benchmarks/commit_saturation.py     # seconds on one CPU core
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from unmask_gym import UnmaskVectorEnv
from unmask_gym.agents import LearnedPolicy, load_policy
from unmask_gym.agents.distribution import commit_probabilities
from unmask_gym.bench import machine_description
from unmask_gym.evaluation import save_json

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results" / "commit_saturation.json"
POLICIES = (
    "permutation-full-cond",
    "sudoku-full-cond",
    "statetracking-full-cond",
    "runs/st-full-cond-256",
    "runs/st-full-cond-add-1-32",
    "runs/st-full-cond-add-1-32-cur",
    "runs/st-full-cond-add-1-32-cur-ent",
    "runs/st-full-cond-add-1-32-cur-ent0.02",
    "runs/st-full-cond-add-1-32-cur-ent0.02-decay",
    "runs/st-full-cond-add-1-32-cur-ent0.02-shared",
    "runs/st-full-cond-add-1-128-cur-ent0.02-shared",
)
PROMPTS = 256


def first_decision(policy: LearnedPolicy, prompts: int, seed: int = 0) -> dict[str, float]:
    """Commit-probability statistics of ``policy``'s first decision on ``prompts`` held-out prompts."""
    env = UnmaskVectorEnv(prompts, **{**policy.env_kwargs, "split": "eval"}, device="cpu")
    obs, _ = env.reset(seed=seed)
    with torch.no_grad():
        logits = policy.logits(obs)
    selectable = obs["action_mask"]
    probabilities = commit_probabilities(logits, selectable, policy.config.evaluation_tau)[selectable]
    return {
        "between": round(float(((probabilities > 0.01) & (probabilities < 0.99)).float().mean()), 4),
        "median_abs_logit": round(float(logits[selectable].abs().median()), 2),
        "held_back": round(float((probabilities < 0.5).float().mean()), 4),
    }


def rows_of(name: str, prompts: int) -> list[dict]:
    """One row per alpha of a conditioned policy (a shipped name or a run folder relative to the repository)."""
    policy = load_policy(ROOT / name if name.startswith("runs/") else name)
    low, high = policy.config.alpha_range
    rows = []
    for alpha in (low, math.sqrt(low * high), high):
        variant = LearnedPolicy(policy.network, policy.env_kwargs, alpha=alpha)
        rows.append({"policy": name, "task": policy.env_kwargs["task"], "reward": policy.env_kwargs["reward"],
                     "alpha": round(alpha, 3), "prompts": prompts, **first_decision(variant, prompts)})  # fmt: skip
    return rows


def markdown(rows: list[dict]) -> str:
    """One row per policy and alpha."""
    lines = ["| policy | reward | alpha | p in (0.01, 0.99) | median abs logit | held back (p < 0.5) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        lines.append(f"| `{row['policy']}` | {row['reward']} | {row['alpha']:g} | {row['between']:.1%} | "
                     f"{row['median_abs_logit']:.1f} | {row['held_back']:.1%} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    """Measures every policy on this machine and writes the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=PROMPTS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    previous = json.loads(args.out.read_text())["rows"] if args.out.exists() else []
    rows = []
    for name in POLICIES:
        present = not name.startswith("runs/") or (ROOT / name / "policy.pt").exists()
        rows += rows_of(name, args.prompts) if present else [row for row in previous if row["policy"] == name]
    print(markdown(rows))
    save_json({"rows": rows, "machine": machine_description()}, args.out)


if __name__ == "__main__":
    main()
