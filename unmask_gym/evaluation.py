"""Evaluating unmasking policies: accuracy with a confidence interval against NFE, and Pareto fronts.

Evaluation is unbiased by construction: the env serves a finite list of *distinct* held-out (``split="eval"``)
prompts and every prompt is decoded exactly once (or ``prompt_repeats`` times, counted as one cluster), never "the
first N episodes to finish" (which over-samples short, easy ones). An episode cut by a time limit counts as a
failure, never as a missing episode.

Comparisons with the heuristics are against the **heuristic hull** (``heuristic_hull``): a per-prompt random mix of
two heuristic settings reaches every point between them in expectation, so the fair bar at an agent's mean NFE is
the upper concave envelope of the heuristics' points, with a paired bootstrap over prompts (``hull_gain_interval``).
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
    """Number of episodes decoded (distinct prompts × repeats)."""
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
    distinct_prompts: int = 0
    """Number of distinct prompts among the episodes."""
    truncated: int = 0
    """Episodes cut by a time limit (``max_episode_steps``): counted as failures."""
    records: list[dict[str, Any]] = field(repr=False, default_factory=list)
    """One dict per episode: prompt_id, prompt, completion, reference, correct, score, nfe, reward, truncated."""

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


def make_eval_env(task: Any = "addition", episodes: int = 500, num_envs: int = 64, repeats: int = 1,
                  **kwargs: Any) -> UnmaskVectorEnv:  # fmt: skip
    """An env that serves ``episodes`` distinct held-out prompts (``split="eval"``), ready for ``evaluate``.

    The prompts are a selection of the task's held-out set drawn by the reset seed; ``repeats`` runs each one that
    many times back to back (for a sampled policy; ``evaluate`` then treats a prompt's copies as one cluster).
    Under ``torchrun`` (a ``torch.distributed`` process group of several ranks) each rank's env serves its shard of
    the list (``prompt_shard``) and ``evaluate`` gathers the records, unless ``prompt_shard`` is given.

    Raises:
        ValueError: ``episodes`` exceeds the task's held-out set (the message names its size).
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be an int >= 1 (distinct held-out prompts), got {episodes!r}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
    kwargs.setdefault("prompt_shard", current_shard())
    return UnmaskVectorEnv(
        min(num_envs, episodes * repeats), task=task, split="eval", num_prompts=episodes, prompt_repeats=repeats,
        autoreset_mode=AutoresetMode.SAME_STEP, **kwargs,
    )  # fmt: skip



def evaluate(env: UnmaskVectorEnv, policy: Policy, episodes: int | None = None, seed: int = 0,
             name: str | None = None) -> EvalResult:  # fmt: skip
    """Runs ``policy`` on every prompt of ``env``'s finite eval list once (``prompt_repeats`` times if set).

    Every episode started is accounted for: one cut by a time limit is a failure (``truncated`` counts them).
    A policy that serves a trade-off (``policy.alpha``, a conditioned learned policy) must run in an env whose
    reward uses that alpha, so that ``mean_reward`` is the served trade-off's.

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
        ValueError: if the env has no finite prompt list, ``episodes`` differs from it, the env's alpha is not
            the one the policy serves, or a learned policy cannot read the env's observations
            (``check_compatible``).
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
    served_alpha = getattr(policy, "alpha", None)
    if served_alpha is not None and not callable(env.reward) and float(served_alpha) != float(env.alpha):
        raise ValueError(f"the policy serves alpha={served_alpha:g} but the env rewards alpha={env.alpha:g}; "
                         f"build the env with alpha={served_alpha:g} so that mean_reward is the served one's")
    if hasattr(policy, "check_compatible"):  # a learned network refuses observations it cannot read, before the reset
        policy.check_compatible(env)
    if hasattr(policy, "reseed"):  # a learned policy's own sampler restarts, so its evaluation reproduces
        policy.reseed(seed)
    obs, _ = env.reset(seed=seed)
    records: list[dict[str, Any]] = []
    while env.running.any():
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        ended = terminated | truncated
        if ended.any():
            final = info["final_info"]
            stopped = stopped_at_end_token(info["final_obs"], env.model.end_token_ids).tolist()  # (N,)
            cut = truncated.tolist()
            for row in torch.nonzero(ended).flatten().tolist():
                records.append({
                    "prompt_id": int(final["prompt_id"][row]), "prompt": final["prompt"][row],
                    "completion": final["completion"][row], "reference": env_reference(final, row),
                    "correct": bool(final["correct"][row]) and not cut[row], "score": float(final["score"][row]),
                    "nfe": int(final["nfe"][row]), "reward": float(reward[row]), "stopped_at_end": stopped[row],
                    "truncated": cut[row],
                })  # fmt: skip
    if env.config.prompt_shard is not None:  # every rank's shard, on every rank (inside a process group)
        records = gather_lists(records)
    expected = env.num_prompts * env.config.prompt_repeats
    if len(records) != expected:  # a bug, never a quietly smaller sample
        raise RuntimeError(f"evaluate started {expected} episodes but recorded {len(records)}")
    records.sort(key=lambda record: record["prompt_id"])
    return summarize(records, name or policy_spec(policy))


def served_env_kwargs(policy: Any, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``env_kwargs`` with the reward's alpha set to the one ``policy`` serves (a conditioned policy), if any.

    Example:
        >>> class Conditioned:
        ...     alpha = 8.0
        >>> served_env_kwargs(Conditioned(), {"task": "sudoku", "alpha": 4.0})
        {'task': 'sudoku', 'alpha': 8.0}
    """
    alpha = getattr(policy, "alpha", None)
    return env_kwargs if alpha is None else {**env_kwargs, "alpha": float(alpha)}


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


def cluster_interval(values_by_prompt: dict[Any, list[float]], z: float = 1.96) -> tuple[float, float]:
    """Normal 95% interval of a mean over prompts whose repeated episodes are one cluster each.

    Each prompt contributes the mean of its copies; the interval is that mean ± z standard errors over prompts,
    clipped to [0, 1].

    Example:
        >>> [round(x, 3) for x in cluster_interval({0: [1, 1], 1: [0, 0], 2: [1, 0], 3: [1, 1]})]
        [0.156, 1.0]
    """
    means = np.array([np.mean(values) for values in values_by_prompt.values()], dtype=float)
    if len(means) < 2:
        return (0.0, 1.0)
    centre, half = means.mean(), z * means.std(ddof=1) / math.sqrt(len(means))
    return (max(0.0, float(centre - half)), min(1.0, float(centre + half)))


def summarize(records: list[dict[str, Any]], name: str) -> EvalResult:
    """Aggregates per-episode records into an ``EvalResult``.

    With several episodes of one prompt (``prompt_repeats``) the accuracy interval treats a prompt's copies as one
    cluster (``cluster_interval``); with one episode per prompt it is Wilson's.
    """
    count = len(records)
    correct = sum(r["correct"] for r in records)
    by_prompt: dict[Any, list[float]] = {}
    for record in records:
        by_prompt.setdefault(record["prompt_id"], []).append(float(record["correct"]))
    repeated = len(by_prompt) < count
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
        accuracy_ci95=cluster_interval(by_prompt) if repeated else wilson_interval(correct, count),
        mean_nfe=float(np.mean([r["nfe"] for r in records])) if records else 0.0,
        mean_reward=float(np.mean([r["reward"] for r in records])) if records else 0.0,
        premature_eos_rate=premature / max(count, 1),
        nfe_histogram=dict(sorted(Counter(r["nfe"] for r in records).items())),
        distinct_prompts=len(by_prompt),
        truncated=sum(bool(r.get("truncated", False)) for r in records),
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


def save_json(data: dict[str, Any], path: str | Path) -> None:
    """Writes ``data`` as indented JSON (creating the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def heuristic_hull(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The heuristic hull's vertices: the upper concave envelope of (mean NFE, accuracy) points.

    A per-prompt random mix of two settings reaches every point of the segment between them in expectation, so
    the hull is the best accuracy the heuristics reach at each mean NFE. Vertices come by increasing NFE, from the
    fewest-NFE point (the most accurate one if several tie) to the first most accurate point; points inside the
    hull or on a segment between two vertices are not vertices.

    Example:
        >>> heuristic_hull([(1, 0.1), (2, 0.5), (3, 0.6), (4, 0.9), (5, 0.9), (6, 0.8), (2.5, 0.55)])
        [(1.0, 0.1), (2.0, 0.5), (4.0, 0.9)]
    """
    ordered = sorted({(float(nfe), float(accuracy)) for nfe, accuracy in points}, key=lambda p: (p[0], -p[1]))
    if not ordered:
        raise ValueError("heuristic_hull needs at least one (mean NFE, accuracy) point")
    best = max(accuracy for _, accuracy in ordered)
    last = next(i for i, (_, accuracy) in enumerate(ordered) if accuracy == best)
    hull: list[tuple[float, float]] = []
    for point in ordered[: last + 1]:
        if hull and point[0] == hull[-1][0]:  # the same NFE at a lower accuracy (sorted): never a vertex
            continue
        # drop the last vertex while it lies on or below the segment from the one before it to this point
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], point) >= 0:
            hull.pop()
        hull.append(point)
    return hull


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def hull_accuracy(hull: list[tuple[float, float]], nfe: float) -> float | None:
    """The hull's accuracy at mean ``nfe``: linear between vertices, the best accuracy beyond the last one.

    None below the first vertex: no mix of heuristics spends that few passes, so there is nothing to compare with.

    Example:
        >>> hull = [(1.0, 0.1), (2.0, 0.5), (4.0, 0.9)]
        >>> hull_accuracy(hull, 3.0), hull_accuracy(hull, 8.0), hull_accuracy(hull, 0.5)
        (0.7, 0.9, None)
    """
    if nfe < hull[0][0] - 1e-12:
        return None
    xs = [x for x, _ in hull]
    return float(np.interp(nfe, xs, [y for _, y in hull]))


