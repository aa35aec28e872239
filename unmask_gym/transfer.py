"""Host → device in one copy: a step's bookkeeping arrays packed into one buffer.

Each separate ``torch.as_tensor(array, device="cuda")`` is a blocking copy that waits for the queued dLLM forward;
the env instead packs everything a step sends into one buffer and sends it once, from pinned memory without
blocking on CUDA, then splits it into views on the device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def to_device(arrays: Sequence[np.ndarray], device: torch.device, dtype: type = np.int64) -> list[torch.Tensor]:
    """The arrays as ``dtype`` tensors on ``device`` (same shapes, same order), sent in one transfer.

    On CPU the tensors are views of one fresh buffer (never the arrays' memory). On CUDA the buffer is pinned and
    copied with ``non_blocking=True``: the host does not wait, and torch keeps the pinned memory until the copy is
    done.

    Example:
        >>> rows, done = to_device([np.array([0, 3]), np.array([[True], [False]])], torch.device("cpu"))
        >>> rows.tolist(), done.tolist()
        ([0, 3], [[1], [0]])
    """
    flat = np.concatenate([np.asarray(array, dtype=dtype).reshape(-1) for array in arrays])
    buffer = torch.from_numpy(flat)
    if device.type == "cuda":
        buffer = buffer.pin_memory().to(device, non_blocking=True)
    elif device.type != "cpu":
        buffer = buffer.to(device)
    parts = buffer.split([int(np.size(array)) for array in arrays])
    return [part.view(np.shape(array)) for part, array in zip(parts, arrays, strict=True)]
