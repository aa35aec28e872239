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


def standard_grid(answer_length: int, quick: bool = False) -> dict[str, list[str]]:
    """Heuristic family → ``make_policy`` specs covering the NFE range of an answer of ``answer_length``.

    Example:
        >>> standard_grid(16, quick=True)["fast_dllm_threshold"]
        ['fast_dllm_threshold:threshold=0.5', 'fast_dllm_threshold:threshold=0.9']
    """
    ks = sorted({k for k in (1, 2, 3, 4, 6, 8, answer_length) if k <= answer_length})
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
