"""``unmask-gym train`` / ``python -m unmask_gym.agents.train``: train the paper's policy with GRPO or PPO.

Every ``GRPOConfig`` / ``PPOConfig`` field is a flag (``--num-groups``, ``--block-length none``, ``--num-steps``
...), and so are the main ``PolicyConfig`` fields (``--width``, ``--features confidence,masked,step_frac``). The run
folder ``--out`` receives ``config.json``, ``metrics.csv`` (one row per iteration; TensorBoard events in ``tb/``
when tensorboard is installed), ``checkpoints/iteration_NNNNNN.pt`` every ``--checkpoint-every`` iterations and
at the end, ``policy.pt`` (what ``load_policy(out)`` reads) and ``eval.json`` (held-out accuracy and NFE).
``--resume DIR`` continues the run from its latest checkpoint (GRPO: exactly as if it had not stopped).
Under ``torchrun --nproc-per-node K -m unmask_gym.agents.train ...`` K ranks train one policy together
(``unmask_gym/distributed.py``).
"""

from __future__ import annotations

import argparse
import ast
import csv
import dataclasses
import itertools
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unmask_gym.hf_cli import add_hf_arguments, hf_env_kwargs

ALGORITHMS = ("grpo", "ppo")
"""The trainers ``--algo`` picks from."""

POLICY_FLAGS = ("features", "width", "num_heads", "ff_width", "architecture", "init_bias", "commit_noise",
                "tau_train", "tau_eval", "alpha_range", "beta_input", "beta_head")  # fmt: skip
"""The ``PolicyConfig`` fields exposed as flags (the others are derived from the env or the seed)."""


@dataclasses.dataclass(frozen=True)
class ConfigField:
    """One dataclass field as read from the source: name, annotation, literal default and the docstring under it."""

    name: str
    annotation: str
    default: Any
    doc: str


def config_fields(module: str, class_name: str) -> list[ConfigField]:
    """The fields of a config dataclass in ``agents/<module>.py``, read with ``ast`` (CleanRL-style docstrings).

    Reading the source instead of importing it keeps ``unmask-gym train --help`` free of torch.

    Example:
        >>> [field.name for field in config_fields("grpo", "GRPOConfig")][:3]
        ['task', 'block_length', 'alpha']
    """
    tree = ast.parse((Path(__file__).parent / f"{module}.py").read_text())
    body = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name).body
    found = []
    for statement, following in itertools.pairwise([*body, ast.Pass()]):
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            doc = following.value.value if isinstance(following, ast.Expr) else ""
            default = ast.literal_eval(statement.value) if statement.value is not None else None
            found.append(ConfigField(statement.target.id, ast.unparse(statement.annotation), default, " ".join(
                str(doc).split())))  # fmt: skip
    return found


def _converter(item: ConfigField) -> Any:
    """A string -> value converter for a field ("none" is None where None is allowed)."""
    kinds = item.annotation.split(" | ")

    def convert(text: str) -> Any:
        if "None" in kinds and text.lower() == "none":
            return None
        if item.annotation.startswith("tuple"):
            return tuple(part.strip() for part in text.split(",") if part.strip())
        if "str" in kinds and (kinds[0] == "str" or text == item.default):  # a str field, or a named setting
            return text
        for kind in (int, float):
            if kind.__name__ in kinds:
                try:
                    return kind(text)
                except ValueError:
                    break
        named = f", 'none' or {item.default!r}" if "str" in kinds else (", 'none'" if "None" in kinds else "")
        raise argparse.ArgumentTypeError(f"--{item.name.replace('_', '-')} expects {kinds[0]}{named}, got {text!r}")

    return convert


