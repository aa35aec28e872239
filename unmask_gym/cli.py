"""The unmask-gym command: demo, eval, bench, list, replay, train (a policy) and train-dllm.

Run "unmask-gym <command> --help" for each one. Heavy modules (torch, the models) are imported inside the
commands, so --help answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unmask_gym.hf_cli import add_hf_arguments, hf_env_kwargs, transferred_env_kwargs

TASK_DEFAULT = "task"  # the same sentinel as unmask_gym.config.TASK_DEFAULT, without importing torch for --help
BUILT_IN_TASKS = ("addition", "permutation", "permutation-v0", "statetracking", "sudoku")  # unmask_gym.tasks.TASKS
DEFAULT_TASK = "permutation"  # every command's (and the trainers') --task default
TASK_HELP = f"built-in task: {', '.join(BUILT_IN_TASKS)} (default: {DEFAULT_TASK}; gsm8k/math with --dataset)"


def block_length_argument(text: str) -> int | str | None:
    """``--block-length``: a positive int, ``none`` (full diffusion) or ``task`` (the task's default)."""
    if text.lower() == "none":
        return None
    if text.lower() == TASK_DEFAULT:
        return TASK_DEFAULT
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive int, 'none' or 'task', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, 'none' or 'task', got {text!r}")
    return value


BLOCK_HELP = "semi-AR block length: an int, 'none' (full diffusion) or 'task' (default: the task's, as its env id)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``unmask-gym`` console script."""
    parser = argparse.ArgumentParser(prog="unmask-gym", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="decode held-out prompts of a built-in task with simple unmasking rules")
    demo.add_argument("--task", default=DEFAULT_TASK, help=TASK_HELP)
    demo.add_argument("--episodes", type=int, default=200, help="held-out prompts per rule (default: 200)")
    demo.add_argument("--num-envs", type=int, default=64, help="parallel episodes (default: 64)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    demo.set_defaults(run=_demo)

    def add_env_arguments(command: argparse.ArgumentParser) -> None:
        command.add_argument("--task", default=DEFAULT_TASK, help=TASK_HELP)
        command.add_argument("--episodes", type=int, default=200, help="held-out prompts, each run once (default: 200)")
        command.add_argument("--num-envs", type=int, default=64, help="parallel episodes (default: 64)")
        command.add_argument("--seed", type=int, default=0, help="picks the prompts and any sampling (default: 0)")
        command.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")

    evaluate = commands.add_parser("eval", help="accuracy and NFE of one policy on one task")
    add_env_arguments(evaluate)
    evaluate.add_argument(
        "--policy", required=True,
        help="a heuristic spec (fast_dllm_threshold:threshold=0.9) or a learned policy: a shipped name, a run folder "
        "or a checkpoint file (it runs in the MDP it was trained for; --task is then ignored)",
    )  # fmt: skip
    evaluate.add_argument("--block-length", type=block_length_argument, default=TASK_DEFAULT, help=BLOCK_HELP)
    evaluate.add_argument(
        "--alpha", type=float, default=None,
        help="the trade-off a conditioned policy (a -cond one) serves: higher, fewer passes (default: its trained one)",
    )  # fmt: skip
    evaluate.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    add_hf_arguments(evaluate)
    evaluate.set_defaults(run=_eval)

    bench = commands.add_parser(
        "bench", help="your agents, the shipped policies and the heuristic grid against the heuristic hull",
        description="Runs the heuristic grid, every shipped policy of the task and your agents on the same distinct "
        "held-out prompts, semi-AR and full diffusion, and compares each agent point with the heuristic hull (the "
        "best a per-prompt mix of two heuristic settings reaches) at its mean NFE, with a paired bootstrap 95%% "
        "interval. Writes OUT/bench_<task>.json (schema unmask-gym-bench/1) and a plot.",
    )  # fmt: skip
    add_env_arguments(bench)
    bench.set_defaults(episodes=1000)
    bench.add_argument(
        "--agent", action="append", default=[], metavar="PKG.MODULE:NAME",
        help="your agent: a callable obs -> action, or a zero-argument factory returning one (repeatable; the "
        "current folder is importable)",
    )  # fmt: skip
    bench.add_argument(
        "--policy", action="append", default=[], metavar="PATH",
        help="a learned policy: a run folder, a checkpoint or a shipped name (repeatable); it runs in the setting "
        "it was trained for",
    )  # fmt: skip
    bench.add_argument(
        "--block-length", type=block_length_argument, default=TASK_DEFAULT,
        help="the semi-AR setting's block length (default: the task's); full diffusion always runs too",
    )  # fmt: skip
    bench.add_argument("--settings", nargs="+", choices=("semi_ar", "full"), default=["semi_ar", "full"],
                       help="which settings to run (default: both)")  # fmt: skip
    bench.add_argument("--out", type=Path, default=Path("bench"),
                       help="folder for the JSON, the plot and the heuristics' cache (default: ./bench)")  # fmt: skip
    bench.add_argument("--quick", action="store_true", help="a four-setting heuristic grid (for smoke tests)")
    bench.add_argument("--no-policies", action="store_true", help="leave out the shipped policies of the task")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar (it goes to stderr)")
    bench.add_argument(
        "--alpha", type=float, nargs="+", default=None, metavar="A",
        help="the alphas a conditioned policy is swept over (default: 7 spread over its trained range, then up to "
             "21 where its curve jumps: unmask_gym.bench.AlphaSweep)",
    )  # fmt: skip
    add_hf_arguments(bench)
    bench.set_defaults(run=_bench)

    listing = commands.add_parser("list", help="what exists: tasks, heuristics (spec grammar), shipped policies, dLLMs")
    listing.set_defaults(run=_list)

    show = commands.add_parser("replay", help="print one episode step by step")
    show.add_argument("--task", default=DEFAULT_TASK, help=TASK_HELP)
    show.add_argument(
        "--policy", default="top_k_confidence:k=4",
        help="a heuristic spec or a learned policy's name, run folder or checkpoint (default: top_k_confidence:k=4)",
    )  # fmt: skip
    show.add_argument("--block-length", type=block_length_argument, default=TASK_DEFAULT, help=BLOCK_HELP)
    show.add_argument(
        "--prompt", default=None, help="a prompt of your own in the task's format (default: a held-out one)"
    )
    show.add_argument("--seed", type=int, default=0)
    add_hf_arguments(show)
    show.set_defaults(run=_replay)

    train = commands.add_parser("train-dllm", help="train a built-in tiny dLLM (the recipe of the shipped models)")
    train.add_argument("--task", required=True, help=f"built-in task to train on: {', '.join(BUILT_IN_TASKS)}")
    train.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the shipped model's)")
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1, as for the shipped models)")
    train.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    train.add_argument("--out", type=Path, default=None, help="checkpoint path (default: ./<task>.pt)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (it goes to stderr)")
    train.set_defaults(run=_train_dllm)

    from unmask_gym.agents.train import add_train_arguments  # lazy: the agents import unmask_gym, not the reverse

    train_policy = commands.add_parser("train", help="train the paper's unmasking policy with GRPO or PPO")
    add_train_arguments(train_policy)
    train_policy.set_defaults(run=_train)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        parser.error(str(error))
        return 2


def _device(name: str | None) -> Any:
    import torch

    return torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))


