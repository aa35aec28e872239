"""The step's work around the forward, in a tight loop and right after other work: how much of it is the machine's.

``bench_env_overhead.py`` times every step right after its dLLM forward. This script takes the sync-free step's two
halves (``unmask_gym.device_step``: ``before_forward`` and ``after_forward``) on one fixed input from a running env
(``UnmaskGym/Permutation-v0``, 64 envs, full diffusion, top-1 confidence, 1 thread) and times each, eager and with
``compile_step``, in four conditions, each time the call alone:

- ``tight loop``: called again and again, as a micro-benchmark would;
- ``after a 16 MB sweep``: right after an in-place pass over 16 MB (the caches filled with other data, no system call);
- ``after a forward``: right after one dLLM forward on the env's canvases, as in a step;
- ``after a 20 ms sleep``: right after the process slept (the core left to others).

Medians over ``--repeats`` calls, in milliseconds. Writes benchmarks/results/cold_step.json (``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from unmask_gym import UnmaskVectorEnv, dynamics
from unmask_gym.bench import machine_description, publish
from unmask_gym.heuristics import make_policy

POLICY = "top_k_confidence:k=1"


def halves(env: UnmaskVectorEnv, steps: int) -> tuple[dict[str, Callable[[], Any]], Callable[[], Any]]:
    """The env's two halves as calls on a fixed input taken after ``steps`` steps, and its forward on that input."""
    policy = make_policy(POLICY)
    obs, _ = env.reset(seed=0)
    for _ in range(steps):  # past the compilation and into the steady state
        obs, *_ = env.step(policy(obs))
    device_step, state, selected, config = env._device_step, env._state, policy(obs), env.config
    before = device_step._before(state, selected, env._bank, env.model, config)
    logits, hidden = dynamics.model_pass(env.model, before.state.canvas, before.state.attention, config)
    seed = env._step_seed
    calls = {
        "before_forward": lambda: device_step._before(state, selected, env._bank, env.model, config),
        "after_forward": lambda: device_step._after(before.state, before.changed, logits, hidden, config, seed),
    }
    return calls, lambda: dynamics.model_pass(env.model, before.state.canvas, before.state.attention, config)


def median_ms(call: Callable[[], Any], before_each: Callable[[], Any] | None, repeats: int) -> float:
    """The median time of ``call`` alone, in ms, with ``before_each`` run (untimed) before every call."""
    for _ in range(3):
        call()
    times = []
    for _ in range(repeats):
        if before_each is not None:
            before_each()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 4)


def main() -> None:
    """Runs the measurement and writes its JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 repeats, 8 envs (nothing written)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cold_step.json")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.num_envs = 5, 8
    torch.set_num_threads(1)
    sweep = torch.zeros(4 * 2**20)  # 16 MB of float32
    results: dict[str, dict[str, dict[str, float]]] = {}
    for step, compile_step in (("eager", False), ("compiled", True)):
        env = UnmaskVectorEnv(args.num_envs, task="permutation", block_length=None, sync_free=True,
                              compile_step=compile_step, device="cpu")  # fmt: skip
        calls, forward = halves(env, steps=10)
        conditions = {
            "tight loop": None,
            "after a 16 MB sweep": lambda: sweep.add_(1.0),
            "after a forward": forward,
            "after a 20 ms sleep": lambda: time.sleep(0.02),
        }
        results[step] = {name: {condition: median_ms(call, before_each, args.repeats)
                                for condition, before_each in conditions.items()}
                         for name, call in calls.items()}  # fmt: skip
        env.close()
    report = {
        "env": "UnmaskGym/Permutation-v0",
        "setting": f"{args.num_envs} envs, full diffusion, sync_free=True, {POLICY}, 1 thread",
        "measure": f"median ms of one call of each half on a fixed input, over {args.repeats} calls",
        "halves": results,
        "machine": machine_description(),
    }
    publish(report, None if args.quick else args.out)


if __name__ == "__main__":
    main()
