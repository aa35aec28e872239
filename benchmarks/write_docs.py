"""Regenerates the generated parts of README.md and docs/*.md: every number and transcript the docs show.

A generated part sits between two markers, ``<!-- generated: NAME -->`` and ``<!-- end generated -->``. NAME is
either one of ``GENERATORS`` below (a table computed from the committed ``benchmarks/results/*.json``, the shipped
policies' manifest or the package itself) or a command, ``$ unmask-gym ARGS``, whose output is run here and shown
under it (the replays and listings). Everything outside the markers is left as written.

    python benchmarks/write_docs.py          # rewrite the files whose generated parts changed
    python benchmarks/write_docs.py --check  # only say which files differ (exit 1); tests/test_docs.py does this
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import io
import json
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

from unmask_gym.benchmarking import hull_comparison_text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MANIFEST = ROOT / "agents" / "pretrained" / "policies.json"
MARKED = re.compile(r"^(<!-- generated: (?P<name>[^\n]+?) -->\n)(?P<body>.*?)^(<!-- end generated -->)$", re.S | re.M)


def documents() -> list[Path]:
    """The files with generated parts: the README and every docs page."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def script(name: str) -> ModuleType:
    """A module of benchmarks/ (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def result(name: str) -> dict | list:
    """A committed result file of benchmarks/results/."""
    return json.loads((RESULTS / f"{name}.json").read_text())


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def threads(count: int) -> str:
    """``1 thread`` or ``2 threads``."""
    return f"{count} thread" + ("s" if count != 1 else "")


def measured_on(data: dict) -> str:
    """The line naming the machine a result was measured on."""
    return f"Measured on {data['machine']}."


# --- results of the shipped policies ------------------------------------------------------------------------------


def bench_settings() -> Iterator[tuple[str, str, dict]]:
    """``(task, setting, data)`` of every setting of the committed bench reports of the shipped policies' tasks."""
    for task in script("policies_vs_heuristics").TASKS:
        if (RESULTS / f"bench_{task}.json").exists():
            for setting, data in result(f"bench_{task}")["settings"].items():
                yield task, setting, data


def comparison_rows() -> list[dict]:
    """Every shipped policy's points against the hull, recomputed from the committed bench reports."""
    compare = script("policies_vs_heuristics")
    return [row for task, setting, data in bench_settings() for row in compare.compare(task, setting, data)]


def sweep_rows() -> list[dict]:
    """Each conditioned policy's ``sweep_coverage`` row, from the committed bench reports."""
    compare = script("policies_vs_heuristics")
    return [row for task, setting, data in bench_settings() for row in compare.sweep_coverage(task, setting, data)]


def sweeps() -> str:
    """Each conditioned policy's alpha sweep against the range of the hull it should span."""
    compare = script("policies_vs_heuristics")
    rows = sweep_rows()
    spanning = sum(row["reaches_top"] and row["reaches_low_end"] for row in rows)
    return (compare.sweeps_markdown(rows) + f"\n\n{spanning} of the {len(rows)} conditioned policies span it: from "
            "one commit per step's accuracy (within 2 points) down to the lowest NFE where the hull still has 10% "
            "accuracy. The widest NFE gap is the largest step between neighbouring points of the sweep: a wide one "
            "is a policy that jumps between two operating points instead of trading along the range.")  # fmt: skip


def targets() -> str:
    """The learning issue's targets, met or not and by how much, from the same rows as the tables around it."""
    first_vertices = {task: data["hull"][0] for task, setting, data in bench_settings() if setting == "full"}
    return script("policies_vs_heuristics").targets_markdown(comparison_rows(), sweep_rows(), first_vertices,
                                                             json.loads(MANIFEST.read_text()))  # fmt: skip


def policies_vs_hull() -> str:
    """Every point of every shipped policy against the heuristic hull."""
    return script("policies_vs_heuristics").comparison_markdown(comparison_rows())


def shipped_policies() -> str:
    """The shipped policies: training command summary, time and held-out result."""
    return script("policies_vs_heuristics").shipped_markdown(json.loads(MANIFEST.read_text()))


def shipped_recipes() -> str:
    """How each shipped policy was trained, in words: what its command changes from the defaults."""
    return script("policies_vs_heuristics").recipe_markdown(json.loads(MANIFEST.read_text()))


def point_label(row: dict) -> str:
    """``beta=1`` or ``alpha=4`` from a point's name."""
    return row["point"].rsplit(":", 1)[-1]


