"""Host → device in one copy: a step's bookkeeping arrays packed into one buffer.

Each separate ``torch.as_tensor(array, device="cuda")`` is a blocking copy that waits for the queued dLLM forward;
the env instead packs everything a step sends into one byte buffer and sends it once, from pinned memory without
blocking on CUDA, then slices typed views out of it on the device.
"""

from __future__ import annotations

import numpy as np
import torch

_ALIGNMENT = 8  # bytes: every segment starts where any dtype up to 64 bits may begin


def to_device(arrays: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    """The arrays as tensors on ``device`` (same names, shapes and dtypes), sent in one transfer.

    On CPU the result shares one fresh buffer (never the arrays' memory). On CUDA the buffer is pinned and copied
    with ``non_blocking=True``: the host does not wait, and torch keeps the pinned memory until the copy is done.

    Example:
        >>> out = to_device({"rows": np.array([0, 3]), "done": np.array([True, False])}, torch.device("cpu"))
        >>> out["rows"].tolist(), out["done"].dtype
        ([0, 3], torch.bool)
    """
    segments, layout, offset = [], [], 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        raw = array.reshape(-1).view(np.uint8)
        padding = -len(raw) % _ALIGNMENT
        segments += [raw, np.zeros(padding, dtype=np.uint8)]
        layout.append((name, offset, len(raw), torch.from_numpy(array[:0].reshape(-1)).dtype, array.shape))
        offset += len(raw) + padding
    buffer = torch.from_numpy(np.concatenate(segments) if segments else np.zeros(0, dtype=np.uint8))
    if device.type == "cuda":
        buffer = buffer.pin_memory().to(device, non_blocking=True)
    elif device.type != "cpu":
        buffer = buffer.to(device)
    return {
        name: buffer[start : start + size].view(dtype).view(shape) for name, start, size, dtype, shape in layout
    }