def _add_fields(parser: argparse.ArgumentParser, items: Sequence[ConfigField]) -> None:
    for item in items:
        flag = "--" + item.name.replace("_", "-")
        shown = ",".join(map(str, item.default)) if isinstance(item.default, tuple) else item.default
        doc = re.sub(r"``([^`]*)``", r"\1", item.doc)  # plain text in --help, not reST
        help_text = (doc if "(default:" in doc else f"{doc} (default: {shown})").replace("%", "%%")
        # SUPPRESS: only the flags given reach the config, so the dataclass stays the one source of defaults.
        if item.annotation == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(flag, type=_converter(item), default=argparse.SUPPRESS, help=help_text,
                                metavar=item.name.upper())  # fmt: skip


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the train command's flags to ``parser`` (``unmask-gym train`` wires its subcommand with this).

    The flags are the union of ``GRPOConfig`` and ``PPOConfig`` (most are shared); ``--algo`` picks the trainer,
    and a flag the chosen trainer does not have is an error.
    """
    parser.add_argument("--algo", choices=ALGORITHMS, default="grpo", help="training algorithm (default: grpo)")
    grpo = {item.name: item for item in config_fields("grpo", "GRPOConfig")}
    ppo = {item.name: item for item in config_fields("ppo", "PPOConfig")}
    fields = []
    for name, item in {**grpo, **ppo}.items():
        if name in grpo and name in ppo and grpo[name].default != ppo[name].default:
            item = dataclasses.replace(grpo[name], doc=f"{grpo[name].doc} (default: grpo {grpo[name].default}, "
                                                        f"ppo {ppo[name].default})")  # fmt: skip
        elif name not in ppo:
            item = dataclasses.replace(item, doc=f"[grpo] {item.doc}")
        elif name not in grpo:
            item = dataclasses.replace(item, doc=f"[ppo] {item.doc}")
        fields.append(item)
    _add_fields(parser, fields)
    _add_fields(parser, [item for item in config_fields("policy", "PolicyConfig") if item.name in POLICY_FLAGS])
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue the run in this folder (or from this checkpoint file); other flags are the "
                             "checkpoint's, except --iterations")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run already in --out (default: refuse, so that no run is lost)")  # fmt: skip
    parser.add_argument(
        "--eval-episodes",
        type=int,
        default=200,
        help="held-out prompts evaluated at the end, written to eval.json; 0 skips (default: 200)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    add_hf_arguments(parser, with_model=False)  # --dataset PATH makes --model a transformers model folder
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (print one line per checkpoint)")


def check_resume_flags(payload: dict[str, Any], algo: str, config_flags: dict[str, Any],
                       policy_flags: dict[str, Any], skip: set[str] = frozenset()) -> None:  # fmt: skip
    """Refuses ``--resume`` with flags that differ from the run's own settings (``--iterations`` may change).

    A flag equal to the run's setting is accepted, so the command that started a run, plus ``--resume``, continues
    it. ``payload``: the checkpoint ``--resume`` names (``read_checkpoint``); ``skip``: settings derived from other
    flags (a ``--dataset`` run's task and model).

    Raises:
        ValueError: naming every flag whose value differs from the checkpoint's, with both values.
    """
    path, state = payload["path"], payload["trainer_state"]
    run_algo = state.get("algo", "grpo")
    if run_algo != algo:
        raise ValueError(f"{path} is a {run_algo.upper()} run; resume it with --algo {run_algo}")
    stored = {**json.loads(state["config"]), **payload["policy_config"]}
    differences = []
    flags = {**config_flags, **policy_flags}
    for name in stored:  # in the config's field order
        if name in {"iterations", *skip} or name not in flags:
            continue
        value = flags[name]
        if name == "out" and Path(value).resolve() == path.parent.parent.resolve():  # the run folder itself
            continue
        wanted = list(value) if isinstance(value, tuple) else value
        if wanted != stored[name]:
            flag = f"--{name.replace('_', '-')}"
            differences.append(f"{flag} {_flag_text(value)} (the run has {_flag_text(stored[name])})")
    if differences:
        raise ValueError(f"--resume {path} continues its run with its own settings; these flags differ from it: "
                         f"{'; '.join(differences)}. Only --iterations may change; start a new run with --out "
                         f"instead")  # fmt: skip


def _flag_text(value: Any) -> str:
    """A setting as its flag is written: None as none, a sequence comma-separated."""
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def run(args: argparse.Namespace) -> int:
    """Runs the training that ``args`` (from ``add_train_arguments``) describe (one rank of it under torchrun)."""
    import torch
    from tqdm import tqdm

    from .grpo import GRPOConfig, GRPOTrainer
    from .loading import read_checkpoint
    from .policy import PolicyConfig
    from .ppo import PPOConfig, PPOTrainer

    torch.set_num_threads(args.threads)
    config_class, trainer_class = (GRPOConfig, GRPOTrainer) if args.algo == "grpo" else (PPOConfig, PPOTrainer)
    given = vars(args)
    known = {f.name for f in dataclasses.fields(config_class)}
    flag_names = {f.name for f in dataclasses.fields(GRPOConfig)} | {f.name for f in dataclasses.fields(PPOConfig)}
    foreign = sorted(name for name in flag_names - known if name in given)
    if foreign:
        raise ValueError(f"--algo {args.algo} has no {', '.join('--' + n.replace('_', '-') for n in foreign)}")
    config_flags = {name: given[name] for name in known if name in given}
    policy_flags = {name: given[name] for name in POLICY_FLAGS if name in given}
    resumed = read_checkpoint(args.resume, need_trainer_state=True) if args.resume is not None else None
    hf: dict[str, Any] = {}
    if getattr(args, "dataset", None) is not None:  # a transformers model (--model PATH) on GSM8K/MATH
        if resumed is not None and "answer_length" not in given:  # the run's L, not the flag's default
            args.answer_length = json.loads(resumed["trainer_state"]["config"])["answer_length"]
        hf = hf_env_kwargs(args, given.get("device"))
        config_flags.update(task=hf["task"].name.lower(), model=None, answer_length=hf["answer_length"])
    objects = {"task": hf["task"], "model": hf["model"]} if hf else {}
    if args.resume is None and config_flags.get("out"):
        clear_run_folder(Path(config_flags["out"]), getattr(args, "overwrite", False))
    if resumed is not None:
        check_resume_flags(resumed, args.algo, {k: v for k, v in config_flags.items() if k not in objects},
                           policy_flags, skip={"task", "model"} if hf else set())  # fmt: skip
        trainer = trainer_class.resume(args.resume, iterations=config_flags.get("iterations"), **objects)
    else:
        trainer = trainer_class(config_class(**config_flags), PolicyConfig(**policy_flags), **objects)
    config, main = trainer.config, trainer.distributed.is_main
    out = Path(config.out) if config.out else None
    if main:
        print(_describe(args.algo, trainer, out))
    logged = out is not None and main  # rank 0 alone writes
    metrics_file, writer = _open_logs(out, args.algo, trainer, args.resume is not None) if logged else (None, None)
    progress = tqdm(total=config.iterations, initial=trainer.iteration, desc=f"{args.algo} {config.task}",
                    file=sys.stderr, disable=args.no_progress or not main)  # fmt: skip
    try:
        _train_loop(args, trainer, progress, metrics_file, writer, main)
    except KeyboardInterrupt:
        progress.close()
        if metrics_file is not None:
            metrics_file.close()
        if main:
            saved = sorted((out / "checkpoints").glob("iteration_*.pt")) if out is not None else []
            where = (f"; resume from its checkpoint of iteration {int(saved[-1].stem.split('_')[1])} with "
                     f"`unmask-gym train --resume {out}`") if saved else " before its first checkpoint"  # fmt: skip
            print(f"interrupted at iteration {trainer.iteration}{where}", file=sys.stderr)
        return 130
    progress.close()
    if metrics_file is not None:
        metrics_file.close()
    if writer is not None:
        writer.close()
    if args.eval_episodes > 0:  # every rank decodes its shard of the held-out list under torchrun
        _evaluate(trainer, args.eval_episodes, out if main else None, verbose=main, overrides=hf)
    if out is not None and main:
        print(f"wrote {out}/policy.pt, {out}/checkpoints/, {out}/metrics.csv; load it with "
              f"unmask_gym.agents.load_policy({str(out)!r})")  # fmt: skip
    trainer.close()
    return 0


def _train_loop(args: argparse.Namespace, trainer: Any, progress: Any, metrics_file: Any, writer: Any,
                main: bool) -> None:  # fmt: skip
    """Runs the iterations, logging each one's metrics (CSV, TensorBoard, progress, a line per checkpoint)."""
    config, csv_writer = trainer.config, None
    for metrics in trainer.run():
        warm = getattr(trainer, "warm_start_result", None)
        if trainer.iteration == 1 and warm is not None and main:
            print(f"warm start: held-out agreement {warm['agreement']:.3f} after {warm['epochs']} epochs")
        progress.update(1)
        progress.set_postfix({key: f"{metrics[key]:.3f}" for key in ("reward", "accuracy", "nfe") if key in metrics})
        if metrics_file is not None:
            if csv_writer is None:
                csv_writer = csv.DictWriter(metrics_file, fieldnames=list(metrics), restval="")
                if metrics_file.tell() == 0:
                    csv_writer.writeheader()
            csv_writer.writerow({key: value for key, value in metrics.items() if key in csv_writer.fieldnames})
            metrics_file.flush()
        if writer is not None:
            for key, value in metrics.items():
                writer.add_scalar(key, value, int(metrics["iteration"]))
        if args.no_progress and main and trainer.iteration % config.checkpoint_every == 0:
            print(json.dumps({key: round(value, 4) for key, value in metrics.items()}))


RUN_FILES = ("config.json", "metrics.csv", "policy.pt", "eval.json", "checkpoints", "tb")
"""What a run folder holds (``train`` writes them); another run never mixes its files with these."""


def clear_run_folder(out: Path, overwrite: bool) -> None:
    """Refuses a folder that holds another run (naming it), or with ``overwrite`` removes that run's files.

    Raises:
        ValueError: ``out`` holds a run and ``overwrite`` is False; nothing is touched.
    """
    import shutil

    found = [name for name in RUN_FILES if (out / name).exists()]
    if not found:
        return
    if not overwrite:
        described = ""
        if (out / "config.json").exists():
            saved = json.loads((out / "config.json").read_text())
            algo = next((key for key in ("grpo", "ppo") if key in saved), None)
            if algo is not None:
                described = f" ({algo} on {saved[algo].get('task')!r}, {saved[algo].get('iterations')} iterations)"
        raise ValueError(f"{out} holds a run already{described}: {', '.join(found)}; continue it with "
                         f"`unmask-gym train --resume {out}`, or pass --overwrite to replace it")  # fmt: skip
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 alone writes (and clears) the run folder
        return
    for name in found:
        path = out / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _describe(algo: str, trainer: Any, out: Path | None) -> str:
    """The run's one-line header."""
    config, ranks = trainer.config, trainer.distributed.world_size
    if algo == "grpo":
        expert = " + 1 expert" if config.expert_steering else ""
        batch = f"{config.num_groups} prompts x {config.group_size} rollouts{expert} per iteration"
    else:
        batch = f"{config.num_envs} envs x {config.num_steps} steps per iteration"
    where = f"device {trainer.env.device}" + (f" on each of {ranks} ranks" if ranks > 1 else "")
    return (f"{algo.upper()} on {config.task}: block_length={trainer.env.block_length} alpha={config.alpha} {batch}, "
            f"{config.iterations} iterations, policy {trainer.policy.num_parameters():,} parameters, {where}, "
            f"out {out}")  # fmt: skip


def _open_logs(out: Path, algo: str, trainer: Any, resumed: bool) -> tuple[Any, Any]:
    """Opens metrics.csv (dropping rows after the resumed checkpoint) and a TensorBoard writer if available."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({algo: trainer.config.to_dict(),
                                                 "policy": trainer.policy.config.to_dict(),
                                                 "env_kwargs": trainer.env_kwargs}, indent=2) + "\n")  # fmt: skip
    path = out / "metrics.csv"
    if resumed and path.exists():  # rows logged after the checkpoint will be produced again
        with path.open() as file:
            rows = list(csv.DictReader(file))
        kept = [row for row in rows if int(float(row["iteration"])) <= trainer.iteration]
        with path.open("w", newline="") as file:
            if kept:
                keep_writer = csv.DictWriter(file, fieldnames=list(kept[0]))
                keep_writer.writeheader()
                keep_writer.writerows(kept)
    elif path.exists():
        path.unlink()
    try:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=trainer.iteration + 1 if resumed else None)
    except ImportError:  # tensorboard is optional
        writer = None
    return path.open("a", newline=""), writer


def _evaluate(trainer: Any, episodes: int, out: Path | None, verbose: bool = True,
              overrides: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Held-out accuracy and NFE at beta 1; a conditioned policy at its default alpha, then along ``alpha_grid``.

    ``overrides`` replace env arguments the policy's names cannot rebuild (a transformers model and its task).
    """
    from unmask_gym.evaluation import evaluate, make_eval_env, save_json, served_env_kwargs

    from .policy import alpha_grid

    policy = trainer.learned_policy()
    env_kwargs = {**policy.env_kwargs, **(overrides or {}), **policy.observation_kwargs}
    alphas = [policy.alpha, *alpha_grid(policy.config.alpha_range)] if policy.config.conditioned else [None]
    results = []
    for alpha in alphas:
        if alpha is not None:
            policy.alpha = alpha
        policy.reseed()
        # the reward at the alpha served: the swept one, not the trained one
        env = make_eval_env(episodes=episodes, device=trainer.env.device, **served_env_kwargs(policy, env_kwargs))
        result = evaluate(env, policy, seed=0)
        low, high = result.accuracy_ci95
        if verbose:
            print(f"held-out ({result.episodes} prompts, beta 1{'' if alpha is None else f', alpha {alpha:g}'}): "
                  f"accuracy {result.accuracy:.3f} (95% CI {low:.3f}-{high:.3f})  mean NFE {result.mean_nfe:.2f}  "
                  f"mean reward {result.mean_reward:.3f}")  # fmt: skip
        results.append({"alpha": alpha, **result.to_dict()} if alpha is not None else result.to_dict())
    if out is not None:
        sweep = {"alpha_sweep": results[1:]} if len(results) > 1 else {}
        save_json({**policy.env_kwargs, "iteration": trainer.iteration, **results[0], **sweep}, out / "eval.json")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m unmask_gym.agents.train --task NAME --block-length B|none --alpha A --iterations N --out DIR``."""
    parser = argparse.ArgumentParser(prog="python -m unmask_gym.agents.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ValueError as error:
        parser.error(str(error))
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
