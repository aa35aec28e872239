"""Benchmark anyone's agent against the heuristic hull: ``benchmark(agents={...}, task=...)`` → ``BenchReport``.

Every agent and every heuristic of the grid decodes the same distinct held-out prompts (the same seed), so their
points pair by prompt. The bar is the heuristic hull (``unmask_gym.evaluation.heuristic_hull``): at an agent's mean
NFE, the best accuracy a per-prompt mix of two heuristic settings reaches. Each agent point carries its hull gain
with a paired bootstrap 95% interval over prompts; "ahead" means the interval's lower end is above zero.

Heuristic results are cached per (task, model, env arguments, the served prompts, setting, seed, heuristic) in
``cache_dir``, so a second agent costs only its own episodes. The report's JSON is versioned (``SCHEMA``); its
layout is in ``BenchReport``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unmask_gym.evaluation import (
    EvalResult,
    area_to_hull,
    evaluate,
    heuristic_hull,
    hull_accuracy,
    hull_gain_interval,
    make_eval_env,
    served_env_kwargs,
)
from unmask_gym.tasks.base import distinct_prompts

SCHEMA = "unmask-gym-bench/1"
SETTINGS = ("semi_ar", "full")
"""``semi_ar``: the task's blocks (4 tokens for the built-in tasks); ``full``: full diffusion (no blocks)."""


def hull_grid(answer_length: int, block_length: int | None = None) -> list[str]:
    """The heuristic grid the hull is judged on (``make_policy`` specs), one rule per distinct setting.

    Top-k confidence k ∈ {1, 2, 3, 4, 6, 8, 12}, Fast-dLLM threshold ∈ {0.3, 0.5, 0.7, 0.9, 0.99}, EB-sampler
    γ ∈ {0.01, 0.1, 0.3, 1, 3}, Fast-dLLM factor ∈ {1, 4}, top-k entropy k ∈ {1, 4}. Inside blocks of B tokens a
    k above B is the same rule as k = B, so those settings appear once.

    Example:
        >>> len(hull_grid(16)), len(hull_grid(16, block_length=4))
        (21, 18)
    """
    limit = answer_length if block_length is None else min(block_length, answer_length)
    ks = sorted({min(k, limit) for k in (1, 2, 3, 4, 6, 8, 12)})
    return [
        *(f"top_k_confidence:k={k}" for k in ks),
        *(f"fast_dllm_threshold:threshold={t}" for t in (0.3, 0.5, 0.7, 0.9, 0.99)),
        *(f"eb_sampler:gamma={g}" for g in (0.01, 0.1, 0.3, 1.0, 3.0)),
        *(f"fast_dllm_factor:factor={f}" for f in (1.0, 4.0)),
        *(f"top_k_entropy:k={k}" for k in sorted({min(k, limit) for k in (1, 4)})),
    ]


def resolve_agent(agent: Any) -> Any:
    """An agent as the callable ``obs -> action``: the object itself, or what a zero-argument factory returns.

    A class with a no-argument constructor, or a function of no arguments, is a factory.

    Raises:
        TypeError: ``agent`` is not callable.
    """
    import inspect

    if not callable(agent):
        raise TypeError(f"an agent must be a callable obs -> action or a zero-argument factory, got {agent!r}")
    try:
        signature = inspect.signature(agent)
    except (TypeError, ValueError):  # a builtin without a signature: use it as is
        return agent
    required = [p for p in signature.parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]  # fmt: skip
    if inspect.isclass(agent) or not required:
        made = agent()
        if not callable(made):
            raise TypeError(f"the factory {agent!r} returned {made!r}, which is not a callable obs -> action")
        return made
    return agent


