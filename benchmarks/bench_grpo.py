"""GRPO iteration cost: policy-update time against rollout time, measured in one run, and what dominates each.

Runs a few GRPO iterations on a built-in task and times, per iteration, the rollout (the env's dLLM forwards, the
policy's sampling forwards, the env's bookkeeping) and the update (the policy's forward and backward passes over
the stored steps, several epochs; it never calls the dLLM). Prints the ratio update / rollout and writes
benchmarks/results/bench_grpo.json. The target (update <= 10% of rollout) concerns realistic dLLMs on a GPU, where
a forward of the dLLM costs far more than the 0.33M-parameter policy; with the 0.82M-parameter built-in models on
a CPU the two networks are of similar size, so this reports the ratio and its parts rather than the target.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from bench_env_overhead import TimedForward, synchronize  # (scripts run from benchmarks/)

from unmask_gym.agents import GRPOConfig, GRPOTrainer, PolicyConfig
from unmask_gym.bench import machine_description, publish
from unmask_gym.models import load_model


def time_policy_forwards(network: torch.nn.Module) -> dict[str, float]:
    """Adds up the wall time of the network's forwards made in eval mode (the rollout's sampling passes).

    On a GPU each timed forward is bracketed by synchronisations, so its queued kernels count as its own time.
    """
    clock = {"seconds": 0.0, "start": 0.0}

    def before(module: torch.nn.Module, inputs: Any) -> None:
        if not module.training:
            synchronize(next(module.parameters()).device)
        clock["start"] = time.perf_counter()

    def after(module: torch.nn.Module, inputs: Any, output: Any) -> None:
        if not module.training:
            synchronize(next(module.parameters()).device)
            clock["seconds"] += time.perf_counter() - clock["start"]

    network.register_forward_pre_hook(before)
    network.register_forward_hook(after)
    return clock


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Runs ``args.iterations`` + 1 GRPO iterations (``main``'s arguments) and reports the measured ones' split.

    The dLLM's forwards are timed inside ``model.logits()`` (synchronised on a GPU); the rest of the rollout is the
    policy's sampling forwards and the env's bookkeeping.
    """
    model = TimedForward(load_model(args.task, device=args.device))
    block_length = None if args.block_length.lower() == "none" else int(args.block_length)
    config = GRPOConfig(
        task=args.task, block_length=block_length, alpha=args.alpha, iterations=args.iterations + 1,
        num_groups=args.num_groups, group_size=args.group_size, update_epochs=args.update_epochs,
        num_minibatches=args.num_minibatches, device=args.device, sync_free=getattr(args, "sync_free", False),
        compile_step=getattr(args, "compile_step", False),
    )  # fmt: skip
    trainer = GRPOTrainer(config, PolicyConfig(width=args.width, ff_width=4 * args.width), model=model)
    policy_clock = time_policy_forwards(trainer.policy)
    rows = []
    for metrics in trainer.run():
        rows.append({**metrics, "dllm_seconds": model.seconds, "policy_rollout_seconds": policy_clock["seconds"]})
        model.seconds, policy_clock["seconds"] = 0.0, 0.0
    measured = rows[1:]  # the first iteration pays one-time costs (allocator, kernel selection)
    total = {key: sum(row[key] for row in measured) for key in ("rollout_seconds", "update_seconds", "dllm_seconds",
                                                                  "policy_rollout_seconds")}  # fmt: skip
    env_rest = total["rollout_seconds"] - total["dllm_seconds"] - total["policy_rollout_seconds"]
    ratio = total["update_seconds"] / total["rollout_seconds"]
    parts = {"dLLM forwards": total["dllm_seconds"], "policy sampling forwards": total["policy_rollout_seconds"],
             "env bookkeeping": env_rest}  # fmt: skip
    report = {
        "task": args.task,
        "block_length": block_length,
        "rollouts_per_iteration": config.num_envs,
        "policy_parameters": trainer.policy.num_parameters(),
        "dllm_parameters": sum(p.numel() for p in model.model.parameters()),
        "update_epochs": config.update_epochs,
        "num_minibatches": config.num_minibatches,
        "measured_iterations": len(measured),
        "mean_nfe": [round(row["nfe"], 2) for row in measured],
        "stored_steps_per_iteration": [int(row["stored_steps"]) for row in measured],
        "seconds_per_iteration": {key: value / len(measured) for key, value in total.items()},
        "env_bookkeeping_seconds_per_iteration": env_rest / len(measured),
        "update_over_rollout": round(ratio, 3),
        "update_over_rollout_per_iteration": [round(r["update_seconds"] / r["rollout_seconds"], 3) for r in measured],
        "rollout_dominated_by": max(parts, key=parts.get),
        "rollout_fractions": {name: round(value / total["rollout_seconds"], 3) for name, value in parts.items()},
        "update_work": f"{config.update_epochs} epochs of policy forward + backward over the stored steps (no dLLM)",
        "update_over_policy_sampling_forwards": round(total["update_seconds"] / total["policy_rollout_seconds"], 2),
        "threads": torch.get_num_threads(),
        "device": args.device,
        "machine": machine_description(),
    }
    return report


def main() -> None:
    """Runs the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="permutation")
    parser.add_argument("--block-length", default="none", help="an int or 'none' (default: full diffusion)")
    parser.add_argument("--alpha", type=float, default=3.0)
    parser.add_argument("--iterations", type=int, default=6, help="measured iterations (one more warms up)")
    parser.add_argument("--num-groups", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--width", type=int, default=128, help="policy width d (the paper's 128: 0.35M parameters)")
    parser.add_argument("--update-epochs", type=int, default=GRPOConfig.update_epochs)
    parser.add_argument("--num-minibatches", type=int, default=GRPOConfig.num_minibatches)
    parser.add_argument("--sync-free", action="store_true", help="roll out in sync_free envs (GRPOConfig.sync_free)")
    parser.add_argument("--compile-step", action="store_true",
                        help="with --sync-free: the envs' step through torch.compile (GRPOConfig.compile_step)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_grpo.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report = measure(args)
    publish(report, args.out)


if __name__ == "__main__":
    main()
