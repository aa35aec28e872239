"""``UnmaskGym/HF-v0``: the unmasking MDP over a real dLLM (LLaDA, Dream, any masked LM) on GSM8K or MATH.

The entry points build the transformers backend (cached per process, so several envs share one model) and the
dataset task, count the task's prompts in the model's tokens (``DatasetTask.fit_to_model``), and hand both to
``UnmaskVectorEnv`` / ``UnmaskEnv``; every other keyword is the env's own. The task stays reachable as
``env.unwrapped.task``.

Version History:
    v0: the paper's setting: 256 answer positions in 32-token blocks, chat-templated prompts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from unmask_gym.config import check_device
from unmask_gym.env import UnmaskVectorEnv
from unmask_gym.single_env import UnmaskEnv

HF_TASKS = ("gsm8k", "math")
DTYPES = ("float32", "bfloat16", "float16")


def build_hf_model_and_task(*, model: Any, task: Any = "gsm8k", dataset: str | Path | None = None,
                            answer_length: int = 256, max_prompt_length: int | None = None,
                            skip_long_prompts: bool = False, few_shot: int = 0, file_split: str | None = None,
                            family: str | None = None, dtype: str | torch.dtype | None = None,
                            device_map: str | dict[str, Any] | None = None, trust_remote_code: bool = False,
                            allow_download: bool = False, chat_template: bool = True,
                            device: str | torch.device | None = None,
                            ) -> tuple[Any, Any, int, torch.device]:  # fmt: skip
    """The backend, the task fitted to its tokenizer, the prompt width P and the device, from HF-v0's arguments.

    Raises:
        ValueError: an unknown task name, a task name without ``dataset``, a bad dtype, or any error of the
            backend (``HFDiffusionLM.from_pretrained``) or the task (``DatasetTask.fit_to_model``).
    """
    from unmask_gym.models.hf import load_hf_model
    from unmask_gym.tasks import make_dataset_task
    from unmask_gym.tasks.dataset_task import DatasetTask

    device = check_device(device)
    if isinstance(task, str) and task.lower() not in HF_TASKS:
        raise ValueError(f"task must be one of {HF_TASKS} or a Task object, got {task!r}")
    if isinstance(task, str) and dataset is None:
        raise ValueError(f"task {task!r} reads its prompts from a local file: pass dataset=PATH (a GSM8K/MATH "
                         "JSONL, parquet or Arrow file, or a folder of them)")  # fmt: skip
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, a torch.dtype or None, got {dtype!r}")
        dtype = getattr(torch, dtype)
    if isinstance(model, str | Path):
        model = load_hf_model(model, family=family, device=device, dtype=dtype, device_map=device_map,
                              trust_remote_code=trust_remote_code, allow_download=allow_download,
                              chat_template=chat_template)  # fmt: skip
    if isinstance(task, str):
        task = make_dataset_task(task, dataset, few_shot=few_shot, file_split=file_split, answer_length=answer_length)
    if isinstance(task, DatasetTask):
        task = task.fit_to_model(model, max_prompt_length, skip_long_prompts)
        max_prompt_length = task.max_prompt_length
    return model, task, max_prompt_length, device


def make_hf_vector_env(num_envs: int = 1, *, model: Any, task: Any = "gsm8k", dataset: str | Path | None = None,
                       answer_length: int = 256, block_length: int | None = 32,
                       max_prompt_length: int | None = None, skip_long_prompts: bool = False, few_shot: int = 0,
                       file_split: str | None = None, family: str | None = None,
                       dtype: str | torch.dtype | None = None, device_map: str | dict[str, Any] | None = None,
                       trust_remote_code: bool = False, allow_download: bool = False, chat_template: bool = True,
                       device: str | torch.device | None = None, **env_kwargs: Any) -> UnmaskVectorEnv:  # fmt: skip
    """``gym.make_vec("UnmaskGym/HF-v0", num_envs, vectorization_mode="vector_entry_point", model=PATH, ...)``.

    Args:
        num_envs: parallel episodes N.
        model: a local model folder (or a hub id in the local cache), or a loaded ``HFDiffusionLM``/``DiffusionLM``.
        task: ``"gsm8k"``, ``"math"`` or a Task object.
        dataset: the task's local file or folder (needed with a task name).
        answer_length: L (the paper: 256).
        block_length: semi-AR block length (the paper: 32); None for full diffusion.
        max_prompt_length: P in the model's tokens; None: the longest templated prompt of the dataset.
        skip_long_prompts: drop prompts longer than ``max_prompt_length`` instead of raising.
        few_shot: worked examples before each question.
        file_split: put every record in ``"train"`` or ``"eval"`` instead of splitting by hash.
        family: ``"llada"``, ``"dream"`` or ``"masked_lm"`` (default: from the model's config).
        dtype: ``"bfloat16"``, ``"float16"``, ``"float32"`` (default: bf16/fp16 on GPU, fp32 on CPU).
        device_map: ``from_pretrained``'s placement (``"auto"`` for a model larger than one GPU).
        trust_remote_code: run the modeling code shipped with the weights (LLaDA and Dream need it).
        allow_download: let transformers download missing files (default: local files only).
        chat_template: wrap prompts in the tokenizer's chat template.
        device: the env's device (default: cuda if available, else cpu).
        **env_kwargs: any other ``UnmaskVectorEnv`` argument (``max_nfe``, ``reward``, ``split``, ...).
    """
    model, task, max_prompt_length, device = build_hf_model_and_task(
        model=model, task=task, dataset=dataset, answer_length=answer_length, max_prompt_length=max_prompt_length,
        skip_long_prompts=skip_long_prompts, few_shot=few_shot, file_split=file_split, family=family, dtype=dtype,
        device_map=device_map, trust_remote_code=trust_remote_code, allow_download=allow_download,
        chat_template=chat_template, device=device,
    )  # fmt: skip
    return UnmaskVectorEnv(num_envs, task=task, model=model, answer_length=answer_length,
                           max_prompt_length=max_prompt_length, block_length=block_length, device=device,
                           **env_kwargs)  # fmt: skip


def make_hf_env(*, render_mode: str | None = None, **kwargs: Any) -> UnmaskEnv:
    """``gym.make("UnmaskGym/HF-v0", model=PATH, ...)``: the single env; arguments as ``make_hf_vector_env``."""
    hf_keys = set(build_hf_model_and_task.__kwdefaults__ or {}) | {"model"}
    hf_arguments = {key: kwargs.pop(key) for key in list(kwargs) if key in hf_keys}
    answer_length = hf_arguments.setdefault("answer_length", 256)
    model, task, max_prompt_length, device = build_hf_model_and_task(**hf_arguments)
    kwargs.setdefault("block_length", 32)
    return UnmaskEnv(render_mode=render_mode, task=task, model=model, answer_length=answer_length,
                     max_prompt_length=max_prompt_length, device=device, **kwargs)  # fmt: skip