def verdicts() -> str:
    """Per shipped policy and setting: which of its points are ahead of, level with or below the hull."""
    all_rows = comparison_rows()
    groups: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for row in all_rows:
        cells = groups.setdefault((row["agent"], row["task"], row["setting"]), {"ahead": [], "level": [], "below": []})
        if row["verdict"] in cells:
            cells[row["verdict"]].append(f"{point_label(row)} ({row['hull_gain']:+.3f})")
    rows = [[f"`{agent}`", task, setting, *(", ".join(points) or "–" for points in cells.values())]
            for (agent, task, setting), cells in groups.items()]  # fmt: skip
    return table(["policy", "task", "setting", "ahead", "level", "below"], rows)  # the bars: targets()


def headline() -> str:
    """Each shipped single-alpha policy at beta 1 (as trained) against the hull: the README's table."""
    rows = []
    for row in comparison_rows():
        if point_label(row) == "beta=1":
            hull, gain = hull_comparison_text(row)
            rows.append([row["task"], row["setting"], f"`{row['agent']}`",
                         f"{row['accuracy']:.3f} @ {row['mean_nfe']:.2f}", hull, gain, row["verdict"]])  # fmt: skip
    header = ["task", "setting", "policy (beta 1)", "accuracy @ mean NFE", "hull there", "gain (95% interval)",
              "verdict"]  # fmt: skip
    return table(header, rows)


def headline_conditioned() -> str:
    """Each shipped trade-off-conditioned policy's alpha sweep in one row: its two ends and its verdicts."""
    points: dict[tuple[str, str, str], list[dict]] = {}
    for row in comparison_rows():
        if point_label(row).startswith("alpha="):
            points.setdefault((row["task"], row["setting"], row["agent"]), []).append(row)
    rows = []
    for (task, setting, agent), sweep in points.items():
        most, fewest = max(sweep, key=lambda r: r["mean_nfe"]), min(sweep, key=lambda r: r["mean_nfe"])
        counts = {verdict: sum(r["verdict"] == verdict for r in sweep) for verdict in ("ahead", "level", "below")}
        alphas = sorted(float(point_label(r).split("=")[1]) for r in sweep)
        rows.append([task, setting, f"`{agent}`", f"{alphas[0]:g} to {alphas[-1]:g}",
                     f"{most['accuracy']:.3f} @ {most['mean_nfe']:.2f} to {fewest['accuracy']:.3f} @ "
                     f"{fewest['mean_nfe']:.2f}", *(str(count) for count in counts.values()),
                     str(len(sweep) - sum(counts.values()))])  # fmt: skip
    header = ["task", "setting", "conditioned policy", "alpha", "from the most NFE to the fewest", "ahead", "level",
              "below", "under the hull's first vertex"]  # fmt: skip
    return table(header, rows)


def recipe_study() -> str:
    """The GRPO recipe study's table."""
    return script("recipe_study").markdown(result("recipe_study"))


def commit_saturation() -> str:
    """The conditioned policies' share of undecided commit probabilities."""
    data = result("commit_saturation")
    rows = data["rows"]
    return (script("commit_saturation").markdown(rows) + f"\n\nFirst decision of {rows[0]['prompts']} held-out "
            "prompts. " + measured_on(data))  # fmt: skip


def sudoku_schedule_ceiling() -> str:
    """How fast a schedule that knows Sudoku's rules writes it with the built-in dLLM (target 2's room)."""
    rows = result("sudoku_schedule_ceiling")
    return (script("sudoku_schedule_ceiling").markdown(rows) + f"\n\n{rows[0]['episodes']:,} distinct held-out "
            f"prompts, full diffusion, 1 to {max(rows[0]['passes'])} passes each. " + measured_on(rows[0]))  # fmt: skip


def halved_commits() -> str:
    """What committing random halves costs on Sudoku (why beta 0.5 leaves decided policies below the hull)."""
    rows = result("halved_commits")
    return (script("halved_commits").markdown(rows) + f"\n\n{rows[0]['episodes']:,} distinct held-out prompts, full "
            "diffusion. " + measured_on(rows[0]))  # fmt: skip


def give_up_teachers() -> str:
    """Giving the hard Sudoku puzzles up, and the alphas where each rule is the additive optimum."""
    rows = result("give_up_teachers")
    return (script("give_up_teachers").markdown(rows) + f"\n\n{rows[0]['episodes']:,} distinct held-out prompts, "
            "full diffusion. " + measured_on(rows[0]))  # fmt: skip


