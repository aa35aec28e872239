"""Env overhead: one env step (with a heuristic and autoreset) against one bare dLLM forward of the same batch.

Prints the ratio measured in one run and writes benchmarks/results/env_overhead.json. A ratio near 1 means the env
costs nothing next to the dLLM; the bare forward is the lower bound of any decoder that runs the model each pass.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

from unmask_gym import UnmaskVectorEnv
from unmask_gym.bench import machine_description
from unmask_gym.evaluation import save_json
from unmask_gym.heuristics import top_k_confidence


def interleaved_seconds(functions: dict[str, Callable[[], None]], calls: int, rounds: int = 5) -> dict[str, float]:
    """Mean wall time per call of each function, measured in alternating rounds.

    Load changes on the machine then hit every function alike: the ratio is the point, not the absolute times.
    """
    for function in functions.values():
        function()  # warm-up
    totals = dict.fromkeys(functions, 0.0)
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(calls // rounds):
                function()
            totals[name] += time.perf_counter() - start
    return {name: total / (calls // rounds * rounds) for name, total in totals.items()}


def main() -> None:
    """Runs the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="permutation")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "env_overhead.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    functions: dict[str, Callable[[], None]] = {}
    for validate in (True, False):
        env = UnmaskVectorEnv(args.num_envs, task=args.task, block_length=None, validate_actions=validate)
        obs, _ = env.reset(seed=0)
        policy = top_k_confidence(1)  # one commit per step: every running row is forwarded every step
        state = {"obs": obs}

        def env_step(env=env, state=state, policy=policy) -> None:
            state["obs"], *_ = env.step(policy(state["obs"]))

        functions[f"env_step_validate_{validate}"] = env_step
    model = env.model
    canvas, attention = env._state.canvas.clone(), env._state.attention.clone()
    columns = env._answer_columns

    def bare_forward() -> None:
        with torch.no_grad():
            model.logits(canvas, attention, positions=columns)

    functions["bare_forward"] = bare_forward
    results = interleaved_seconds(functions, args.steps)
    ratio = results["env_step_validate_True"] / results["bare_forward"]
    validation_cost = results["env_step_validate_True"] / results["env_step_validate_False"]
    report = {
        "task": args.task,
        "num_envs": args.num_envs,
        "threads": args.threads,
        "seconds": results,
        "env_step_over_bare_forward": round(ratio, 3),
        "validate_on_over_off": round(validation_cost, 3),
        "machine": machine_description(),
        "device": str(env.device),
    }
    print(json.dumps(report, indent=2))
    save_json(report, args.out)


if __name__ == "__main__":
    main()