def _demo(args: argparse.Namespace) -> int:
    import torch

    from unmask_gym.env import UnmaskVectorEnv

    rules = {
        "one per step (most confident)": lambda obs: torch.zeros_like(obs["action_mask"]),
        "everything in one pass": lambda obs: obs["action_mask"],
    }
    print(f"task={args.task}  held-out prompts={args.episodes}  device={_device(args.device)}")
    print(f"{'rule':34s} {'accuracy':>9s} {'mean NFE':>9s} {'seconds':>8s}")
    for name, rule in rules.items():
        env = UnmaskVectorEnv(
            min(args.num_envs, args.episodes), task=args.task, split="eval", num_prompts=args.episodes,
            empty_action="top_confidence", device=_device(args.device),
        )  # fmt: skip
        start = time.perf_counter()
        obs, _ = env.reset(seed=args.seed)
        correct, nfe, finished = 0.0, 0.0, 0
        while env.running.any():
            obs, _, terminated, _, info = env.step(rule(obs))
            if terminated.any():
                final = info["final_info"]
                correct += final["correct"][terminated].sum().item()
                nfe += final["nfe"][terminated].sum().item()
                finished += int(terminated.sum())
        print(f"{name:34s} {correct / finished:9.3f} {nfe / finished:9.2f} {time.perf_counter() - start:8.1f}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from unmask_gym.agents.loading import policy_and_env_kwargs
    from unmask_gym.distributed import Distributed
    from unmask_gym.evaluation import evaluate, make_eval_env, save_json, served_env_kwargs

    distributed = Distributed.from_environment(args.device)  # under torchrun: each rank decodes its shard
    policy, env_kwargs = policy_and_env_kwargs(args.policy, args.task, args.block_length)
    if args.alpha is not None:
        if not hasattr(policy, "alpha"):
            raise ValueError(f"--alpha is for a conditioned learned policy; {args.policy!r} is a heuristic")
        policy.alpha = args.alpha  # ValueError for a policy trained for one alpha, or an alpha out of its range
    hf = hf_env_kwargs(args, distributed.device)  # --model PATH --dataset PATH: a transformers model on GSM8K/MATH
    if hf:
        env_kwargs = transferred_env_kwargs(env_kwargs, hf, args.max_nfe)
    args.task = getattr(env_kwargs["task"], "name", env_kwargs["task"])
    env = make_eval_env(episodes=args.episodes, num_envs=args.num_envs, device=distributed.device,
                        **served_env_kwargs(policy, env_kwargs))  # fmt: skip
    args.block_length = env.block_length  # the resolved value, for the printout and the JSON
    result = evaluate(env, policy, seed=args.seed)
    distributed.close()
    if not distributed.is_main:
        return 0
    low, high = result.accuracy_ci95
    print(f"{result.policy}  task={args.task}  block_length={args.block_length}  episodes={result.episodes}  "
          f"distinct prompts={result.distinct_prompts}" + (f"  cut by the time limit={result.truncated}"
                                                           if result.truncated else ""))  # fmt: skip
    print(f"accuracy {result.accuracy:.3f} (95% CI {low:.3f}-{high:.3f})  mean NFE {result.mean_nfe:.2f}  "
          f"premature EOS {result.premature_eos_rate:.3f}")  # fmt: skip
    if args.out:
        save_json(
            {"task": args.task, "block_length": args.block_length, "answer_length": env.answer_length,
             "max_nfe": env.max_nfe, "seed": args.seed, **result.to_dict()}, args.out
        )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from unmask_gym.bench import bench_agents, standard_grid
    from unmask_gym.benchmarking import benchmark, import_agent
    from unmask_gym.tasks import make_task

    device = _device(args.device)
    hf = hf_env_kwargs(args, device)  # --model PATH --dataset PATH: a transformers model on GSM8K/MATH
    task = hf.pop("task") if hf else make_task(args.task)
    if hf and args.max_nfe is not None:
        hf["max_nfe"] = args.max_nfe
    block_length = task.default_block_length if args.block_length == TASK_DEFAULT else args.block_length
    if block_length is None:
        raise ValueError("bench always runs full diffusion; --block-length picks the semi-AR setting's B, not none")
    sys.path.insert(0, "")  # --agent mymodule:agent finds a module in the current folder, as `python -m` does
    agents = {reference: import_agent(reference) for reference in args.agent}
    task_key = str(getattr(task, "name", args.task)) if hf else args.task
    agents.update(bench_agents(task_key, args.policy, shipped=not args.no_policies and not hf, alphas=args.alpha))
    answer_length = hf.get("answer_length") or task.answer_length
    grids = {setting: [spec for specs in standard_grid(answer_length, True, block).values() for spec in specs]
             for setting, block in (("semi_ar", block_length), ("full", None))}  # fmt: skip
    progress = tqdm(desc=f"bench {task.name}", unit="run", file=sys.stderr, disable=args.no_progress)
    try:
        report = benchmark(
            agents, task=task, settings=args.settings, episodes=args.episodes, seed=args.seed,
            num_envs=args.num_envs, device=device, heuristics=grids if args.quick else None,
            cache_dir=args.out / "cache", on_result=lambda *_: progress.update(1), block_length=block_length, **hf,
        )  # fmt: skip
    except KeyboardInterrupt:
        progress.close()
        print(f"interrupted; the finished heuristic points are kept in {args.out / 'cache'}: the same command "
              "continues from them", file=sys.stderr)  # fmt: skip
        return 130
    progress.close()
    print(report.table())
    path = report.save(args.out)
    try:
        print(f"wrote {path} and {report.plot(path.with_suffix('.png'))}")
    except ImportError as error:
        print(f"wrote {path}; no plot: {error}")
    return 0


def _list(args: argparse.Namespace) -> int:
    import inspect

    from unmask_gym.heuristics import HEURISTICS
    from unmask_gym.models import list_models
    from unmask_gym.registration import REGISTERED_TASKS
    from unmask_gym.tasks import TASKS, make_task

    print("tasks (--task NAME; env ids UnmaskGym/<Id>):")
    ids = {kwargs["task"]: env_id for env_id, kwargs in REGISTERED_TASKS.items()}
    for name in TASKS:
        task = make_task(name)
        print(f"  {name:15s} UnmaskGym/{ids.get(name, '-'):17s} L={task.answer_length:<3d} blocks of "
              f"{task.default_block_length}  held-out prompts {len(task.held_out_set()):,}  prompt: "
              f"{task.prompt_format}")  # fmt: skip
    print("\nheuristics (--policy NAME:param=value,param=value; defaults shown):")
    for name, factory in HEURISTICS.items():
        parameters = ",".join(f"{p.name}={p.default}" for p in inspect.signature(factory).parameters.values())
        print(f"  {name}:{parameters}")
    print("\nshipped policies (--policy NAME; each runs in the MDP it was trained for):")
    from unmask_gym.agents import list_policies, load_policy
    from unmask_gym.agents.loading import PRETRAINED_DIR

    manifest = json.loads((PRETRAINED_DIR / "policies.json").read_text())
    for name in list_policies():
        policy, held = load_policy(name), manifest.get(name, {}).get("held_out", {})
        kwargs = policy.env_kwargs
        trade_off = f"alpha {policy.config.alpha_range} (conditioned)" if policy.config.conditioned else (
            f"alpha {kwargs.get('alpha')}")  # fmt: skip
        result = f"{held['accuracy']:.3f} @ {held['mean_nfe']:.2f} NFE" if held else "-"
        print(f"  {name:28s} task {kwargs.get('task')}, block_length {kwargs.get('block_length')}, {trade_off}; "
              f"held-out {result}")  # fmt: skip
    print(f"\nbuilt-in dLLMs (model=NAME): {', '.join(list_models())}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from unmask_gym.agents.loading import policy_and_env_kwargs
    from unmask_gym.replay import replay

    policy, env_kwargs = policy_and_env_kwargs(args.policy, args.task, args.block_length)
    hf = hf_env_kwargs(args, _device(None))
    if hf:
        env_kwargs = transferred_env_kwargs(env_kwargs, hf, args.max_nfe)
    for line in replay(policy, seed=args.seed, prompt=args.prompt, **env_kwargs):
        print(line)
    return 0


def _train(args: argparse.Namespace) -> int:
    from unmask_gym.agents.train import run

    return run(args)


def _train_dllm(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from unmask_gym.bench import machine_description
    from unmask_gym.models import save_model
    from unmask_gym.models.training import DLLMTrainConfig, train_dllm
    from unmask_gym.tasks import make_task

    task = make_task(args.task)
    torch.set_num_threads(args.threads)
    steps = task.train_steps if args.steps is None else args.steps
    config = DLLMTrainConfig(steps=steps, batch_size=args.batch_size, seed=args.seed)
    device = _device(args.device)
    progress = tqdm(total=config.steps, desc=f"train {task.name}", file=sys.stderr, disable=args.no_progress)

    def on_step(metrics: dict[str, float]) -> None:
        progress.update(1)
        progress.set_postfix(loss=f"{metrics['loss']:.3f}")

    start = time.perf_counter()
    model = train_dllm(task, config, device, on_step)
    progress.close()
    out = args.out or Path(f"{task.name.lower()}.pt")
    metadata = {
        "task": task.name,
        "train_config": vars(config),
        "train_seconds": round(time.perf_counter() - start),
        "machine": f"{machine_description()} threads={args.threads} device={device}",
        "torch": torch.__version__,
    }
    save_model(model, out, metadata)
    print(json.dumps({"checkpoint": str(out), **metadata}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