def token_mass_rule() -> str:
    """The token_mass rule against the hull, per task, setting and scale."""
    rows = result("token_mass_rule")
    return (script("token_mass_rule").markdown(rows) + f"\n\n{rows[0]['episodes']:,} distinct held-out prompts. "
            + measured_on(rows[0]))  # fmt: skip


def ppo_vs_grpo() -> str:
    """PPO against GRPO on the same held-out prompts, against the hull."""
    rows = result("ppo_vs_grpo")
    first = {}  # each command once, under the first row trained by it (the equal-time point repeats its run's)
    for row in rows:
        first.setdefault(row["command"], row["name"])
    commands = "\n".join(f"- {name}: `{command}`" for command, name in first.items())
    return (script("ppo_vs_grpo").markdown(rows) + f"\n\n{rows[0]['episodes']:,} distinct held-out prompts, "
            f"{rows[0]['task']} in the {rows[0]['setting']} setting. {measured_on(rows[0])}\n\n{commands}")


# --- tasks and the env ------------------------------------------------------------------------------------------


def tasks_table() -> str:
    """The built-in tasks' room for a policy, and the EOS trap (``benchmarks/summarize_tasks.py``)."""
    tasks = script("summarize_tasks")
    return tasks.markdown(tasks.load_reports())


def prompt_formats() -> str:
    """Each built-in task's prompt format, from the task itself."""
    from unmask_gym.tasks import TASKS, make_task

    return table(["task", "prompt format"], [[name, make_task(name).prompt_format] for name in TASKS])


def env_arguments() -> str:
    """The constructor arguments, from ``EnvConfig``."""
    from unmask_gym.config import argument_table

    return argument_table()


def heuristics() -> str:
    """Every heuristic: its spec with the defaults, its Python call and what it commits, from ``HEURISTICS``."""
    from unmask_gym.heuristics import HEURISTICS

    rows = []
    for name, factory in HEURISTICS.items():
        parameters = inspect.signature(factory).parameters.values()
        spec = ",".join(f"{p.name}={p.default}" for p in parameters)
        call = ", ".join(f"{p.name}={p.default!r}" for p in parameters)
        rows.append([f"`{name}:{spec}`", f"`{name}({call})`", factory.__doc__.strip().splitlines()[0]])
    return table(["spec (defaults)", "Python (`unmask_gym.heuristics`)", "each step commits"], rows)


def hull_grid() -> str:
    """The heuristic grid of ``unmask-gym bench`` for a 16-position answer, in full diffusion and 4-token blocks."""
    from unmask_gym.benchmarking import hull_grid as grid

    lines = []
    for label, block_length in (("full diffusion", None), ("blocks of 4", 4)):
        specs = grid(16, block_length)
        lines.append(f"- {label} ({len(specs)} settings): " + ", ".join(f"`{spec}`" for spec in specs))
    return "\n".join(lines)


# --- performance ----------------------------------------------------------------------------------------------


def env_overhead() -> str:
    """Env step time against the bare dLLM forward (``bench_env_overhead.py``)."""
    data = result("env_overhead")
    rows = []
    for setting, entry in data["settings"].items():
        windows = entry["overhead_windows"]
        outside = (entry["step_seconds"] - entry["forward_seconds"]) * 1000
        rows.append([f"{setting}: `{data['env']}`, {data['num_envs']} envs, `{entry['policy']}`, "
                     f"{threads(entry['threads'])}",
                     f"**{entry['overhead']:.1%}** of the forward (windows {min(windows):.1%}–{max(windows):.1%}; "
                     f"{outside:.1f} ms on a {entry['forward_seconds'] * 1000:.0f} ms forward)"])  # fmt: skip
    comparisons = []
    for setting in ("semi_ar", "full"):
        eager, compiled = data["settings"].get(f"{setting} sync_free"), data["settings"].get(f"{setting} compiled")
        if eager and compiled:
            outside = [entry["step_seconds"] - entry["forward_seconds"] for entry in (eager, compiled)]
            than = "" if comparisons else " than the eager sync-free step"
            comparisons.append(f"{1 - outside[1] / outside[0]:.0%} less{than} in {setting}")
    compared = "" if not comparisons else f" Outside the forward, the compiled step costs {' and '.join(comparisons)}."
    return (table(["setting", "env overhead"], rows) + f"\n\n{data['measure']}; {data['windows']}." + compared + " "
            + measured_on(data))


