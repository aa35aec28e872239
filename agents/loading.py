"""Policy files: writing and reading checkpoints, ``load_policy`` and ``list_policies``.

A checkpoint is one ``torch.save`` file: the network's state dict, its ``PolicyConfig`` and the ``env_kwargs`` it
was trained for (as JSON text), and for training checkpoints the trainer's state (optimiser, scheduler,
generators, iteration). Everything in it loads with ``weights_only=True``. A run folder (``--out``) holds
``checkpoints/iteration_NNNNNN.pt`` and, once finished, ``policy.pt``; shipped policies are ``pretrained/NAME.pt``.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import torch

from unmask_gym.config import TASK_DEFAULT
from unmask_gym.models.checkpoint import read_payload

from .policy import SCALAR_FEATURES, LearnedPolicy, PolicyConfig, UnmaskingPolicy

FORMAT_VERSION = 1
PRETRAINED_DIR = Path(__file__).parent / "pretrained"
CHECKPOINT_DIRNAME = "checkpoints"
FINAL_POLICY_NAME = "policy.pt"


def checkpoint_path(out: str | Path, iteration: int) -> Path:
    """Where a run folder keeps the checkpoint of ``iteration``.

    Example:
        >>> checkpoint_path("run", 50).as_posix()
        'run/checkpoints/iteration_000050.pt'
    """
    return Path(out) / CHECKPOINT_DIRNAME / f"iteration_{iteration:06d}.pt"


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The highest-iteration checkpoint of a run folder, or None."""
    found = sorted((Path(folder) / CHECKPOINT_DIRNAME).glob("iteration_*.pt"))
    return found[-1] if found else None


