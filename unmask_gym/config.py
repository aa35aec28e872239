"""``EnvConfig``: every argument of ``UnmaskVectorEnv`` in one frozen, validated dataclass.

The constructor's keyword arguments are exactly this dataclass's fields (``gym.make`` passes them through), each
checked here with a message that names the argument, the expected and the received value. The argument table of
docs/mdp.md is generated from the fields' ``doc`` metadata (``argument_table()``), and a test keeps the two equal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from gymnasium.vector import AutoresetMode

from unmask_gym import validation
from unmask_gym.reward import REWARD_NAMES

EMPTY_ACTIONS = ("noop", "top_confidence", "error")
TASK_DEFAULT = "task"
"""``block_length``'s default: the task's ``default_block_length`` (4 for the built-in tasks, as in their ids)."""


def _argument(default: Any, shown: str, doc: str) -> Any:
    return field(default=default, metadata={"shown": shown, "doc": doc})


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
"""``torch.compile``'s modes, which ``compile_step`` may name (``True`` is ``"default"``)."""


@dataclass(frozen=True)
class EnvConfig:
    """The settings of one ``UnmaskVectorEnv``; ``resolve(task)`` fills the task-dependent defaults.

    Example:
        >>> EnvConfig(num_envs=4, group_size=2).num_groups
        2
        >>> EnvConfig(num_envs=3, group_size=2)
        Traceback (most recent call last):
        ...
        ValueError: num_envs=3 must be a multiple of group_size=2
    """

    num_envs: int = _argument(1, "1", "parallel episodes N (the first positional argument)")
    task: Any = _argument(
        "addition", '`"addition"`',
        "a built-in task name or any object with the `Task` protocol (`sample`, `score`, `answer_length`, "
        "`max_prompt_length`; optionally `check_prompt`, `default_block_length`)",
    )  # fmt: skip
    model: Any = _argument(
        None, "the task's shipped model",
        "a shipped model name, a checkpoint path, or any `DiffusionLM` instance (loaded once per process and device)",
    )  # fmt: skip
    answer_length: int | None = _argument(None, "the task's", "L, the answer positions")
    max_prompt_length: int | None = _argument(
        None, "the task's", "P, the left-padded prompt width (built-in models expect their task's value)"
    )
    block_length: int | str | None = _argument(
        TASK_DEFAULT, '`"task"`: the task\'s (4 for built-ins)',
        "semi-AR block length, must divide L; `None` is full diffusion",
    )  # fmt: skip
    empty_action: str = _argument(
        "noop", '`"noop"`', 'a step selecting nothing: `"noop"`, `"top_confidence"` or `"error"`'
    )
    strict: bool = _argument(False, "`False`", "refuse selections outside `action_mask` instead of ignoring them")
    temperature: float = _argument(
        0.0, "`0.0`", "0: greedy tokens; > 0: sampled with per-episode noise (see seeding above)"
    )
    max_nfe: int | None = _argument(None, "L", "the NFE budget: forward passes per episode")
    max_episode_steps: int | None = _argument(
        None, "`None`",
        "Gymnasium's time limit: a running episode is truncated after this many steps (`truncated=True`, reward 0, "
        "no score); the NFE budget is `max_nfe`",
    )  # fmt: skip
    reward: Any = _argument(
        "multiplicative", '`"multiplicative"`', '`"multiplicative"`, `"additive"` or a TRL-style callable'
    )
    alpha: float = _argument(1.0, "`1.0`", "the reward's compute exponent / weight")
    autoreset_mode: AutoresetMode | str = _argument(
        AutoresetMode.SAME_STEP, "`SAME_STEP`", "a `gymnasium.vector.AutoresetMode` (or its string value)"
    )
    group_size: int = _argument(1, "1", "envs per prompt group (must divide `num_envs`)")
    first_group: int = _argument(
        0, "0", "the number of this env's first prompt group: group g draws prompts from `seed + first_group + g` "
        "(several processes sharing a seed give each a disjoint range)",
    )  # fmt: skip
    split: str = _argument("train", '`"train"`', '`"train"` or `"eval"` prompts')
    num_prompts: int | None = _argument(None, "`None`", "a finite list of this many prompts, each served once")
    prompt_repeats: int = _argument(
        1, "1", "each prompt of a finite list is served this many times back to back (a sampled policy's repeats, "
        "one cluster per prompt in `evaluate`); needs `temperature=0`: the dLLM's noise is keyed by prompt",
    )  # fmt: skip
    prompt_shard: tuple[int, int] | None = _argument(
        None, "`None`", "`(rank, world)`: serve only the finite list's prompts whose index % world == rank (prompt "
        "ids stay the list's indices): one process's part of an evaluation across processes",
    )  # fmt: skip
    top_k: int = _argument(0, "0", "K of the `top_k_probs`/`top_k_tokens` observation keys (at most V)")
    observe_prompt: bool = _argument(False, "`False`", "add the `prompt_tokens` observation key")
    observe_hidden: bool = _argument(
        False, "`False`", "add the `hidden` observation key: the states the dLLM's vocabulary projection reads (the "
        "final-normalised last hidden states of LLaDA and Dream; after the prediction-head transform for a BERT-style "
        "masked LM)",
    )  # fmt: skip
    validate_actions: bool = _argument(
        True, "`True`", "check that action values are 0/1 (host actions on the host; non-bool device actions in "
        "one reduction, the step's second sync)"
    )  # fmt: skip
    compile_features: bool = _argument(
        False, "`False`", "turn the logits into the observation's features in one `torch.compile`d pass (fused "
        "reductions; equal to the eager pass within float rounding; falls back to it, with a warning, where "
        "compiling fails)",
    )  # fmt: skip
    sync_free: bool = _argument(
        False, "`False`", "steps with no host round trip: every row is forwarded each step (static shapes) and "
        "finished episodes restart from a device bank of each group's next prompts (the host refills it, one sync, "
        "every 32 steps or more). The built-in tasks under a named reward are scored on the device, and the info then "
        "has no texts (`completion`, `prompt`, `reference`: `env.decode_answers(final_obs[\"tokens\"])` where you "
        "need them); other tasks (GSM8K, MATH, datasets) and a callable reward are scored on the host from a copy "
        "it waits for only after the forward is queued, with the texts in the info. An endless prompt stream, "
        "`SAME_STEP` or `DISABLED` autoreset",
    )  # fmt: skip
    compile_step: bool | str = _argument(
        False, "`False`", "run the sync-free step's two halves (before and after the dLLM: commit, scoring, restarts, "
        "features, observation, info) through `torch.compile`, one graph each: `True` or a `torch.compile` mode "
        "(`\"reduce-overhead\"` captures CUDA graphs, whose returned tensors the next step overwrites: copy what you "
        "keep). Needs `sync_free=True` and a task scored on the device; trajectories equal the eager step's within "
        "float rounding; falls back to it, with a warning, where compiling fails",
    )  # fmt: skip
    device: str | torch.device | None = _argument(
        None, "cuda if available, else cpu", "where the state, the model and every returned tensor live"
    )

    def __post_init__(self) -> None:
        check = validation
        check.check_int("num_envs", self.num_envs, 1)
        check.check_int("group_size", self.group_size, 1)
        check.check_int("first_group", self.first_group, 0)
        if self.num_envs % self.group_size:
            raise ValueError(f"num_envs={self.num_envs} must be a multiple of group_size={self.group_size}")
        check.check_int("answer_length", self.answer_length, 1, allow_none=True)
        check.check_int("max_prompt_length", self.max_prompt_length, 1, allow_none=True)
        if self.block_length != TASK_DEFAULT:
            check.check_int("block_length", self.block_length, 1, allow_none=True)
        check.check_choice("empty_action", self.empty_action, EMPTY_ACTIONS)
        for name in ("strict", "observe_prompt", "observe_hidden", "validate_actions", "compile_features", "sync_free"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        check.check_float("temperature", self.temperature, 0.0)
        check.check_int("max_nfe", self.max_nfe, 1, allow_none=True)
        check.check_int("max_episode_steps", self.max_episode_steps, 1, allow_none=True)
        if not callable(self.reward):
            check.check_choice("reward", self.reward, REWARD_NAMES)
        check.check_float("alpha", self.alpha, 0.0)
        try:
            object.__setattr__(self, "autoreset_mode", AutoresetMode(self.autoreset_mode))
        except ValueError:
            raise ValueError(
                f"autoreset_mode must be one of {[m.value for m in AutoresetMode]}, got {self.autoreset_mode!r}"
            ) from None
        check.check_choice("split", self.split, ("train", "eval"))
        check.check_int("num_prompts", self.num_prompts, 1, allow_none=True)
        check.check_int("prompt_repeats", self.prompt_repeats, 1)
        if self.prompt_repeats > 1 and (self.num_prompts is None or self.temperature > 0):
            raise ValueError(f"prompt_repeats={self.prompt_repeats} needs a finite list (num_prompts) and "
                             f"temperature=0 (a prompt's copies would share the dLLM's noise); got "
                             f"num_prompts={self.num_prompts}, temperature={self.temperature}")  # fmt: skip
        if self.prompt_shard is not None:
            shard = self.prompt_shard
            valid = isinstance(shard, tuple | list) and len(shard) == 2 and all(
                isinstance(x, int) and not isinstance(x, bool) for x in shard) and 0 <= shard[0] < shard[1]  # fmt: skip
            if not valid or self.num_prompts is None:
                raise ValueError(f"prompt_shard must be (rank, world) with 0 <= rank < world, and needs num_prompts; "
                                 f"got {shard!r} with num_prompts={self.num_prompts}")  # fmt: skip
            object.__setattr__(self, "prompt_shard", tuple(shard))
        if self.sync_free and (self.num_prompts is not None or self.autoreset_mode == AutoresetMode.NEXT_STEP):
            raise ValueError(f"sync_free=True restarts episodes from an endless prompt stream, in the step that ends "
                             f"them or never: it needs num_prompts=None and autoreset_mode SAME_STEP or DISABLED, "
                             f"got num_prompts={self.num_prompts}, "
                             f"autoreset_mode={self.autoreset_mode.value!r}")  # fmt: skip
        if not isinstance(self.compile_step, bool) and self.compile_step not in COMPILE_MODES:
            raise ValueError(f"compile_step must be a bool or a torch.compile mode {COMPILE_MODES}, got "
                             f"{self.compile_step!r}")  # fmt: skip
        if self.compile_step is not False and not self.sync_free:
            raise ValueError("compile_step compiles the sync-free step (static shapes, no host round trip): it needs "
                             "sync_free=True")  # fmt: skip
        check.check_int("top_k", self.top_k, 0)
        object.__setattr__(self, "device", check_device(self.device))

    @property
    def num_groups(self) -> int:
        """N / G prompt groups."""
        return self.num_envs // self.group_size

    def resolve(self, task: Any) -> EnvConfig:
        """This config with ``task`` in place and its defaults filled: L, P, the block length and the budget."""
        answer_length = task.answer_length if self.answer_length is None else self.answer_length
        validation.check_int("answer_length", answer_length, 1)
        if self.model is None and answer_length != task.answer_length:
            raise ValueError(
                f"answer_length={answer_length} differs from task {task.name!r}'s {task.answer_length}, the length "
                f"its shipped model was trained to fill (its answers may not fit, and the model writes nothing "
                f"useful elsewhere); keep the task's length, or pass a model trained for {answer_length}"
            )
        prompt_length = task.max_prompt_length if self.max_prompt_length is None else self.max_prompt_length
        validation.check_int("max_prompt_length", prompt_length, 1)
        block_length = self.block_length
        if block_length == TASK_DEFAULT:
            block_length = getattr(task, "default_block_length", None)
        if block_length is not None and answer_length % block_length:
            source = f"task {task.name!r}'s default " if self.block_length == TASK_DEFAULT else ""
            raise ValueError(
                f"{source}block_length={block_length} must divide answer_length={answer_length}; pass a "
                "block_length that does, or None for full diffusion"
            )
        return dataclasses.replace(
            self, task=task, answer_length=answer_length, max_prompt_length=prompt_length, block_length=block_length,
            max_nfe=answer_length if self.max_nfe is None else self.max_nfe,
        )  # fmt: skip


def available_devices() -> list[str]:
    """The torch devices this process can use: cpu, each cuda:i, and mps where present."""
    devices = ["cpu"] + [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def check_device(device: Any) -> torch.device:
    """``device`` as a ``torch.device`` (None: cuda if available, else cpu), or a ValueError naming what is available.

    Example:
        >>> check_device("cpu")
        device(type='cpu')
        >>> check_device("gpu")
        Traceback (most recent call last):
        ...
        ValueError: device must name a torch device such as 'cpu' or 'cuda:0', got 'gpu'; available here: ['cpu']
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    available = available_devices()
    if isinstance(device, bool) or not isinstance(device, str | int | torch.device):
        raise ValueError(f"device must be a str, int or torch.device such as 'cpu', got {device!r}; available here: "
                         f"{available}")  # fmt: skip
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device must name a torch device such as 'cpu' or 'cuda:0', got {device!r}; available here: {available}"
        ) from None
    if resolved.type == "cuda" and resolved.index is None and torch.cuda.is_available():
        return resolved
    name = str(resolved)
    if resolved.type not in ("cpu", "cuda", "mps") or (resolved.type != "cpu" and name not in available):
        raise ValueError(f"device {device!r} is not available here; available devices: {available}")
    return resolved


def check_model(config: EnvConfig, model: Any) -> None:
    """Raises unless ``model`` has the ``DiffusionLM`` protocol and fits ``config`` (a resolved config)."""
    for attribute in ("mask_token_id", "end_token_ids", "pad_token_id", "vocab_size", "tokenizer", "logits"):
        if not hasattr(model, attribute):
            raise TypeError(f"model must implement the DiffusionLM protocol; it has no {attribute!r}")
    task_tokenizer = getattr(config.task, "tokenizer", None)
    if task_tokenizer is not None and task_tokenizer != model.tokenizer:
        raise ValueError(
            f"the model's tokenizer {model.tokenizer!r} does not match task {config.task.name!r}'s tokenizer "
            f"{task_tokenizer!r}: the model cannot read this task's prompts"
        )
    max_length = getattr(model, "max_length", None)
    if max_length is not None and config.max_prompt_length + config.answer_length > max_length:
        raise ValueError(
            f"max_prompt_length + answer_length = {config.max_prompt_length} + {config.answer_length} exceeds the "
            f"model's max_length={max_length}"
        )
    if config.top_k > model.vocab_size:
        raise ValueError(f"top_k={config.top_k} exceeds the model's vocabulary size V={model.vocab_size}")
    if config.observe_hidden and not hasattr(model, "logits_and_hidden"):
        raise TypeError(
            f"observe_hidden=True needs a model with hidden_size and logits_and_hidden() (the built-in TinyMDLM "
            f"has them); {type(model).__name__} does not"
        )


def argument_table() -> str:
    """The docs' table of constructor arguments (docs/mdp.md), one row per ``EnvConfig`` field."""
    rows = ["| argument | default | meaning |", "|---|---|---|"]
    for item in dataclasses.fields(EnvConfig):
        rows.append(f"| `{item.name}` | {item.metadata['shown']} | {item.metadata['doc']} |")
    return "\n".join(rows)
