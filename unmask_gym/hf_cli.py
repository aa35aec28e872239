"""The CLI's real-dLLM flags: ``--model PATH --dataset PATH`` (and friends) for eval, bench, replay and train.

With ``--model`` the commands run the transformers backend on GSM8K or MATH from a local file instead of a
built-in task's tiny model; the flags build the same model and task as ``UnmaskGym/HF-v0`` does.
"""

from __future__ import annotations

import argparse
from typing import Any

HF_FLAGS = ("model", "dataset", "trust_remote_code", "family", "dtype", "answer_length", "max_prompt_length",
            "skip_long_prompts", "few_shot", "file_split", "allow_download")  # fmt: skip


def add_hf_arguments(parser: argparse.ArgumentParser, with_model: bool = True) -> None:
    """Adds the real-dLLM flags to a subcommand (``with_model=False`` where ``--model`` already exists)."""
    group = parser.add_argument_group("real dLLMs (transformers; pip install 'unmask-gym[hf]')")
    if with_model:
        group.add_argument("--model", default=None, metavar="PATH",
                           help="a local transformers model folder (LLaDA, Dream, any masked LM)")  # fmt: skip
    group.add_argument("--dataset", default=None, metavar="PATH",
                       help="GSM8K/MATH as a local JSONL/parquet/Arrow file (--task gsm8k|math)")  # fmt: skip
    group.add_argument("--trust-remote-code", action="store_true",
                       help="run the modeling code shipped with the weights (LLaDA and Dream need it)")  # fmt: skip
    group.add_argument("--family", choices=("llada", "dream", "masked_lm"), default=None,
                       help="the model family (default: read from its config.json)")  # fmt: skip
    group.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default=None,
                       help="parameter dtype (default: bf16/fp16 on GPU, fp32 on CPU)")  # fmt: skip
    if with_model:
        group.add_argument("--answer-length", type=int, default=256, help="answer positions L (default: 256)")
        group.add_argument("--max-nfe", type=int, default=None,
                           help="NFE budget per episode (default: a transferred policy's own budget where it trained "
                                "with one below its L, else L)")  # fmt: skip
    group.add_argument("--max-prompt-length", type=int, default=None,
                       help="prompt width in tokens (default: the dataset's longest templated prompt)")  # fmt: skip
    group.add_argument("--skip-long-prompts", action="store_true",
                       help="drop prompts longer than --max-prompt-length instead of failing")  # fmt: skip
    group.add_argument("--few-shot", type=int, default=0, help="worked examples before each question (default: 0)")
    group.add_argument("--file-split", choices=("train", "eval"), default=None,
                       help="serve every record of the file in this split (default: split by prompt hash)")  # fmt: skip
    group.add_argument("--allow-download", action="store_true", help="let transformers download missing files")


def uses_hf(args: argparse.Namespace) -> bool:
    """Whether the command runs a transformers model (``--model`` with ``--dataset``); a half-given pair errs.

    Raises:
        ValueError: ``--dataset`` without ``--model`` or the reverse.
    """
    model, dataset = getattr(args, "model", None), getattr(args, "dataset", None)
    if (model is None) != (dataset is None):
        raise ValueError("--model PATH and --dataset PATH go together: a transformers model runs on GSM8K or MATH "
                         "from a local file")  # fmt: skip
    return model is not None


def hf_env_kwargs(args: argparse.Namespace, device: Any) -> dict[str, Any]:
    """``UnmaskVectorEnv`` arguments for the model and task the flags name (empty without ``--model``)."""
    if not uses_hf(args):
        return {}
    from unmask_gym.hf_env import build_hf_model_and_task

    task = getattr(args, "task", None)
    task = "gsm8k" if task in (None, "permutation") else task  # the command's built-in default means "not given"
    answer_length = getattr(args, "answer_length", None) or 256
    model, task, prompt_length, device = build_hf_model_and_task(
        model=args.model, task=task, dataset=args.dataset, answer_length=answer_length,
        max_prompt_length=args.max_prompt_length, skip_long_prompts=args.skip_long_prompts, few_shot=args.few_shot,
        file_split=args.file_split, family=args.family, dtype=args.dtype, trust_remote_code=args.trust_remote_code,
        allow_download=args.allow_download, device=device,
    )  # fmt: skip
    return {"task": task, "model": model, "answer_length": answer_length, "max_prompt_length": prompt_length}


def transferred_env_kwargs(env_kwargs: dict[str, Any], hf: dict[str, Any], max_nfe: int | None) -> dict[str, Any]:
    """A policy's (or heuristic's) env arguments moved onto the transformers model and task of ``hf``.

    The NFE budget: ``max_nfe`` when given; else the policy's own budget where it trained with one below its answer
    length (capped at the new L); else the default, the new L (a budget that was just the old L means nothing here).

    Example:
        >>> transferred_env_kwargs({"answer_length": 81, "max_nfe": 8}, {"answer_length": 256}, None)["max_nfe"]
        8
        >>> "max_nfe" in transferred_env_kwargs({"answer_length": 81, "max_nfe": 81}, {"answer_length": 256}, None)
        False
    """
    moved = {key: value for key, value in env_kwargs.items() if key != "max_nfe"}
    own, own_length = env_kwargs.get("max_nfe"), env_kwargs.get("answer_length")
    if max_nfe is not None:
        moved["max_nfe"] = max_nfe
    elif own is not None and own_length is not None and own < own_length:
        moved["max_nfe"] = min(own, hf["answer_length"])
    return {**moved, **hf}
