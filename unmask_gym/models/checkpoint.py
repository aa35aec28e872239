"""Saving and loading tiny-MDLM checkpoints: one ``torch.save`` file holding the state dict and a JSON config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from unmask_gym.models.tiny_mdlm import TinyMDLM, TinyMDLMConfig

FORMAT_VERSION = 1


def save_model(model: TinyMDLM, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Writes ``model`` to ``path`` (weights in float32, config and metadata as JSON text)."""
    payload = {
        "format_version": FORMAT_VERSION,
        "config": json.dumps(model.config.to_dict()),
        "metadata": json.dumps(metadata or {}),
        "state_dict": {key: value.detach().cpu() for key, value in model.state_dict().items()},
    }
    torch.save(payload, Path(path))


def training_steps(metadata: dict[str, Any]) -> int | None:
    """The optimiser steps a checkpoint's metadata records, or None.

    ``unmask-gym train-dllm`` writes the whole ``train_config``; the first shipped checkpoints wrote ``steps`` alone.

    Example:
        >>> training_steps({"train_config": {"steps": 5000}}), training_steps({"steps": 1500}), training_steps({})
        (5000, 1500, None)
    """
    return metadata.get("train_config", {}).get("steps", metadata.get("steps"))


def read_payload(path: str | Path, format_version: int, kind: str, format_name: str | None = None) -> dict:
    """The dict a ``torch.save`` checkpoint holds, or a ValueError naming the file if it is unreadable or not ``kind``.

    Shared by the model and the policy checkpoints: both are a dict with a ``format_version``. ``format_name``
    names the expected format in the second error (default: ``kind``).
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged zip or pickle
        # torch's own message advises weights_only=False, which would run arbitrary pickled code: not passed on
        raise ValueError(f"cannot read {kind} checkpoint {path}: not a file that torch.save wrote with tensors and "
                         f"plain data, or a damaged one ({type(error).__name__})") from error  # fmt: skip
    if not isinstance(payload, dict) or payload.get("format_version") != format_version:
        found = payload.get("format_version") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(
            f"{path} is not a {format_name or kind} checkpoint of format_version {format_version} (found {found!r})"
        )
    return payload


def load_model_file(path: str | Path, device: str | torch.device = "cpu") -> TinyMDLM:
    """Reads a checkpoint written by ``save_model``; the model comes back in eval mode on ``device``.

    Raises:
        ValueError: naming the file if it is truncated, of another format, or does not match its config.
    """
    payload = read_payload(path, FORMAT_VERSION, "model", "tiny-MDLM")
    config = TinyMDLMConfig(**json.loads(payload["config"]))
    with torch.device("meta"):  # no init kernels: loading must not start torch's thread pool (fork safety)
        model = TinyMDLM(config)
    try:
        model.load_state_dict(payload["state_dict"], assign=True)
    except RuntimeError as error:
        raise ValueError(f"checkpoint {path} does not match its config {config}: {error}") from error
    model.metadata = json.loads(payload["metadata"])
    return model.to(device).eval().requires_grad_(False)
