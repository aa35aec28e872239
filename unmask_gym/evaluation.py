"""Evaluating unmasking policies: accuracy with a confidence interval against NFE, and Pareto fronts.

Evaluation is unbiased by construction: the env serves a finite list of held-out (``split="eval"``) prompts and
every prompt is decoded exactly once, never "the first N episodes to finish" (which over-samples short, easy ones).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym.distributed import current_shard, gather_lists
from unmask_gym.env import UnmaskVectorEnv

Policy = Callable[[dict[str, torch.Tensor]], torch.Tensor]


@dataclass
class EvalResult:
    """What ``evaluate`` measured."""

    policy: str
    """Name of the policy (its ``make_policy`` spec for heuristics)."""
    episodes: int
    """Number of prompts decoded (each once)."""
    accuracy: float
    """Fraction of episodes whose completion the verifier scored 1."""
    accuracy_ci95: tuple[float, float]
    """Wilson 95% interval of the accuracy."""
    mean_nfe: float
    """Mean forward passes per episode."""
    mean_reward: float
    """Mean terminal reward under the env's reward."""
    premature_eos_rate: float
    """Fraction of episodes whose completion ended (EOS) before the reference's length: the EOS trap."""
    nfe_histogram: dict[int, int]
    """NFE → number of episodes."""
    records: list[dict[str, Any]] = field(repr=False, default_factory=list)
    """One dict per episode: prompt_id, prompt, completion, reference, correct, score, nfe, reward."""

    def to_dict(self, with_records: bool = False) -> dict[str, Any]:
        """JSON-friendly dict (records left out unless asked)."""
        out = asdict(self)
        if not with_records:
            out.pop("records")
        return out


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Example:
        >>> [round(x, 3) for x in wilson_interval(50, 100)]
        [0.404, 0.596]
    """
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z**2 / trials
    centre = (p + z**2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def make_eval_env(task: Any = "addition", episodes: int = 500, num_envs: int = 64, **kwargs: Any) -> UnmaskVectorEnv:
    """An env that serves ``episodes`` held-out prompts once each (``split="eval"``), ready for ``evaluate``.

    Under ``torchrun`` (a ``torch.distributed`` process group of several ranks) each rank's env serves its shard of
    the list (``prompt_shard``) and ``evaluate`` gathers the records, unless ``prompt_shard`` is given.
    """
    kwargs.setdefault("prompt_shard", current_shard())
    return UnmaskVectorEnv(
        min(num_envs, episodes), task=task, split="eval", num_prompts=episodes,
        autoreset_mode=AutoresetMode.SAME_STEP, **kwargs,
    )  # fmt: skip



def evaluate(env: UnmaskVectorEnv, policy: Policy, episodes: int | None = None, seed: int = 0,
             name: str | None = None) -> EvalResult:  # fmt: skip
    """Runs ``policy`` on every prompt of ``env``'s finite eval list once.

    With a ``prompt_shard`` env inside a process group (``make_eval_env`` under ``torchrun``) every rank decodes
    its shard and gets the records of all of them: the same prompts, each decoded once, as one process would.
    Records equal a one-process run's when the policy's decisions depend only on each row's observation (the
    heuristics; a learned policy's or random-k's own sampler draws in batch order, as with another ``num_envs``).

    Args:
        env: built with ``split="eval"`` and ``num_prompts`` (see ``make_eval_env``) and SAME_STEP autoreset.
        policy: any callable ``obs -> action`` (a heuristic, a trained network, a lambda).
        episodes: must equal ``env.num_prompts`` when given (a check against evaluating fewer prompts).
        seed: the reset seed: it picks the prompt list and any sampling.
        name: a label for the result (default: the policy's spec).

    Raises:
        ValueError: if the env has no finite prompt list or ``episodes`` differs from it.
    """
    from unmask_gym.heuristics import policy_spec

    env = env.unwrapped if hasattr(env, "unwrapped") else env
    if env.num_prompts is None or env.split != "eval":
        raise ValueError(
            "evaluate needs an env with split='eval' and a finite num_prompts list so that every prompt runs once; "
            "build it with make_eval_env(task, episodes)"
        )
    if episodes is not None and episodes != env.num_prompts:
        raise ValueError(f"episodes={episodes} differs from the env's num_prompts={env.num_prompts}")
    if env.autoreset_mode != AutoresetMode.SAME_STEP:
        raise ValueError(f"evaluate needs AutoresetMode.SAME_STEP, the env uses {env.autoreset_mode}")
    if hasattr(policy, "reseed"):  # a learned policy's own sampler restarts, so its evaluation reproduces
        policy.reseed(seed)
    obs, _ = env.reset(seed=seed)
    records: list[dict[str, Any]] = []
    while env.running.any():
        obs, reward, terminated, _, info = env.step(policy(obs))
        if terminated.any():
            final = info["final_info"]
            stopped = stopped_at_end_token(info["final_obs"], env.model.end_token_ids).tolist()  # (N,)
            for row in torch.nonzero(terminated).flatten().tolist():
                records.append({
                    "prompt_id": int(final["prompt_id"][row]), "prompt": final["prompt"][row],
                    "completion": final["completion"][row], "reference": env_reference(final, row),
                    "correct": bool(final["correct"][row]), "score": float(final["score"][row]),
                    "nfe": int(final["nfe"][row]), "reward": float(reward[row]), "stopped_at_end": stopped[row],
                })  # fmt: skip
    if env.config.prompt_shard is not None:  # every rank's shard, on every rank (inside a process group)
        records = gather_lists(records)
    records.sort(key=lambda record: record["prompt_id"])
    return summarize(records, name or policy_spec(policy))


def stopped_at_end_token(final_obs: dict[str, torch.Tensor], end_token_ids: Any) -> torch.Tensor:
    """(N,) bool: the answer holds an end token and every position before the first one is committed.

    That is when the decoded completion ends because of an end token (not at a still-masked position), whatever
    the tokenizer: the first half of the EOS-trap test.
    """
    tokens, masked = final_obs["tokens"], final_obs["masked"]  # (N, L), (N, L)
    is_end = torch.isin(tokens, torch.tensor(sorted(end_token_ids), device=tokens.device)) & ~masked  # (N, L)
    first_end = torch.where(is_end.any(1), is_end.int().argmax(1), tokens.shape[1])  # (N,)
    before = torch.arange(tokens.shape[1], device=tokens.device) < first_end[:, None]  # (N, L)
    return (is_end.any(1) & ~(masked & before).any(1)).cpu()


def env_reference(final_info: dict[str, Any], row: int) -> Any:
    """The reference of a finished row (kept in ``final_info["reference"]`` when the env records it)."""
    references = final_info.get("reference")
    return None if references is None else references[row]


def summarize(records: list[dict[str, Any]], name: str) -> EvalResult:
    """Aggregates per-episode records into an ``EvalResult``."""
    count = len(records)
    correct = sum(r["correct"] for r in records)
    premature = sum(
        isinstance(r["reference"], str)
        and r.get("stopped_at_end", "_" not in r["completion"])
        and len(r["completion"]) < len(r["reference"])
        for r in records
    )
    return EvalResult(
        policy=name,
        episodes=count,
        accuracy=correct / max(count, 1),
        accuracy_ci95=wilson_interval(correct, count),
        mean_nfe=float(np.mean([r["nfe"] for r in records])) if records else 0.0,
        mean_reward=float(np.mean([r["reward"] for r in records])) if records else 0.0,
        premature_eos_rate=premature / max(count, 1),
        nfe_histogram=dict(sorted(Counter(r["nfe"] for r in records).items())),
        records=records,
    )


def pareto_front(points: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points no other point beats on both axes (higher accuracy at lower or equal mean NFE), by NFE.

    Example:
        >>> front = pareto_front([{"mean_nfe": 2, "accuracy": 0.5}, {"mean_nfe": 3, "accuracy": 0.4},
        ...                       {"mean_nfe": 4, "accuracy": 0.9}])
        >>> [p["mean_nfe"] for p in front]
        [2, 4]
    """
    front, best = [], -1.0
    for point in sorted(points, key=lambda p: (p["mean_nfe"], -p["accuracy"])):
        if point["accuracy"] > best:
            front.append(point)
            best = point["accuracy"]
    return front


def sweep(
    policies: dict[str, list[Any]], env_kwargs: dict[str, Any], episodes: int = 500, seed: int = 0,
    num_envs: int = 64, on_result: Callable[[EvalResult], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Evaluates every policy of every family on the same prompts.

    Args:
        policies: family name → policies (e.g. ``{"fast_dllm_threshold": [make_policy(...), ...]}``).
        env_kwargs: ``UnmaskVectorEnv`` arguments (task, block_length, ...).
        episodes: held-out prompts per policy (the same prompts for every policy).
        seed: the reset seed of every evaluation.
        num_envs: parallel episodes.
        on_result: called after each evaluation (the CLI prints progress with it).

    Returns:
        ``{"settings", "points", "curves", "front", "heuristic_front"}``: each point is a result dict plus its
        ``family``, ``learned`` (a trained policy rather than a heuristic) and ``tokens_per_forward`` (L / mean
        NFE); ``curves`` maps each family to ``[mean NFE, tokens per forward, accuracy, [95% low, high]]`` rows.
    """
    points = []
    for family, members in policies.items():
        for policy in members:
            env = make_eval_env(episodes=episodes, num_envs=num_envs, **env_kwargs)
            result = evaluate(env, policy, seed=seed)
            if on_result is not None:
                on_result(result)
            point = {"family": family, "learned": hasattr(policy, "env_kwargs"), **result.to_dict()}
            if getattr(policy, "alpha", None) is not None:  # a conditioned policy's point on its trade-off sweep
                point["alpha"] = policy.alpha
            point["tokens_per_forward"] = env.answer_length / max(result.mean_nfe, 1e-9)  # answer tokens per NFE
            points.append(point)
    settings = {
        key: (value if isinstance(value, int | float | str | None) else str(value)) for key, value in env_kwargs.items()
    }
    curves: dict[str, list] = {}
    for point in sorted(points, key=lambda p: p["mean_nfe"]):  # the leaderboard view of each family
        curves.setdefault(point["family"], []).append(
            [point["mean_nfe"], point["tokens_per_forward"], point["accuracy"], list(point["accuracy_ci95"])]
        )
    return {
        "settings": {**settings, "episodes": episodes, "seed": seed},
        "points": points,
        "curves": curves,
        "front": pareto_front(points),
        "heuristic_front": pareto_front([p for p in points if not p["learned"]]),
    }


def save_json(data: dict[str, Any], path: str | Path) -> None:
    """Writes ``data`` as indented JSON (creating the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def plot_sweep(sweeps: dict[str, dict[str, Any]], path: str | Path, title: str = "") -> None:
    """Accuracy vs mean NFE, one panel per setting: every measured point with its 95% interval, no interpolation.

    Heuristic families are thin markers, trained policies bold stars (a conditioned policy's alpha sweep joined
    as one curve), the heuristics' Pareto front a black step line (the best accuracy reachable at or below each
    NFE). The x axis is logarithmic, where low NFE lives.

    Raises:
        ImportError: naming the extra to install when matplotlib is missing.
    """
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError('plotting needs matplotlib: pip install "unmask-gym[plot]"') from error

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = "osD^v<>pPhX"
    figure, axes = plt.subplots(1, len(sweeps), figsize=(7 * len(sweeps), 6.2), squeeze=False)
    for axis, (setting, data) in zip(axes[0], sweeps.items(), strict=True):
        families: dict[str, list[dict[str, Any]]] = {}
        for point in data["points"]:
            families.setdefault(point["family"], []).append(point)
        for index, (family, points) in enumerate(families.items()):
            points = sorted(points, key=lambda p: p["mean_nfe"])
            x = [p["mean_nfe"] for p in points]
            y = [p["accuracy"] for p in points]
            errors = [[max(0.0, p["accuracy"] - p["accuracy_ci95"][0]) for p in points],
                      [max(0.0, p["accuracy_ci95"][1] - p["accuracy"]) for p in points]]  # fmt: skip (rounding)
            learned = points[0].get("learned", False)
            swept = "alpha" in points[0]  # one conditioned policy told several trade-offs: one curve
            axis.errorbar(
                x, y, yerr=errors, fmt=("*-" if swept else "*") if learned else markers[index % len(markers)],
                ms=11 if learned else 4,
                lw=0.8, capsize=2, alpha=1.0 if learned else 0.65, label=family, zorder=3 if learned else 2,
            )  # fmt: skip
        front = data.get("heuristic_front", data["front"])
        axis.step([p["mean_nfe"] for p in front], [p["accuracy"] for p in front], "k-", where="post", lw=1.2,
                  label="best heuristic (Pareto front)", zorder=1)  # fmt: skip
        axis.set_xscale("log", base=2)
        axis.set(xlabel="mean NFE (forward passes, log scale)", ylabel="accuracy (95% interval)",
                 title=f"{title} {setting}".strip(), ylim=(-0.03, 1.03))  # fmt: skip
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4)  # below: hides no point
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
