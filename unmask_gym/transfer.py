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


class HostCopy:
    """A device tensor on its way to the host: the copy starts now, ``wait()`` reads it once more work is queued.

    On CUDA the copy goes into pinned memory with ``non_blocking=True`` and an event marks its end, so the host can
    queue the next kernels (the dLLM forward) before it waits; the wait then lasts until the copy, not the forward,
    is done. On CPU there is nothing to wait for.

    Example:
        >>> copy = HostCopy(torch.tensor([[1, 2]]))
        >>> copy.wait().tolist()
        [[1, 2]]
    """

    def __init__(self, tensor: torch.Tensor) -> None:
        self._event = None
        if tensor.device.type == "cpu":
            self._host = tensor.clone()  # the caller's tensor may change before the wait
        elif tensor.device.type == "cuda":
            self._host = tensor.to("cpu", non_blocking=True)  # into pinned memory: the host does not wait here
            self._event = torch.cuda.Event()
            self._event.record()
        else:  # other accelerators: a plain (blocking) copy
            self._host = tensor.cpu()

    def wait(self) -> np.ndarray:
        """The copied values as a numpy array (blocks until the copy is done, not until later kernels are)."""
        if self._event is not None:
            self._event.synchronize()
        return self._host.numpy()
