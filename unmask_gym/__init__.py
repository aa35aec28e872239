"""unmask-gym: learning how masked diffusion language models should unmask, as a Gymnasium environment.

Importing the package registers the ``UnmaskGym/<Task>-v<N>`` ids (``registration.registered_ids()``) for
``gymnasium.make`` and ``gymnasium.make_vec``. The env classes load on first use, so that importing the
package (and ``unmask-gym --help``) does not pay for torch.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

from unmask_gym.registration import register_envs

if TYPE_CHECKING:
    from unmask_gym.benchmarking import BenchReport, benchmark
    from unmask_gym.env import UnmaskVectorEnv
    from unmask_gym.single_env import UnmaskEnv
    from unmask_gym.wrappers.numpy import NumpyVectorEnv

__version__ = "0.1.0"

register_envs()


def _single_thread_after_fork() -> None:
    """Runs torch on one thread in a forked child of a process that imported unmask_gym.

    A parent that ran a multi-threaded torch op leaves an OpenMP pool that a forked child cannot use: the child's
    first parallel op hangs forever (how Gymnasium's async mode and SB3's ``SubprocVecEnv(start_method="fork")``
    hung on the first reset). One thread per worker process is also the right split of the cores among workers.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


os.register_at_fork(after_in_child=_single_thread_after_fork)

_LAZY = {
    "UnmaskVectorEnv": "unmask_gym.env",
    "UnmaskEnv": "unmask_gym.single_env",
    "NumpyVectorEnv": "unmask_gym.wrappers.numpy",
    "benchmark": "unmask_gym.benchmarking",
    "BenchReport": "unmask_gym.benchmarking",
}

__all__ = ["BenchReport", "NumpyVectorEnv", "UnmaskEnv", "UnmaskVectorEnv", "__version__", "benchmark"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'unmask_gym' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