def import_agent(reference: str) -> Any:
    """The agent named ``PKG.MODULE:NAME`` (imported; a factory is called), as ``unmask-gym bench --agent`` takes.

    Raises:
        ValueError: ``reference`` is not ``MODULE:NAME``, or the module or the name does not exist.
    """
    import importlib

    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--agent takes PKG.MODULE:NAME (a callable obs -> action or a factory), got {reference!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import {module_name!r} for --agent {reference}: {error}") from error
    if not hasattr(module, attribute):
        raise ValueError(f"module {module_name!r} has no {attribute!r} (--agent {reference})")
    return resolve_agent(getattr(module, attribute))


def _trained_for(agent: Any) -> dict[str, Any]:
    """The MDP settings a learned policy was trained for (``env_kwargs``); {} for any other agent."""
    return dict(getattr(agent, "env_kwargs", None) or {})


def _model_key(task: Any, model: Any) -> str | None:
    """A cache key of the dLLM: the checkpoint's name and content hash (None: an instance, not cached)."""
    from unmask_gym.models import model_file, resolve_model_name

    if model is not None and not isinstance(model, str | Path):
        return None
    path = model_file(resolve_model_name(task) if model is None else model)
    if not path.is_file():
        return None
    return f"{path.stem}-{hashlib.sha1(path.read_bytes()).hexdigest()[:12]}"


def _point(result: EvalResult, answer_length: int) -> dict[str, Any]:
    return {
        "name": result.policy, "mean_nfe": result.mean_nfe, "accuracy": result.accuracy,
        "ci95": list(result.accuracy_ci95), "tokens_per_forward": answer_length / max(result.mean_nfe, 1e-9),
        "early_eos_rate": result.premature_eos_rate, "truncated": result.truncated,
        "per_prompt": {"prompt_id": [r["prompt_id"] for r in result.records],
                       "correct": [int(r["correct"]) for r in result.records],
                       "nfe": [r["nfe"] for r in result.records]},
    }  # fmt: skip


def per_prompt_outcomes(point: dict[str, Any]) -> dict[int, tuple[float, float]]:
    """A point's {prompt id: (correct, nfe)}, what ``hull_gain_interval`` pairs (a prompt's episodes averaged).

    Example:
        >>> per_prompt_outcomes({"per_prompt": {"prompt_id": [0, 1, 1], "correct": [1, 0, 1], "nfe": [2, 4, 2]}})
        {0: (1.0, 2.0), 1: (0.5, 3.0)}
    """
    table = point["per_prompt"]
    sums: dict[int, list[float]] = {}
    for prompt, correct, nfe in zip(table["prompt_id"], table["correct"], table["nfe"], strict=True):
        total = sums.setdefault(prompt, [0.0, 0.0, 0])
        total[0], total[1], total[2] = total[0] + correct, total[1] + nfe, total[2] + 1
    return {prompt: (c / n, f / n) for prompt, (c, f, n) in sums.items()}


def benchmark(agents: dict[str, Any] | None = None, task: Any = "sudoku", settings: Sequence[str] = SETTINGS,
              episodes: int = 1000, seed: int = 0, num_envs: int = 64, device: Any = None,
              heuristics: Sequence[str] | dict[str, Sequence[str]] | None = None, cache_dir: str | Path | None = None,
              resamples: int = 1000, on_result: Callable[[str, str], None] | None = None,
              block_length: int | None = None, **env_kwargs: Any) -> BenchReport:  # fmt: skip
    """Runs every agent and the heuristic grid on the same distinct held-out prompts; compares with the hull.

    Args:
        agents: name → an agent (a callable ``obs -> action``, a zero-argument factory of one, or a list of them:
            the points of one curve, e.g. a policy at several settings). A list with a ``refine(points)`` method
            (``unmask_gym.bench.AlphaSweep``) is asked for more points after its members ran, until it has none.
            A learned policy (one with ``env_kwargs``) runs in the MDP it was trained for, and only in the setting
            whose block length it was trained with.
        task: a built-in task name or a ``Task``.
        settings: among ``"semi_ar"`` (the task's blocks) and ``"full"`` (full diffusion).
        episodes: distinct held-out prompts (at most the task's held-out set; the error names its size).
        seed: picks the prompts; the same for every agent and heuristic.
        num_envs: parallel episodes.
        device: torch device of the envs.
        heuristics: ``make_policy`` specs of the grid, or setting → specs (default: ``hull_grid``).
        cache_dir: where heuristic results are cached (None: no cache).
        resamples: bootstrap resamples of the hull-gain intervals.
        on_result: called with (setting, point name) after each evaluation (the CLI's progress).
        block_length: the ``semi_ar`` setting's block length (default: the task's).
        **env_kwargs: further env arguments for every run (``model``, ``max_nfe``, ...).

    Returns:
        A ``BenchReport``.
    """
    from unmask_gym.bench import machine_description
    from unmask_gym.heuristics import make_policy
    from unmask_gym.tasks import resolve_task

    task_object = resolve_task(task)
    semi_ar_block = task_object.default_block_length if block_length is None else block_length
    for setting in settings:
        if setting not in SETTINGS:
            raise ValueError(f"settings must be among {SETTINGS}, got {setting!r}")
    blocks = {"semi_ar": semi_ar_block, "full": None}
    refiners = {name: agent.refine for name, agent in (agents or {}).items() if hasattr(agent, "refine")}
    agents = {name: (list(agent) if isinstance(agent, list | tuple) else [agent])
              for name, agent in (agents or {}).items()}  # fmt: skip
    agents = {name: [resolve_agent(a) for a in members] for name, members in agents.items()}
    answer_length = env_kwargs.get("answer_length") or task_object.answer_length
    model_key = _model_key(task_object, env_kwargs.get("model"))
    cache = Path(cache_dir) if cache_dir is not None and model_key is not None else None
    if cache is not None:
        options = json.dumps({k: v for k, v in env_kwargs.items() if k != "model"}, sort_keys=True, default=str)
        served, _ = distinct_prompts(task_object, episodes, seed)  # the very prompts: a changed held-out set misses
        cache_key = "-".join([task_object.name.lower(), str(model_key),
                              hashlib.sha1(options.encode()).hexdigest()[:8],  # other env arguments matter too
                              f"n{episodes}", hashlib.sha1("\n".join(served).encode()).hexdigest()[:8]])  # fmt: skip
    report: dict[str, Any] = {
        "schema": SCHEMA, "task": task_object.name, "episodes": episodes, "seed": seed,
        "machine": machine_description(), "model": model_key, "settings": {},
    }  # fmt: skip

    def run(policy: Any, setting: str, extra: dict[str, Any]) -> dict[str, Any]:
        kwargs = {"task": task, "block_length": blocks[setting], "device": device,
                  **env_kwargs, **extra}  # fmt: skip
        env = make_eval_env(episodes=episodes, num_envs=num_envs, **served_env_kwargs(policy, kwargs))
        point = _point(evaluate(env, policy, seed=seed), answer_length)
        if on_result is not None:
            on_result(setting, point["name"])
        return point

    for setting in settings:
        block = blocks[setting]
        specs = heuristics.get(setting) if isinstance(heuristics, dict) else heuristics
        specs = list(specs) if specs is not None else hull_grid(answer_length, block)
        cache_file = None if cache is None else cache / f"heuristics-{cache_key}-{setting}-b{block}-seed{seed}.json"
        cached = json.loads(cache_file.read_text()) if cache_file is not None and cache_file.is_file() else {}
        points = []
        for spec in specs:
            if spec in cached:
                if on_result is not None:
                    on_result(setting, f"{spec} (cached)")
            else:
                cached[spec] = run(make_policy(spec), setting, {})
                if cache_file is not None:  # after every point: an interrupted bench picks up where it stopped
                    cache_file.parent.mkdir(parents=True, exist_ok=True)
                    cache_file.write_text(json.dumps(cached) + "\n")
            points.append(cached[spec])
        report["distinct_prompts"] = len(set(points[0]["per_prompt"]["prompt_id"]))
        hull = heuristic_hull((p["mean_nfe"], p["accuracy"]) for p in points)
        per_heuristic = {p["name"]: per_prompt_outcomes(p) for p in points}
        agent_rows: dict[str, list[dict[str, Any]]] = {}
        for name, members in agents.items():
            trained_for = {settings["block_length"] for settings in map(_trained_for, members)
                           if "block_length" in settings}  # fmt: skip
            if trained_for and block not in trained_for:
                continue  # a learned policy runs only in the setting it was trained for
            rows: list[dict[str, Any]] = []
            while members:
                for member in members:
                    extra = {k: v for k, v in _trained_for(member).items() if k not in ("task", "block_length")}
                    extra.update(getattr(member, "observation_kwargs", {}))
                    point = run(member, setting, extra)
                    point.update(hull_gain_interval(per_heuristic, per_prompt_outcomes(point), resamples=resamples,
                                                    seed=seed))  # fmt: skip
                    rows.append(point)
                members = [resolve_agent(a) for a in refiners[name](rows)] if name in refiners else []
            agent_rows[name] = sorted(rows, key=lambda p: p["mean_nfe"])
        report["settings"][setting] = {
            "block_length": block,
            "heuristics": points,
            "hull": [list(vertex) for vertex in hull],
            "agents": agent_rows,
            "summary": {
                name: area_to_hull([(p["mean_nfe"], p["accuracy"]) for p in rows], hull)
                for name, rows in agent_rows.items()
            },
        }
    return BenchReport(report)


HULL_SUMMARY_FIELDS = ("accuracy", "ci95", "mean_nfe", "hull_accuracy", "hull_gain", "hull_gain_ci95")


def hull_summary(point: dict[str, Any]) -> dict[str, Any]:
    """A bench point's accuracy and NFE and how it stands against the hull: the fields a results row keeps.

    Example:
        >>> point = {"accuracy": 0.9, "ci95": [0.8, 0.95], "mean_nfe": 3.0, "hull_accuracy": 0.7, "hull_gain": 0.2,
        ...          "hull_gain_ci95": [0.1, 0.3], "per_prompt": {}}
        >>> sorted(hull_summary(point)) == sorted(HULL_SUMMARY_FIELDS)
        True
    """
    return {key: point[key] for key in HULL_SUMMARY_FIELDS}


def summary_rows(report: dict[str, Any], setting: str) -> list[dict[str, Any]]:
    """One results row per agent of a ``benchmark`` report's setting whose agents are single points.

    Each row: the agent's name, the distinct prompts, the machine and its point's ``hull_summary``.

    Example:
        >>> point = {"accuracy": 0.9, "ci95": [0.8, 0.95], "mean_nfe": 3.0, "hull_accuracy": 0.7, "hull_gain": 0.2,
        ...          "hull_gain_ci95": [0.1, 0.3]}
        >>> report = {"distinct_prompts": 8, "machine": "m", "settings": {"full": {"agents": {"a": [point]}}}}
        >>> summary_rows(report, "full")[0]["hull_gain"], summary_rows(report, "full")[0]["name"]
        (0.2, 'a')
    """
    return [{"name": name, "episodes": report["distinct_prompts"], "machine": report["machine"],
             **hull_summary(points[0])} for name, points in report["settings"][setting]["agents"].items()]  # fmt: skip


def hull_comparison_text(point: dict[str, Any]) -> tuple[str, str]:
    """A point's hull accuracy and its gain with the 95% interval, as table text.

    Example:
        >>> hull_comparison_text({"hull_accuracy": 0.5, "hull_gain": 0.1, "hull_gain_ci95": [0.02, 0.18]})
        ('0.500', '+0.100 (+0.020 to +0.180)')
        >>> hull_comparison_text({"hull_accuracy": None, "hull_gain": None, "hull_gain_ci95": None})
        ('–', "below the hull's NFE range")
    """
    if point["hull_gain"] is None:
        return "–", "below the hull's NFE range"
    low, high = point["hull_gain_ci95"]
    return f"{point['hull_accuracy']:.3f}", f"{point['hull_gain']:+.3f} ({low:+.3f} to {high:+.3f})"


def hull_table(points: list[dict[str, Any]], before: dict[str, Callable[[dict], str]],
               after: dict[str, Callable[[dict], str]] | None = None) -> str:  # fmt: skip
    """A Markdown table of points against the hull, one row each.

    Columns: ``before`` (header → the cell of a point), then accuracy @ mean NFE, the hull there and the gain with
    its interval (``hull_comparison_text``), then ``after``.

    Example:
        >>> point = {"name": "a", "accuracy": 0.6, "mean_nfe": 2.0, "hull_accuracy": 0.5, "hull_gain": 0.1,
        ...          "hull_gain_ci95": [0.02, 0.18]}
        >>> print(hull_table([point], {"agent": lambda p: p["name"]}))
        | agent | accuracy @ mean NFE | hull there | gain (95% interval) |
        |---|---|---|---|
        | a | 0.600 @ 2.00 | 0.500 | +0.100 (+0.020 to +0.180) |
    """
    after = after or {}
    header = [*before, "accuracy @ mean NFE", "hull there", "gain (95% interval)", *after]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for point in points:
        cells = [cell(point) for cell in before.values()]
        cells += [f"{point['accuracy']:.3f} @ {point['mean_nfe']:.2f}", *hull_comparison_text(point)]
        lines.append("| " + " | ".join(cells + [cell(point) for cell in after.values()]) + " |")
    return "\n".join(lines)


class BenchReport:
    """What ``benchmark`` measured; ``.table()``, ``.plot(path)``, ``.save(path)``, ``BenchReport.load(path)``.

    The JSON (``schema: "unmask-gym-bench/1"``)::

        {"schema", "task", "episodes", "distinct_prompts", "seed", "machine", "model",
         "settings": {"semi_ar" | "full": {
             "block_length": B or null,
             "heuristics": [{"name", "mean_nfe", "accuracy", "ci95", "tokens_per_forward", "early_eos_rate",
                             "truncated", "per_prompt": {"prompt_id": [...], "correct": [...], "nfe": [...]}},
                            ...],
             "hull": [[mean_nfe, accuracy], ...],   # vertices by increasing NFE
             "agents": {NAME: [{... the heuristic fields ..., "hull_accuracy", "hull_gain", "hull_gain_ci95"}]},
             "summary": {NAME: mean hull gain over the NFE range the agent's curve and the hull share}}}}

    ``hull_gain`` is the accuracy minus the hull's at the point's mean NFE (null below the hull's first vertex);
    ``hull_gain_ci95`` its paired bootstrap 95% interval over prompts. ``summary`` is ``area_to_hull``: the area
    between the agent's curve (its points joined by lines) and the hull over the NFE range both span, divided by
    that range's width (accuracy points; positive = ahead).
    """

    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not an {SCHEMA} report (schema {data.get('schema')!r})")
        self.data = data

    @classmethod
    def load(cls, path: str | Path) -> BenchReport:
        """Reads a report written by ``save``."""
        return cls(json.loads(Path(path).read_text()))

    def save(self, path: str | Path) -> Path:
        """Writes the JSON to ``path`` (a file, or a folder that gets ``bench_<task>.json``); returns the file."""
        path = Path(path)
        if path.suffix != ".json":
            path = path / f"bench_{self.data['task'].lower()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.data, separators=(",", ":")) + "\n")  # compact: per-prompt lists
        return path

    def table(self) -> str:
        """A plain-text table per setting: the hull's vertices, then every agent point with its hull gain."""
        lines = [f"{self.data['task']}: {self.data['distinct_prompts']} distinct held-out prompts, seed "
                 f"{self.data['seed']}; gain = accuracy - heuristic hull at the same mean NFE (95% paired bootstrap)"]
        for setting, data in self.data["settings"].items():
            block = data["block_length"]
            lines.append(f"\n{setting} ({'full diffusion' if block is None else f'blocks of {block}'})")
            lines.append(f"{'':2s}{'point':38s} {'mean NFE':>8s} {'accuracy':>8s} {'hull':>6s} {'gain':>7s} "
                         f"{'95% interval':>16s}")  # fmt: skip
            for nfe, accuracy in data["hull"]:
                name = next(p["name"] for p in data["heuristics"] if (p["mean_nfe"], p["accuracy"]) == (nfe, accuracy))
                lines.append(f"{'h':2s}{name[:38]:38s} {nfe:8.2f} {accuracy:8.3f}")
            for name, rows in data["agents"].items():
                for point in rows:
                    gain, interval = point["hull_gain"], point["hull_gain_ci95"]
                    ahead = "+" if interval and interval[0] > 0 else "-" if interval and interval[1] < 0 else " "
                    text = ("   below the hull's NFE range" if gain is None else
                            f"{point['hull_accuracy']:6.3f} {gain:+7.3f} [{interval[0]:+.3f}, {interval[1]:+.3f}]")
                    lines.append(f"{ahead:2s}{point['name'][:38]:38s} {point['mean_nfe']:8.2f} "
                                 f"{point['accuracy']:8.3f} {text}")  # fmt: skip
                summary = data["summary"].get(name)
                shown = "n/a" if summary is None else f"{summary:+.3f}"
                lines.append(f"{'':2s}{name}: mean gain over the shared NFE range {shown}")
        lines.append("\nh: a vertex of the heuristic hull; +/-: the agent's interval lies above/below the hull")
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Accuracy vs mean NFE per setting: the hull, the heuristics' points, each agent's points with intervals.

        Raises:
            ImportError: naming the extra to install when matplotlib is missing.
        """
        try:
            import matplotlib
        except ImportError as error:
            raise ImportError('plotting needs matplotlib: pip install "unmask-gym[plot]"') from error
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        settings = self.data["settings"]
        figure, axes = plt.subplots(1, len(settings), figsize=(6.5 * len(settings), 5.6), squeeze=False)
        for axis, data in zip(axes[0], settings.values(), strict=True):
            axis.scatter([p["mean_nfe"] for p in data["heuristics"]], [p["accuracy"] for p in data["heuristics"]],
                         s=14, c="0.55", label="heuristic settings", zorder=2)  # fmt: skip
            hull = [tuple(vertex) for vertex in data["hull"]]
            # Sampled densely: the hull is straight in mean NFE, and the x axis is logarithmic.
            xs = np.linspace(hull[0][0], hull[-1][0] * 1.5, 400)
            axis.plot(xs, [hull_accuracy(hull, x) for x in xs], "k-", lw=1.3, label="heuristic hull", zorder=1)
            for name, rows in data["agents"].items():
                x = [p["mean_nfe"] for p in rows]
                y = [p["accuracy"] for p in rows]
                errors = [[max(0.0, p["accuracy"] - p["ci95"][0]) for p in rows],
                          [max(0.0, p["ci95"][1] - p["accuracy"]) for p in rows]]  # fmt: skip
                axis.errorbar(x, y, yerr=errors, fmt="*-", ms=9, lw=1, capsize=2, label=name, zorder=3)
            block = data["block_length"]
            axis.set_xscale("log", base=2)
            axis.set(xlabel="mean NFE (log scale)", ylabel="accuracy (95% interval)", ylim=(-0.03, 1.03),
                     title=f"{self.data['task']}, {'full diffusion' if block is None else f'blocks of {block}'}")
            axis.grid(alpha=0.3, which="both")
            axis.legend(fontsize=7, loc="lower right")
        figure.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
        plt.close(figure)
        return path