def save_checkpoint(path: str | Path, network: UnmaskingPolicy, env_kwargs: dict[str, Any],
                    trainer_state: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """Writes a policy (and optionally a trainer's state) to ``path``, creating its folder; returns the path.

    The file is first written next to its destination and then renamed, so an interrupted save never leaves a
    truncated checkpoint where ``--resume`` would look.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format_version": FORMAT_VERSION,
        "policy_config": json.dumps(network.config.to_dict()),
        "env_kwargs": json.dumps(env_kwargs),
        "state_dict": {key: value.detach().cpu() for key, value in network.state_dict().items()},
    }
    if trainer_state is not None:
        payload["trainer_state"] = trainer_state
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)
    return path


def resolve_file(name_or_path: str | Path, need_trainer_state: bool = False) -> Path:
    """The checkpoint file a shipped name, a run folder or a file names.

    Raises:
        ValueError: for an unknown name or a folder without checkpoints (listing what exists).
    """
    path = Path(name_or_path)
    if path.is_dir():
        final = path / FINAL_POLICY_NAME
        found = final if final.exists() and not need_trainer_state else latest_checkpoint(path)
        if found is None:
            raise ValueError(f"run folder {path} has no {FINAL_POLICY_NAME} and no {CHECKPOINT_DIRNAME}/iteration_*.pt")
        return found
    if path.is_file():
        return path
    shipped = PRETRAINED_DIR / f"{name_or_path}.pt"
    if isinstance(name_or_path, str) and "/" not in name_or_path and shipped.is_file():
        return shipped
    if isinstance(name_or_path, Path) or "/" in name_or_path or path.suffix == ".pt":  # meant as a path
        raise ValueError(f"no such checkpoint file or run folder: {str(name_or_path)!r}")
    raise ValueError(f"no shipped policy {name_or_path!r} (shipped: {', '.join(list_policies())}); a checkpoint "
                     f"file or run folder is given by its path")  # fmt: skip


def read_checkpoint(name_or_path: str | Path, need_trainer_state: bool = False) -> dict[str, Any]:
    """The checkpoint's contents, with ``policy_config`` and ``env_kwargs`` decoded from JSON.

    Raises:
        ValueError: naming the file when it is unreadable, of another format, or (with ``need_trainer_state``)
            holds no trainer state.
    """
    path = resolve_file(name_or_path, need_trainer_state)
    payload = read_payload(path, FORMAT_VERSION, "policy")
    if need_trainer_state and "trainer_state" not in payload:
        raise ValueError(f"{path} holds a policy only, no trainer state to resume from")
    payload["policy_config"] = json.loads(payload["policy_config"])
    payload["env_kwargs"] = json.loads(payload["env_kwargs"])
    payload["path"] = path
    return payload


def warm_start_seconds(run: str | Path) -> float | None:
    """Seconds a run folder's imitation warm start took, from its latest checkpoint.

    None: no warm start, no checkpoint, or one written before warm starts were timed.
    """
    path = latest_checkpoint(run)
    if path is None:
        return None
    warm_start = json.loads(read_checkpoint(path, need_trainer_state=True)["trainer_state"].get("warm_start") or "null")
    return None if warm_start is None else warm_start.get("seconds")


def iteration_seconds(run: str | Path) -> list[float]:
    """Rollout + update seconds of each RL iteration of a run folder, in order (its ``metrics.csv``; [] without)."""
    metrics = Path(run) / "metrics.csv"
    if not metrics.exists():
        return []
    with metrics.open() as file:
        return [float(row["rollout_seconds"]) + float(row["update_seconds"]) for row in csv.DictReader(file)]


def train_seconds(run: str | Path, iterations: int | None = None) -> float | None:
    """Seconds a run folder's training took: its RL iterations (``iteration_seconds``) plus its warm start.

    ``iterations``: the first that many only, what a checkpoint of that iteration had cost. None where nothing was
    timed: no iteration and no timed warm start (a shipped policy, a missing folder).
    """
    spent, warm_start = iteration_seconds(run)[:iterations], warm_start_seconds(run)
    if not spent and warm_start is None:
        return None
    return sum(spent) + (warm_start or 0.0)


def run_command(run: str | Path) -> str | None:
    """The command that trained a run folder, or None.

    This project's runs keep it in a ``<folder>.cmd`` file beside the folder.
    """
    saved = Path(run).parent / f"{Path(run).name}.cmd"
    return saved.read_text().strip() if saved.exists() else None


def load_policy(name_or_path: str | Path, beta: float = 1.0, seed: int = 0,
                alpha: float | None = None) -> LearnedPolicy:  # fmt: skip
    """A trained policy as a callable ``obs -> action``, from a shipped name, a run folder or a checkpoint file.

    The network moves to the observations' device on its first call. ``policy.env_kwargs`` are the MDP settings
    it was trained for (task, block_length, answer_length, max_nfe, reward, alpha, empty_action, temperature,
    model), to build a matching env: ``make_eval_env(episodes=..., **policy.env_kwargs)``. ``alpha`` picks the
    trade-off of a conditioned policy (one trained with ``alpha_range``; see ``LearnedPolicy``).

    Raises:
        ValueError: for an unknown name or path, or a file that is not a policy checkpoint.
    """
    payload = read_checkpoint(name_or_path)
    network = UnmaskingPolicy(PolicyConfig(**payload["policy_config"]))
    try:
        network.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise ValueError(f"checkpoint {payload['path']} does not match its policy config: {error}") from error
    env_kwargs = dict(payload["env_kwargs"])
    if str(env_kwargs.get("reward", "")).startswith("callable:"):  # a reward function cannot be rebuilt from its
        env_kwargs.pop("reward")  # name; the env's default reward stands in (accuracy and NFE do not depend on it)
    return LearnedPolicy(network.requires_grad_(False), env_kwargs, beta=beta, seed=seed,
                         name=str(name_or_path), alpha=alpha)  # fmt: skip


ARCHITECTURE_FIELDS = ("features", "width", "num_heads", "ff_width", "architecture")
"""The ``PolicyConfig`` fields that fix a network's parameter shapes and meaning (alpha_range aside; with the
``hidden`` and ``end_token`` features, ``hidden_size`` and ``end_token_ids`` too)."""


def initialise_from(network: UnmaskingPolicy, name_or_path: str | Path) -> UnmaskingPolicy:
    """Copies a trained policy's weights into ``network`` (in place) as a starting point for training.

    The two networks must read the same inputs the same way (``ARCHITECTURE_FIELDS``; the same dLLM's hidden size
    and end tokens where the features read them), except for new inputs that start with zero weight, so ``network``
    first acts as the trained policy and learns from there what they should change: one-number features
    (``SCALAR_FEATURES``) the source does not read, alpha, for a conditioned ``network`` started from a policy
    trained for one alpha, and beta (``beta_input``, and a ``beta_head``, which starts at 0). A source's beta the
    network does not read is dropped (its beta head too): its column holds log2 1 = 0 at beta 1, so the network
    starts as the source acts at beta 1 (the default). Everything else that differs (commit noise, temperatures, the
    alpha range) is the new run's.

    Raises:
        ValueError: naming the fields that differ, or alpha, which the source reads and the network not.
    """
    payload = read_checkpoint(name_or_path)
    source = PolicyConfig(**payload["policy_config"])
    fields = (*ARCHITECTURE_FIELDS, *(["hidden_size"] if "hidden" in source.features else []),
              *(["end_token_ids"] if "end_token" in source.features else []))  # fmt: skip
    added = [name for name in network.config.features if name not in source.features]
    if all(name in SCALAR_FEATURES for name in added) and set(source.features) <= set(network.config.features):
        fields = tuple(name for name in fields if name != "features")  # matched column by column below
    differing = [name for name in fields if getattr(source, name) != getattr(network.config, name)]
    if differing:
        details = ", ".join(f"{name} {getattr(source, name)!r} vs {getattr(network.config, name)!r}"
                            for name in differing)  # fmt: skip
        raise ValueError(f"cannot start from {payload['path']}: its network differs from this run's in {details}")
    if source.conditioned and not network.config.conditioned:  # no alpha is neutral, as beta 1 is
        raise ValueError(f"cannot start from {payload['path']}: it reads alpha (alpha_range {source.alpha_range}) "
                         f"and this run's policy does not; give the run an alpha_range too")  # fmt: skip
    state = dict(payload["state_dict"])
    if network.config.architecture == "plain":  # one embedding reads the features, then the conditions
        state["embed.weight"] = matched_columns(state["embed.weight"], source.input_columns + source.condition_columns,
                                                network.config.input_columns + network.config.condition_columns)
    else:
        state["embed.weight"] = matched_columns(state["embed.weight"], source.input_columns,
                                                network.config.input_columns)  # fmt: skip
        state["condition_embed.0.weight"] = matched_columns(state["condition_embed.0.weight"],
                                                            source.condition_columns, network.config.condition_columns)
    own = network.state_dict()
    for key in [key for key in own if key.startswith("beta_head.") and key not in state]:
        state[key] = own[key]  # a new beta head starts at 0: the network acts as the source at every beta
    for key in [key for key in state if key.startswith("beta_head.") and key not in own]:
        del state[key]  # gone with the beta input it read: exact at beta 1
    with torch.no_grad():
        network.load_state_dict(state)
    return network


def matched_columns(weight: torch.Tensor, source: tuple[str, ...], target: tuple[str, ...]) -> torch.Tensor:
    """An input layer's weight (out, len(source)) laid out for the inputs ``target``.

    Each column goes to its name's place; the names the source lacks get 0 (a new input starts without effect) and
    the source's columns the target lacks are dropped.
    """
    places = {key: index for index, key in enumerate(occurrences(target))}
    kept = [(column, places[key]) for column, key in enumerate(occurrences(source)) if key in places]
    columns = torch.zeros(weight.shape[0], len(target), dtype=weight.dtype)
    columns[:, [place for _, place in kept]] = weight[:, [column for column, _ in kept]]
    return columns


def occurrences(names: tuple[str, ...]) -> list[tuple[str, int]]:
    """Each name with how often it came before (``hidden``'s D columns are 0..D-1), to match columns by name."""
    return [(name, names[:index].count(name)) for index, name in enumerate(names)]


def list_policies() -> list[str]:
    """Names of the shipped policies (``agents/pretrained/*.pt``), for ``load_policy``.

    Example:
        >>> isinstance(list_policies(), list)
        True
    """
    return sorted(path.stem for path in PRETRAINED_DIR.glob("*.pt"))


AGENT_REFERENCE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+:[A-Za-z_]\w*")
"""``PKG.MODULE:NAME``: an importable agent, not a heuristic spec (whose name has no dot) nor a path."""


def policy_from_spec(spec: str) -> tuple[Any, dict[str, Any]]:
    """A heuristic spec (``fast_dllm_threshold:threshold=0.9``), a learned policy's name or path, or an agent.

    An agent is named ``PKG.MODULE:NAME`` (imported, a factory called, as ``unmask-gym bench --agent`` takes), e.g.
    ``unmask_gym.tasks.sudoku:RuleGuidedSchedule``. ``"give_up:uncertain=U else SPEC"`` is ``give_up``'s rule
    following SPEC instead of ``token_mass`` (``GiveUpElse``). Returns ``(policy, env_kwargs)``: a learned
    policy's training settings (SPEC's for ``else``), ``{}`` for a heuristic or an agent. This is what ``unmask-gym
    eval --policy`` and ``unmask-gym replay --policy`` accept.

    Example:
        >>> policy_from_spec("top_k_confidence:k=2")
        (TopK(score='confidence', k=2, steps=None), {})
    """
    from unmask_gym.heuristics import HEURISTICS, make_policy

    from .experts import GiveUpElse

    if GiveUpElse.SEPARATOR in spec:
        policy = GiveUpElse.from_spec(spec)
        return policy, policy.env_kwargs
    if spec.partition(":")[0] in HEURISTICS:
        return make_policy(spec), {}
    if AGENT_REFERENCE.fullmatch(spec) and not Path(spec).exists():
        from unmask_gym.benchmarking import import_agent

        return import_agent(spec), {}
    try:
        policy = load_policy(spec)
    except ValueError as error:
        if ":" in spec or "/" in spec or Path(spec).exists():
            raise  # a path or spec-like text: the loader's own message says what is wrong with it
        raise ValueError(
            f"unknown policy {spec!r}; valid policies are the heuristics {sorted(HEURISTICS)}, a run folder, a "
            f"checkpoint file or a shipped policy {list_policies()}"
        ) from error
    return policy, dict(policy.env_kwargs)


def policy_and_env_kwargs(spec: str, task: Any, block_length: Any = TASK_DEFAULT) -> tuple[Any, dict[str, Any]]:
    """The policy of a CLI ``--policy`` and the env arguments to run it with (``task`` included).

    A heuristic (or an importable agent, with the observations it names in ``observation_kwargs``) runs on
    ``task`` with ``block_length``. A learned policy runs in the MDP it was trained for (its ``env_kwargs``, plus
    the observation keys it reads); a ``block_length`` other than ``"task"`` (the CLI's default) overrides its
    block length, and ``task`` is ignored.

    Example:
        >>> policy_and_env_kwargs("top_k_confidence:k=2", "sudoku", None)[1]
        {'task': 'sudoku', 'block_length': None}
    """
    policy, trained_for = policy_from_spec(spec)
    if not trained_for:
        return policy, {"task": task, "block_length": block_length, **getattr(policy, "observation_kwargs", {})}
    env_kwargs = {**trained_for, **policy.observation_kwargs}
    if block_length != TASK_DEFAULT:
        env_kwargs["block_length"] = block_length
    return policy, env_kwargs