def cold_step() -> str:
    """The step's halves in a tight loop and right after other work (``cold_step.py``)."""
    data = result("cold_step")
    conditions = list(data["halves"]["eager"]["before_forward"])
    rows = [[f"`{name}`, {step}", *(f"{times[condition]:.2f}" for condition in conditions)]
            for step, by_half in data["halves"].items() for name, times in by_half.items()]  # fmt: skip
    return (table(["half of the sync-free step (ms)", *conditions], rows)
            + f"\n\n`{data['env']}`, {data['setting']}; {data['measure']}. " + measured_on(data))


def step_profile() -> str:
    """Where a step's time goes outside the forward (``profile_step.py``)."""
    data = result("step_profile")
    settings = data["settings"]
    parts = list(next(iter(settings.values()))["parts_ms_per_step"])
    header = ["part of a step (ms)", *(f"{name}: `{entry['policy']}`, {threads(entry['threads'])}"
                                      for name, entry in settings.items())]  # fmt: skip
    rows = [[part, *(f"{entry['parts_ms_per_step'][part]:.3f}" for entry in settings.values())] for part in parts]
    rows.append(["not in a part", *(f"{entry['not_in_a_part_ms']:.3f}" for entry in settings.values())])
    rows.append(["whole step", *(f"{entry['ms_per_step']:.3f}" for entry in settings.values())])
    rows.append(["episodes ending per step", *(f"{entry['episodes_ending_per_step']:.2f}"
                                               for entry in settings.values())])  # fmt: skip
    return table(header, rows) + f"\n\n`{data['env']}`, {data['num_envs']} envs. " + measured_on(data)


def continuous_batching() -> str:
    """Continuous batching against the paper's static loop (``bench_continuous_batching.py``)."""
    data = result("continuous_batching")
    rows = []
    for task, entry in data["tasks"].items():
        loops = entry["loops"]
        for loop in ("continuous", "static_skip", "paper_static"):
            numbers = loops[loop]
            rows.append([task, loop, str(numbers["batched_passes"]), f"{numbers['row_forwards']:,}",
                         f"{numbers['seconds']:.2f}", f"{numbers['episodes_per_second']:.1f}",
                         f"{numbers['accuracy']:.3f}"])  # fmt: skip
    header = ["task", "loop", "batched passes", "row-forwards", "seconds", "episodes/s", "accuracy"]
    ratios = []
    for task, entry in data["tasks"].items():
        paper, skip = entry["paper_over_continuous"], entry["static_skip_over_continuous"]
        ratios.append(
            f"- {task}: the paper's static loop takes {paper['batched_passes']:.2f}× the batched passes, "
            f"{paper['row_forwards']:.2f}× the row-forwards and {paper['seconds']:.2f}× the wall time of "
            f"continuous batching; static batches that skip finished rows take "
            f"{skip['batched_passes']:.2f}× the passes, {skip['row_forwards']:.2f}× the row-forwards and "
            f"{skip['seconds']:.2f}× the wall time; equal accuracy: {entry['equal_accuracy']}."
        )
    note = (f"`{data['policy']}`, {data['episodes']:,} prompts, {data['num_envs']} envs, full diffusion, "
            f"{threads(data['threads'])}. ")  # fmt: skip
    return table(header, rows) + "\n\n" + "\n".join(ratios) + "\n\n" + note + measured_on(data)


def scaling() -> str:
    """Throughput against ``num_envs`` (``bench_scaling.py``)."""
    data = result("scaling")
    rows = [[str(p["num_envs"]), f"{p['forward_tokens_per_second']:,}", f"{p['episodes_per_second']:.1f}",
             f"{p['ms_per_step']:.2f}"] for p in data["points"]]  # fmt: skip
    note = f"Task {data['task']}, full diffusion, `{data['policy']}`, {threads(data['threads'])}. " + measured_on(data)
    return table(["num_envs", "forward tokens/s", "episodes/s", "ms per step"], rows) + "\n\n" + note


