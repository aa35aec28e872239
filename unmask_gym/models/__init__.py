"""dLLM backends: the ``DiffusionLM`` protocol, the built-in tiny MDLMs and ``load_model``.

Built-in models are checkpoints shipped in ``unmask_gym/models/checkpoints/`` and load by short name (the task
they were trained on). Loaded models are cached per process by (name, device, dtype), so several envs share one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from unmask_gym.models.base import DiffusionLM
from unmask_gym.models.checkpoint import load_model_file, save_model
from unmask_gym.models.tiny_mdlm import TinyMDLM, TinyMDLMConfig

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
_CACHE: dict[tuple[str, str, str | None], Any] = {}


def list_models() -> list[str]:
    """Short names of the shipped models.

    Example:
        >>> "addition" in list_models()
        True
    """
    return sorted(path.stem for path in CHECKPOINT_DIR.glob("*.pt"))


def model_file(name: str | Path) -> Path:
    """The checkpoint file a model name stands for: a shipped one by short name, else the path itself.

    Example:
        >>> model_file("Sudoku").name, str(model_file("runs/my.pt"))
        ('sudoku.pt', 'runs/my.pt')
    """
    path = Path(name).expanduser()
    return path if path.suffix else CHECKPOINT_DIR / f"{str(name).lower()}.pt"


def load_model(
    name_or_model: str | Path | Any, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> Any:
    """Returns a ``DiffusionLM``: a shipped name, a checkpoint path, a transformers folder, or an instance as is.

    A transformers model folder loads through ``HFDiffusionLM.from_pretrained`` (masked LMs; LLaDA and Dream need
    ``trust_remote_code``, so load them with it yourself or through ``UnmaskGym/HF-v0``).

    Raises:
        ValueError: for an unknown name, listing the shipped ones.
    """
    if not isinstance(name_or_model, str | Path):
        return name_or_model
    device = torch.device(device)
    key = (str(name_or_model), str(device), None if dtype is None else str(dtype))
    if key not in _CACHE:
        path = Path(name_or_model).expanduser()
        if path.is_dir() and (path / "config.json").exists():  # a transformers model folder
            from unmask_gym.models.hf import HFDiffusionLM

            _CACHE[key] = HFDiffusionLM.from_pretrained(path, device=device, dtype=dtype)
            return _CACHE[key]
        if not path.suffix:
            path = model_file(name_or_model)
            if not path.exists():
                raise ValueError(f"unknown model {name_or_model!r}; shipped models are {list_models()}")
        model = load_model_file(path, device)
        _CACHE[key] = model if dtype is None else model.to(dtype)
    return _CACHE[key]


def resolve_model_name(task: Any) -> str:
    """The shipped model paired with a built-in task (its lower-case name)."""
    return str(getattr(task, "model_name", "") or task.name).lower()


__all__ = [
    "CHECKPOINT_DIR",
    "DiffusionLM",
    "TinyMDLM",
    "TinyMDLMConfig",
    "list_models",
    "load_model",
    "load_model_file",
    "model_file",
    "resolve_model_name",
    "save_model",
]
