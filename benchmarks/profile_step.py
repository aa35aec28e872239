"""Where a step's time goes besides the dLLM forward: milliseconds per step in each part of the env.

Times the env's own functions (features, decoding and scoring, drawing and encoding prompts, observations,
transfers, ...) by wrapping them, on the settings of ``bench_env_overhead.py``, and prints them next to the
forward and the total. Writes benchmarks/results/step_profile.json.
"""

from __future__ import annotations

import argparse
import collections
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from bench_env_overhead import SETTINGS  # the same two settings as the overhead benchmark (run from benchmarks/)

import unmask_gym  # noqa: F401  (registers the ids)
from unmask_gym import dynamics, outputs, validation
from unmask_gym.bench import machine_description, publish
from unmask_gym.heuristics import make_policy

PARTS = {
    "features (confidence, margin, entropy)": (dynamics, "predict"),
    "draw and encode new prompts": (dynamics, "next_episodes"),
    "place new prompts on the canvas": (dynamics, "place_episodes"),
    "commit the action": (dynamics, "commit"),
    "decode and score ended episodes": (outputs, "score_episodes"),
    "end-of-episode info": (outputs, "end_info"),
    "observations": (outputs, "observation"),
    "per-step info": (outputs, "step_info"),
    "host -> device transfers": (dynamics, "to_device"),
    "action checks": (validation, "check_selection"),
}


def timed(function: Callable[..., Any], totals: collections.Counter, name: str) -> Callable[..., Any]:
    """``function``, adding its wall time to ``totals[name]``."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - start

    return wrapper


def profile(setting: str, args: argparse.Namespace) -> dict[str, Any]:
    """Milliseconds per step of each part, the forward, the policy and the whole step."""
    spec = SETTINGS[setting]
    torch.set_num_threads(spec["threads"] or args.default_threads)
    env = gym.make_vec("UnmaskGym/Permutation-v0", num_envs=args.num_envs, vectorization_mode="vector_entry_point",
                       block_length=spec["block_length"])  # fmt: skip
    totals: collections.Counter = collections.Counter()
    model = env.unwrapped.model
    originals = {name: getattr(module, attribute) for name, (module, attribute) in PARTS.items()}
    try:
        for name, (module, attribute) in PARTS.items():
            setattr(module, attribute, timed(originals[name], totals, name))
        model_logits = model.logits
        model.logits = timed(model_logits, totals, "dLLM forward (model.logits)")
        policy = timed(make_policy(spec["policy"]), totals, "policy")
        obs, _ = env.reset(seed=0)
        for _ in range(args.warmup):
            obs, *_ = env.step(policy(obs))
        totals.clear()
        episodes, start = 0, time.perf_counter()
        for _ in range(args.steps):
            obs, _, terminated, truncated, _ = env.step(policy(obs))
            episodes += int((terminated | truncated).sum())
        total = time.perf_counter() - start
    finally:
        for name, (module, attribute) in PARTS.items():
            setattr(module, attribute, originals[name])
        model.__dict__.pop("logits", None)
    parts = {name: round(1000 * seconds / args.steps, 3) for name, seconds in totals.most_common()}
    forward = parts["dLLM forward (model.logits)"]
    step = 1000 * total / args.steps
    return {
        "policy": spec["policy"],
        "threads": torch.get_num_threads(),
        "episodes_ending_per_step": round(episodes / args.steps, 2),
        "ms_per_step": round(step, 3),
        "ms_outside_forward": round(step - forward, 3),
        "parts_ms_per_step": parts,
        "not_in_a_part_ms": round(step - sum(parts.values()), 3),
    }


def main() -> None:
    """Profiles both settings and writes the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 16 envs, 5 steps")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "step_profile.json")
    args = parser.parse_args()
    args.default_threads = torch.get_num_threads()
    if args.quick:
        args.num_envs, args.steps, args.warmup = 16, 5, 2
    report = {
        "env": "UnmaskGym/Permutation-v0",
        "num_envs": args.num_envs,
        "settings": {setting: profile(setting, args) for setting in SETTINGS},
        "machine": machine_description(),
    }
    publish(report, None if args.quick else args.out)


if __name__ == "__main__":
    main()