def feature_memory() -> str:
    """Extra memory of the features next to the logits (``feature_memory.py``)."""
    data = result("feature_memory")
    shape = data["shape"]
    gigabytes = 1e9
    rows = [["the logits themselves", f"{data['logits_bytes'] / gigabytes:.2f} GB"],
            ["features in bounded chunks (extra)", f"{data['chunked']['peak_extra_bytes'] / gigabytes:.2f} GB "
             f"({data['chunked']['in_float32_chunks']:.2f} chunks of {data['chunked']['chunk_elements']:,} floats)"],
            ["features in one piece (extra)", f"{data['one_piece']['peak_extra_bytes'] / gigabytes:.2f} GB "
             f"({data['one_piece']['in_logit_sizes']:.2f} copies of the logits)"]]  # fmt: skip
    note = (f"{shape['rows']} rows × L = {shape['length']} × V = {shape['vocab']:,} {shape['dtype']} logits on "
            f"{data['device']}. At the paper's shape: {data['paper_shape']}. ")  # fmt: skip
    return table(["what", "peak memory"], rows) + "\n\n" + note + measured_on(data)


def soak() -> str:
    """10,000 episodes with autoreset and the process's resident memory (``soak.py``)."""
    data = result("soak")
    rss = data["rss_megabytes"]
    rows = [[data["task"], f"`{data['policy']}`", f"{data['episodes']:,}", f"{data['seconds']:.1f}",
             f"{rss['after_warmup']:.1f} / {rss['middle']:.1f} / {rss['end']:.1f}",
             f"{data['rss_growth_after_warmup']:+.1%}", str(data["error"])]]  # fmt: skip
    header = ["task", "policy", "episodes", "seconds", "RSS MB after warm-up / middle / end", "growth", "error"]
    return table(header, rows) + "\n\n" + measured_on(data)


def grpo_cost() -> str:
    """A GRPO iteration's rollout against its update (``bench_grpo.py``)."""
    data = result("bench_grpo")
    seconds, stored = data["seconds_per_iteration"], data["stored_steps_per_iteration"]
    rows = [["rollout (s per iteration)", f"{seconds['rollout_seconds']:.2f}"],
            ["update (s per iteration)", f"{seconds['update_seconds']:.2f}"],
            ["update / rollout", f"{data['update_over_rollout']:.2f}"],
            *([f"rollout share: {part}", f"{share:.1%}"] for part, share in data["rollout_fractions"].items()),
            ["stored steps per iteration", f"{sum(stored) / len(stored):.0f}"],
            ["policy / dLLM parameters", f"{data['policy_parameters']:,} / {data['dllm_parameters']:,}"]]  # fmt: skip
    note = (
        f"{data['task']}, full diffusion, {data['rollouts_per_iteration']} rollouts per iteration, update: "
        f"{data['update_work']}; {data['measured_iterations']} iterations measured, {threads(data['threads'])}. "
    )
    return table(["GRPO iteration", "value"], rows) + "\n\n" + note + measured_on(data)


def gpu_figures() -> str:
    """``bench_gpu.py``'s reading on a GPU (``results/gpu.json``), or a line saying it is pending."""
    if not (RESULTS / "gpu.json").exists():
        return ("Pending: this project has had no GPU. `benchmarks/device_run.sh` measures it in one device run; "
                "its `gpu.json` goes to `benchmarks/results/`, and this section is generated from it.")  # fmt: skip
    return gpu_markdown(result("gpu"))


