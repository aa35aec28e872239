"""PPO against GRPO at equal training time: held-out accuracy, mean NFE and reward on the same prompts.

    python benchmarks/ppo_vs_grpo.py --ppo runs/sudoku-full-ppo-a4 --grpo runs/sudoku-full --seconds 601

``--ppo`` is a PPO run folder; the checkpoint whose cumulative training time (rollouts + updates, from
``metrics.csv``) first reaches ``--seconds`` is compared with ``--grpo`` (a shipped name or run) and with the
PPO run's final policy, all on the same held-out prompts and seed. Writes benchmarks/results/ppo_vs_grpo.json.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from unmask_gym.agents import load_policy
from unmask_gym.agents.loading import checkpoint_path
from unmask_gym.bench import machine_description
from unmask_gym.evaluation import evaluate, make_eval_env

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    """Evaluates the three policies and prints one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ppo", type=Path, required=True, help="a PPO run folder (with checkpoints/)")
    parser.add_argument("--grpo", required=True, help="a GRPO policy: shipped name, run folder or checkpoint")
    parser.add_argument("--seconds", type=float, required=True, help="the GRPO policy's training seconds")
    parser.add_argument("--episodes", type=int, default=200)
    args = parser.parse_args()
    elapsed, iteration = 0.0, None
    for row in csv.DictReader((args.ppo / "metrics.csv").open()):
        elapsed += float(row["rollout_seconds"]) + float(row["update_seconds"])
        saved = checkpoint_path(args.ppo, int(float(row["iteration"])))
        if saved.exists() and elapsed >= args.seconds:
            iteration = int(float(row["iteration"]))
            break
    if iteration is None:
        raise SystemExit(f"{args.ppo} has no checkpoint at or after {args.seconds} s of training")
    candidates = {f"ppo at {elapsed:.0f} s (iteration {iteration})": checkpoint_path(args.ppo, iteration),
                  f"grpo {args.grpo}": args.grpo, "ppo, whole run": args.ppo}  # fmt: skip
    results = {}
    for label, source in candidates.items():
        policy = load_policy(source)
        env = make_eval_env(episodes=args.episodes, **policy.env_kwargs, **policy.observation_kwargs)
        result = evaluate(env, policy, seed=0).to_dict()
        results[label] = result
        print(f"{label:40s} accuracy {result['accuracy']:.3f}  mean NFE {result['mean_nfe']:.2f}  "
              f"mean reward {result['mean_reward']:.3f}")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ppo_vs_grpo.json").write_text(json.dumps({"machine": machine_description(), "results": results},
                                                         indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