def hull_gain_interval(heuristics: dict[str, dict[Any, tuple[float, float]]], agent: dict[Any, tuple[float, float]],
                       resamples: int = 1000, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """An agent's accuracy minus the hull's at its mean NFE, with a paired bootstrap 95% interval over prompts.

    Each resample draws the held-out prompts with replacement, recomputes every heuristic's point, their hull and
    the agent's point on the same prompts, and takes the difference; the interval is the 2.5th to 97.5th
    percentile. Resamples whose agent point falls below the hull's first vertex count as no comparison.

    Args:
        heuristics: heuristic name → {prompt id: (correct, nfe)} (one episode per prompt).
        agent: {prompt id: (correct, nfe)} on the same prompts (the mean over an agent's repeats of a prompt).
        resamples: bootstrap resamples.
        seed: the bootstrap's generator.

    Returns:
        ``{"hull_accuracy", "hull_gain", "hull_gain_ci95"}`` (None where the agent's mean NFE is below the hull).
    """
    prompts = sorted(agent)
    for name, records in heuristics.items():
        if set(records) != set(prompts):
            raise ValueError(f"heuristic {name!r} ran on other prompts than the agent: the bootstrap pairs them")
    values = np.array([[heuristics[name][p] for p in prompts] for name in heuristics], dtype=float)  # (H, P, 2)
    mine = np.array([agent[p] for p in prompts], dtype=float)  # (P, 2)
    gain = _gain(values.mean(1), mine.mean(0))
    counts = np.random.default_rng(seed).multinomial(len(prompts), np.full(len(prompts), 1 / len(prompts)),
                                                     size=resamples) / len(prompts)  # (B, P) weights
    heuristic_points = np.einsum("bp,hpk->bhk", counts, values)  # (B, H, 2): accuracy, nfe
    agent_points = counts @ mine  # (B, 2)
    gains = [_gain(h, a) for h, a in zip(heuristic_points, agent_points, strict=True)]
    gains = np.array([g for g in gains if g is not None])
    hull = heuristic_hull((nfe, accuracy) for accuracy, nfe in values.mean(1))
    at = hull_accuracy(hull, float(mine[:, 1].mean()))
    interval = None if gain is None or len(gains) == 0 else [float(np.percentile(gains, 2.5)),
                                                              float(np.percentile(gains, 97.5))]  # fmt: skip
    return {"hull_accuracy": at, "hull_gain": gain, "hull_gain_ci95": interval}


def _gain(heuristic_points: np.ndarray, agent_point: np.ndarray) -> float | None:
    """Agent accuracy minus the hull's at the agent's NFE; points are (accuracy, nfe) rows."""
    hull = heuristic_hull((nfe, accuracy) for accuracy, nfe in heuristic_points)
    at = hull_accuracy(hull, float(agent_point[1]))
    return None if at is None else float(agent_point[0]) - at


def area_to_hull(curve: list[tuple[float, float]], hull: list[tuple[float, float]]) -> float | None:
    """An agent's summary against the hull: its mean accuracy gain over the NFE range both span.

    The agent's curve is its (mean NFE, accuracy) points joined by straight lines; the number is the area between
    that curve and the hull over the NFE interval where both are defined, divided by the interval's width (so it
    reads in accuracy points: +0.1 = ten points above the hull on average). A single point, or a curve touching
    the hull's range at one NFE, gives the gain there. None if the curve lies entirely below the hull's first NFE.

    Example:
        >>> area_to_hull([(2.0, 0.6), (4.0, 1.0)], [(1.0, 0.1), (2.0, 0.5), (4.0, 0.9)])
        0.1
    """
    curve = sorted(curve)
    low, high = max(curve[0][0], hull[0][0]), curve[-1][0]
    if high < hull[0][0]:
        return None
    xs, ys = [x for x, _ in curve], [y for _, y in curve]
    if high - low < 1e-9:
        return round(float(np.interp(high, xs, ys)) - hull_accuracy(hull, high), 12)
    grid = np.unique(np.concatenate([[low, high], [x for x in xs if low < x < high],
                                     [x for x, _ in hull if low < x < high]]))  # fmt: skip
    diff = np.interp(grid, xs, ys) - np.array([hull_accuracy(hull, x) for x in grid])
    area = float(np.sum((diff[1:] + diff[:-1]) / 2 * np.diff(grid)))  # exact: both curves are linear between knots
    return round(area / (high - low), 12)
