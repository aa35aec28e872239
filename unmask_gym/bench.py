"""Benchmark helpers: the standard grids of ``unmask-gym bench`` and the machine line every result records."""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path
from typing import Any

import torch


def machine_description() -> str:
    """What produced a number: architecture, processor, CPU count, torch version and GPU if any.

    Example:
        >>> "torch=" in machine_description()
        True
    """
    gpu = f" gpu={torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    cpu = " ".join(part for part in (platform.machine(), platform.processor()) if part)
    return f"{cpu} cpus={os.cpu_count()} torch={torch.__version__}{gpu}"


def held_out_parser(description: str, cache: Path) -> argparse.ArgumentParser:
    """The arguments of a script that judges agents on the bench's held-out prompts against the hull.

    ``--episodes`` (distinct held-out prompts, default 1,000) and ``--cache`` (the folder of the bench's heuristic
    runs, default ``cache``); a script adds its own before ``parse_args``.

    Example:
        >>> held_out_parser("a study", Path("bench/cache")).parse_args(["--episodes", "8"]).episodes
        8
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--episodes", type=int, default=1000, help="distinct held-out prompts")
    parser.add_argument("--cache", type=Path, default=cache, help="the bench's heuristic cache")
    return parser


BETAS = (0.5, 1.0, 2.0, 4.0)
"""The test-time knob of every shipped policy in ``unmask-gym bench``: p' = min(1, beta p)."""


def standard_grid(answer_length: int, quick: bool = False, block_length: int | None = None) -> dict[str, list[str]]:
    """Heuristic family → ``make_policy`` specs covering the NFE range of an answer of ``answer_length``.

    In blocks of ``block_length`` a k-per-step rule with k above the block length is the same rule as k = B, so
    those settings appear once.

    Example:
        >>> standard_grid(16, quick=True)["fast_dllm_threshold"]
        ['fast_dllm_threshold:threshold=0.5', 'fast_dllm_threshold:threshold=0.9']
        >>> standard_grid(16, block_length=4)["top_k_confidence"]
        ['top_k_confidence:k=1', 'top_k_confidence:k=2', 'top_k_confidence:k=3', 'top_k_confidence:k=4']
    """
    limit = answer_length if block_length is None else min(block_length, answer_length)
    ks = sorted({min(k, limit) for k in (1, 2, 3, 4, 6, 8, answer_length)})
    if quick:
        return {
            "top_k_confidence": [f"top_k_confidence:k={k}" for k in (1, 4)],
            "fast_dllm_threshold": [f"fast_dllm_threshold:threshold={t}" for t in (0.5, 0.9)],
        }
    return {
        "top_k_confidence": [f"top_k_confidence:k={k}" for k in ks],
        "top_k_margin": [f"top_k_margin:k={k}" for k in ks],
        "top_k_entropy": [f"top_k_entropy:k={k}" for k in ks],
        "random_k": [f"random_k:k={k}" for k in ks],
        "left_to_right": [f"left_to_right:k={k}" for k in ks],
        "fast_dllm_threshold": [f"fast_dllm_threshold:threshold={t}" for t in (0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)],
        "fast_dllm_factor": [f"fast_dllm_factor:factor={f}" for f in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)],
        "eb_sampler": [f"eb_sampler:gamma={g}" for g in (0.001, 0.01, 0.1, 0.3, 1.0, 3.0)],
    }


def policy_variants(name: str, policy: Any, betas: tuple[float, ...] = BETAS,
                    alphas: tuple[float, ...] | None = None) -> list[Any]:  # fmt: skip
    """The points of one learned policy's curve; the variants share its network.

    A conditioned policy runs along ``alphas`` (default: 7 spread over the range it was trained on) at beta 1, any
    other one at every beta.
    """
    from unmask_gym.agents import LearnedPolicy
    from unmask_gym.agents.policy import alpha_grid

    if policy.config.conditioned:
        sweep = alphas if alphas is not None else alpha_grid(policy.config.alpha_range, points=7)
        return [LearnedPolicy(policy.network, policy.env_kwargs, alpha=alpha, name=f"{name}:alpha={alpha:g}")
                for alpha in sweep]  # fmt: skip
    return [LearnedPolicy(policy.network, policy.env_kwargs, beta=beta, name=f"{name}:beta={beta:g}")
            for beta in betas]  # fmt: skip


def bench_agents(task_key: str, specs: list[str], shipped: bool = True,
                 alphas: tuple[float, ...] | None = None) -> dict[str, list[Any]]:  # fmt: skip
    """``unmask-gym bench``'s learned agents, each as its curve of ``policy_variants``.

    Every shipped policy trained on the task ``task_key`` (its ``make_task`` name; if ``shipped``) and each
    ``--policy`` (a shipped name, run folder or checkpoint).

    Raises:
        ValueError: a ``--policy`` that is not a learned policy, or one trained on another task.
    """
    from unmask_gym.agents import list_policies, load_policy
    from unmask_gym.agents.loading import policy_from_spec

    agents = {}
    for name in list_policies() if shipped else []:
        policy = load_policy(name)
        if str(policy.env_kwargs.get("task")).lower() == task_key.lower():
            agents[name] = policy_variants(name, policy, alphas=alphas)
    for spec in specs:
        policy, trained_for = policy_from_spec(spec)
        if not trained_for:
            raise ValueError(f"--policy takes a learned policy (a run folder, checkpoint or shipped name), got "
                             f"{spec!r}; heuristics are in the grid already")  # fmt: skip
        trained_task = str(trained_for.get("task")).lower()
        if trained_task != task_key.lower():
            raise ValueError(f"--policy {spec} was trained on task {trained_task!r}, not {task_key.lower()!r}")
        agents[spec] = policy_variants(Path(spec).name, policy, alphas=alphas)
    return agents
