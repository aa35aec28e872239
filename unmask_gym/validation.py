"""Checks of user input: constructor arguments, actions, seeds and reset options.

Each check raises TypeError (wrong type or dtype) or ValueError (wrong shape or value) naming the argument, the
expected and the received value, before any state changes.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

_NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integer, float


def check_int(name: str, value: Any, minimum: int, allow_none: bool = False) -> int | None:
    """``value`` as an int ≥ ``minimum`` (bools refused), or None when allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        expected = "an int or None" if allow_none else "an int"
        raise TypeError(f"{name} must be {expected}, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(name: str, value: Any, minimum: float, maximum: float = math.inf, minimum_open: bool = False) -> float:
    """``value`` as a finite float in [minimum, maximum] (or (minimum, maximum] with ``minimum_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} of type {type(value).__name__}")
    below = value <= minimum if minimum_open else value < minimum
    if math.isnan(value) or below or value > maximum or (math.isinf(value) and math.isinf(maximum)):
        if maximum == math.inf and not minimum_open:
            raise ValueError(f"{name} must be a finite number >= {minimum}, got {value}")
        raise ValueError(f"{name} must be in {'(' if minimum_open else '['}{minimum}, {maximum}], got {value}")
    return float(value)


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_seed(seed: Any) -> int | None:
    """A reset seed: a non-negative int or None (numpy integers accepted, bools refused)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or None, got {seed!r} of type {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return int(seed)


def action_to_tensor(
    actions: Any, num_envs: int, answer_length: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Converts actions to a (N, L) bool tensor on ``device``.

    numpy arrays, lists and torch tensors of bool, integer or float dtype holding 0/1 are accepted. Host input is
    checked here; for a tensor already on an accelerator the value check is returned as a 0-d bool tensor (True
    when some value is not 0/1) so the caller can fold it into its single host sync.

    Raises:
        TypeError: for a non-numeric type or dtype.
        ValueError: for a wrong shape, or (host input) values other than 0 and 1 such as NaN.
    """
    expected_shape = (num_envs, answer_length)
    if isinstance(actions, torch.Tensor):
        if actions.is_complex() or actions.dtype not in _TORCH_NUMERIC:
            raise TypeError(f"actions must be a bool, integer or float tensor, got dtype {actions.dtype}")
        _check_shape(tuple(actions.shape), expected_shape)
        checked_on_host = actions.device.type == "cpu" and actions.dtype != torch.bool
        if checked_on_host:
            _check_binary_host(actions.numpy(force=True))
        if actions.device != device:  # a same-device .to() would be a no-op, but one more call to count
            actions = actions.to(device)
        if actions.dtype == torch.bool:
            return actions, None
        return actions != 0, None if checked_on_host else ((actions != 0) & (actions != 1)).any()
    try:
        array = np.asarray(actions)
    except ValueError:  # numpy refuses ragged nested lists
        raise ValueError(
            f"actions must have shape (num_envs, answer_length) = {(num_envs, answer_length)}, got a ragged "
            f"{type(actions).__name__}"
        ) from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"actions must have a bool, integer or float dtype, got dtype {array.dtype} ({type(actions).__name__})"
        )
    _check_shape(array.shape, expected_shape)
    _check_binary_host(array)
    return torch.from_numpy(array != 0).to(device), None


_TORCH_NUMERIC = {
    torch.bool, torch.uint8, torch.uint16, torch.uint32, torch.uint64,
    torch.int8, torch.int16, torch.int32, torch.int64,
    torch.float16, torch.bfloat16, torch.float32, torch.float64,
}  # fmt: skip


def _check_shape(shape: tuple[int, ...], expected: tuple[int, int]) -> None:
    if shape != expected:
        raise ValueError(f"actions must have shape (num_envs, answer_length) = {expected}, got {shape}")


def _check_binary_host(array: np.ndarray) -> None:
    if array.dtype.kind == "b":
        return
    bad = (array != 0) & (array != 1)
    if bad.any():
        raise ValueError(
            f"actions must hold only 0 and 1, got {array[bad].flat[0]!r} at index "
            f"{tuple(int(i) for i in np.argwhere(bad)[0])}"
        )


def binary_error(actions: torch.Tensor) -> ValueError:
    """The error for device actions found to hold values other than 0/1 (built only on the error path)."""
    host = actions.numpy(force=True)
    bad = (host != 0) & (host != 1)
    return ValueError(
        f"actions must hold only 0 and 1, got {host[bad].flat[0]!r} at index "
        f"{tuple(int(i) for i in np.argwhere(bad)[0])}"
    )


def check_selection(
    selected: torch.Tensor,
    action_mask: torch.Tensor,
    device_check: torch.Tensor | None,
    actions: Any,
    *,
    strict: bool,
    empty_action: str,
) -> None:
    """All value checks of a step's action, folded into one host sync.

    Args:
        selected: (N, L) bool, the action as a tensor.
        action_mask: (N, L) bool, the selectable positions.
        device_check: the deferred 0/1 check of ``action_to_tensor`` (None when done on the host or disabled).
        actions: the action as the caller gave it, to quote in the error message.
        strict: refuse selections outside ``action_mask``.
        empty_action: ``"error"`` refuses rows that select nothing.
    """
    checks = [] if device_check is None else [device_check]
    if strict:
        checks.append((selected & ~action_mask).any())
    if empty_action == "error":
        checks.append((~(selected & action_mask).any(1) & action_mask.any(1)).any())
    if not checks:
        return
    flags = torch.stack(checks).tolist()
    if not any(flags):
        return
    flags = iter(flags)
    if device_check is not None and next(flags):
        raise binary_error(actions)
    if strict and next(flags):
        rows = torch.nonzero((selected & ~action_mask).any(1)).flatten().tolist()
        raise ValueError(
            f"strict=True: actions select positions outside action_mask (committed, outside the current block, "
            f"or in a finished episode) in envs {rows}"
        )
    rows = torch.nonzero(~(selected & action_mask).any(1) & action_mask.any(1)).flatten().tolist()
    raise ValueError(f"empty_action='error': envs {rows} selected no position inside action_mask")


def reset_rows(reset_mask: Any, num_envs: int) -> np.ndarray:
    """The slot indices ``options["reset_mask"]`` selects (every slot when it is None)."""
    if reset_mask is None:
        return np.arange(num_envs)
    if isinstance(reset_mask, torch.Tensor):
        reset_mask = reset_mask.numpy(force=True)
    mask = np.asarray(reset_mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"options['reset_mask'] must be a bool array or tensor, got dtype {mask.dtype}")
    if mask.shape != (num_envs,):
        raise ValueError(f"options['reset_mask'] must have shape ({num_envs},), got {mask.shape}")
    return np.flatnonzero(mask)


def reset_prompts(
    prompts: Any, references: Any, num_groups: int, task: Any, check_length: Any
) -> list[tuple[str, Any]] | None:
    """``options["prompts"]`` and ``options["references"]`` as ``(prompt, reference)`` pairs, one per group.

    Each prompt must pass the task's ``check_prompt`` (when it has one) and ``check_length``; references are derived
    with the task's ``reference_for`` when omitted.
    """
    if prompts is None:
        if references is not None:
            raise ValueError("options['references'] needs options['prompts']")
        return None
    if not isinstance(prompts, list | tuple | np.ndarray) or not all(isinstance(p, str) for p in prompts):
        raise TypeError("options['prompts'] must be a list of strings, one per group")
    if len(prompts) != num_groups:
        raise ValueError(
            f"options['prompts'] must hold num_envs / group_size = {num_groups} prompts, got {len(prompts)}"
        )
    for prompt in prompts:
        if hasattr(task, "check_prompt"):
            task.check_prompt(prompt)
        check_length(prompt)
    if references is None:
        if not hasattr(task, "reference_for"):
            raise ValueError(f"task {task.name!r} cannot derive references; pass options['references']")
        references = [task.reference_for(prompt) for prompt in prompts]
    if len(references) != len(prompts):
        raise ValueError(f"options['references'] must hold {len(prompts)} references, got {len(references)}")
    return list(zip(prompts, references, strict=True))
