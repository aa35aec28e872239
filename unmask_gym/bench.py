"""Benchmark helpers: the standard grids of ``unmask-gym bench`` and the machine line every result records."""

from __future__ import annotations

import argparse
import itertools
import json
import math
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


def publish(report: dict[str, Any], out: Path | None) -> None:
    """A benchmark's report: printed as JSON on stdout and, unless ``out`` is None (a smoke run), written there."""
    from unmask_gym.evaluation import save_json

    print(json.dumps(report, indent=2, default=str))
    if out is not None:
        save_json(report, out)


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

    A conditioned policy runs along ``alphas`` at beta 1: given, exactly those; by default an ``AlphaSweep``, 7
    spread over the range it was trained on and more where its curve jumps. Any other policy runs at every beta.
    """
    from unmask_gym.agents import LearnedPolicy
    from unmask_gym.agents.policy import alpha_grid

    if policy.config.conditioned:
        if alphas is not None:
            return [conditioned_variant(name, policy, alpha) for alpha in alphas]
        return AlphaSweep(name, policy, alpha_grid(policy.config.alpha_range, points=7))
    return [LearnedPolicy(policy.network, policy.env_kwargs, beta=beta, name=f"{name}:beta={beta:g}")
            for beta in betas]  # fmt: skip


def conditioned_variant(name: str, policy: Any, alpha: float) -> Any:
    """The conditioned ``policy`` serving ``alpha``, named ``NAME:alpha=A`` (its network shared)."""
    from unmask_gym.agents import LearnedPolicy

    return LearnedPolicy(policy.network, policy.env_kwargs, alpha=alpha, name=f"{name}:alpha={alpha:g}")


class AlphaSweep(list):
    """A conditioned policy's variants along alpha that ``benchmark`` refines where the curve jumps.

    A list of the variants at ``alphas``; after they ran, ``refine(points)`` (the points in the order the variants
    ran) returns the variants at the geometric midpoints of the neighbouring alphas whose points differ by more
    than ``accuracy_gap`` in accuracy or ``nfe_gap`` of the larger mean NFE, widest gaps first, so that a band
    where the policy changes its behaviour fast (gives answers up, say) is measured rather than stepped over.
    Alphas closer than a ratio of ``min_ratio`` are not split, and the sweep stops at ``max_points``.

    Example:
        >>> from unmask_gym.agents import LearnedPolicy, PolicyConfig, UnmaskingPolicy
        >>> network = UnmaskingPolicy(PolicyConfig(width=16, alpha_range=(1.0, 16.0)))
        >>> sweep = AlphaSweep("p", LearnedPolicy(network), [1.0, 4.0, 16.0])
        >>> points = [{"accuracy": 1.0, "mean_nfe": 8.0}, {"accuracy": 0.99, "mean_nfe": 7.9},
        ...           {"accuracy": 0.2, "mean_nfe": 2.0}]
        >>> [variant.alpha for variant in sweep.refine(points)]  # only 4 to 16 moves
        [8.0]
    """

    def __init__(self, name: str, policy: Any, alphas: list[float], max_points: int = 21,
                 accuracy_gap: float = 0.05, nfe_gap: float = 0.1, min_ratio: float = 1.15) -> None:  # fmt: skip
        super().__init__(conditioned_variant(name, policy, alpha) for alpha in alphas)
        self.name, self.policy = name, policy
        self.max_points, self.accuracy_gap, self.nfe_gap, self.min_ratio = max_points, accuracy_gap, nfe_gap, min_ratio

    @property
    def alphas(self) -> list[float]:
        """The alphas of the variants so far, in the order they run."""
        return [variant.alpha for variant in self]

    def refine(self, points: list[dict[str, Any]]) -> list[Any]:
        """The next variants to run, given the points of every variant run so far (in order); [] when done."""
        alphas = self.alphas
        if len(points) != len(alphas):
            raise ValueError(f"refine needs one point per alpha run so far ({len(alphas)}), got {len(points)}")
        by_alpha = sorted(zip(alphas, points, strict=True), key=lambda pair: pair[0])
        gaps = []
        for (low, left), (high, right) in itertools.pairwise(by_alpha):
            accuracy = abs(left["accuracy"] - right["accuracy"]) / self.accuracy_gap
            nfe = abs(left["mean_nfe"] - right["mean_nfe"]) / (self.nfe_gap * max(left["mean_nfe"], right["mean_nfe"]))
            if max(accuracy, nfe) > 1 and high / low > self.min_ratio:
                gaps.append((max(accuracy, nfe), float(f"{math.sqrt(low * high):.3g}")))
        room = self.max_points - len(alphas)
        new = [alpha for _, alpha in sorted(gaps, reverse=True)[: max(room, 0)] if alpha not in alphas]
        variants = [conditioned_variant(self.name, self.policy, alpha) for alpha in new]
        self.extend(variants)
        return variants


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