def gpu_markdown(data: dict) -> str:
    """The tables of a ``bench_gpu.py`` report: ratios, tiny-model throughput, the GRPO split and the targets.

    A ``--both-steps`` report shows each figure as "host-steered / sync-free" (then "/ compiled" with
    ``--compile-step``); "–" where a run has no value.
    """
    runs = [data] + [data[key] for key in ("sync_free_run", "compiled_run") if key in data]

    def kind(run: dict) -> str:
        """The run's step: host-steered, sync-free, or compiled with its mode."""
        if run.get("compile_step"):
            return f"compiled ({run['compile_step']})"
        return "sync-free" if run["sync_free"] else "host-steered"

    def per_run(*keys: str, form: Callable[[object], str] = str, missing: str = "–") -> str:
        """The value at ``keys`` in each run, formatted, joined by " / "."""
        cells = []
        for run in runs:
            value = run
            for key in keys:
                value = value.get(key) if isinstance(value, dict) else None
            cells.append(missing if value is None else form(value))
        return " / ".join(cells)

    settings = list(next(iter(data["ratio"].values()), {}))
    ratios = table(["model, envs", *settings],
                   [[model, *(per_run("ratio", model, setting, form="{:.3f}".format) for setting in settings)]
                    for model in data["ratio"]])  # fmt: skip
    scaling = table(["num_envs", "env steps/s", "ms per step"],
                    [[size, per_run("env_steps_per_s", size, form="{:,}".format),
                      per_run("ms_per_step", size, form="{:.2f}".format)]
                     for size in data["env_steps_per_s"]])  # fmt: skip
    shares = ["env bookkeeping", "dLLM forwards", "policy sampling forwards"]
    grpo = table(["GRPO iteration", "value"],
                 [["rollout (s)", per_run("grpo", "seconds_per_iteration", "rollout_seconds", form="{:.3f}".format)],
                  ["update (s)", per_run("grpo", "seconds_per_iteration", "update_seconds", form="{:.3f}".format)],
                  *[[f"rollout share: {share}", per_run("grpo", "rollout_fractions", share, form="{:.1%}".format)]
                    for share in shares]])  # fmt: skip
    targets = table(["target", "met?"],
                    [[entry["target"], per_run("targets", key, "pass", form=lambda met: "met" if met else "missed",
                                            missing="not measured")]
                     for key, entry in data["targets"].items()])  # fmt: skip
    steps = " / ".join(kind(run) for run in runs)
    notes = [f"{data['device']}, torch {data['torch']}, transformers {data['transformers']}; {steps} step; "
             f"{data['steps']} timed steps after {data['warmup']}; {data['seconds']} s in all"
             + ("" if data.get("complete", True) else " (cut short: the parts not reached are missing)") + "."]
    for run in runs:
        for outcome in ("skipped", "errors"):
            notes += [f"{kind(run)} {part} {outcome}: {why}" for part, why in run[outcome].items()]
        notes += [f"{kind(run)} {part} ran eager where compiling failed: {'; '.join(why)}"
                  for part, why in run.get("compile_fell_back", {}).items()]  # fmt: skip
    return "\n\n".join([ratios, scaling, grpo, targets, "\n".join(f"- {note}" for note in notes)])


GENERATORS: dict[str, Callable[[], str]] = {
    "headline": headline,
    "headline-conditioned": headline_conditioned,
    "shipped-policies": shipped_policies,
    "shipped-recipes": shipped_recipes,
    "policies-vs-hull": policies_vs_hull,
    "verdicts": verdicts,
    "sweeps": sweeps,
    "targets": targets,
    "recipe-study": recipe_study,
    "token-mass-rule": token_mass_rule,
    "sudoku-schedule-ceiling": sudoku_schedule_ceiling,
    "halved-commits": halved_commits,
    "give-up-teachers": give_up_teachers,
    "commit-saturation": commit_saturation,
    "ppo-vs-grpo": ppo_vs_grpo,
    "tasks": tasks_table,
    "prompt-formats": prompt_formats,
    "env-arguments": env_arguments,
    "heuristics": heuristics,
    "hull-grid": hull_grid,
    "env-overhead": env_overhead,
    "step-profile": step_profile,
    "cold-step": cold_step,
    "continuous-batching": continuous_batching,
    "scaling": scaling,
    "feature-memory": feature_memory,
    "soak": soak,
    "grpo-cost": grpo_cost,
    "gpu": gpu_figures,
}


def transcript(command: str) -> str:
    """``$ unmask-gym ARGS`` and what it prints, as a ``text`` block (the CLI runs in this process)."""
    words = shlex.split(command)
    if words[:1] != ["unmask-gym"]:
        raise ValueError(f"a generated command must start with 'unmask-gym', got {command!r}")
    from unmask_gym.cli import main

    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = main(words[1:])
    if code:
        raise RuntimeError(f"{command!r} exited with {code}:\n{output.getvalue()}")
    return f"```text\n$ {command}\n{output.getvalue().rstrip()}\n```"


def generate(name: str) -> str:
    """The text of the generated part called ``name``."""
    if name.startswith("$ "):
        return transcript(name[2:])
    if name not in GENERATORS:
        raise ValueError(f"unknown generated part {name!r}; known: {sorted(GENERATORS)} or '$ unmask-gym ...'")
    return GENERATORS[name]()


def regenerate(text: str) -> str:
    """``text`` with every generated part written afresh."""
    return MARKED.sub(lambda m: f"{m.group(1)}\n{generate(m.group('name'))}\n\n{m.group(4)}", text)


def main(argv: list[str] | None = None) -> int:
    """Rewrites (or with ``--check`` compares) every document's generated parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report the files that would change (exit 1)")
    args = parser.parse_args(argv)
    changed = []
    for path in documents():
        text = path.read_text()
        new = regenerate(text)
        if new != text:
            changed.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(new)
    verb = "differ" if args.check else "rewritten"
    print(f"{verb}: {', '.join(changed)}" if changed else "every generated part is up to date")
    return 1 if changed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
