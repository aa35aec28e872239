"""Benchmark helpers: the standard grids of ``unmask-gym bench`` and the machine line every result records."""

from __future__ import annotations

import os
import platform

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


def shipped_policy_families(task_name: str, block_length: int | None, betas: tuple[float, ...] = BETAS,
                            alphas: tuple[float, ...] | None = None) -> dict:  # fmt: skip
    """Family → policies: each shipped policy of ``task_name`` trained for ``block_length``.

    A policy for one alpha appears at every beta; a trade-off-conditioned one (``-cond``) at beta 1 along
    ``alphas`` (default: 7 alphas spread over the range it was trained on), its sweep drawn as one curve. Loaded
    lazily from ``unmask_gym.agents`` (the env never needs the agents).
    """
    from unmask_gym.agents import LearnedPolicy, list_policies, load_policy
    from unmask_gym.agents.policy import alpha_grid

    families = {}
    for name in list_policies():
        if not name.startswith(f"{task_name.lower()}-"):
            continue
        policy = load_policy(name)  # read once; the variants share its network
        if policy.env_kwargs.get("block_length") != block_length:
            continue
        if policy.config.conditioned:
            sweep = alphas if alphas is not None else alpha_grid(policy.config.alpha_range, points=7)
            families[name] = [LearnedPolicy(policy.network, policy.env_kwargs, alpha=alpha,
                                            name=f"{name}:alpha={alpha:g}") for alpha in sweep]  # fmt: skip
        else:
            families[name] = [LearnedPolicy(policy.network, policy.env_kwargs, beta=beta, name=f"{name}:beta={beta:g}")
                              for beta in betas]  # fmt: skip
    return families
