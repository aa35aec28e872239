"""Gymnasium's array-conversion wrappers and this env's info values.

``gymnasium.wrappers.NumpyToTorch``, ``TorchToNumpy`` and ``ArrayConversion`` (and their vector versions) convert
every info value through one ``functools.singledispatch`` function, ``array_conversion``, that knows numbers,
mappings and iterables. The env's episode-end infos also hold text (``completion``, ``prompt``, ``reference``),
``None`` (a reference the task does not have) and, in the vector env, numpy arrays of such objects: Gymnasium
turns a string into the text of a generator, refuses ``None``, and DLPack refuses object arrays (BufferError).
``register_info_conversions`` registers these three with that function, through its public ``register``, so they
pass through unchanged; every other type keeps Gymnasium's conversion. The env calls it when it is built, if
``array_api_compat`` (what those wrappers need) is installed.
"""

from __future__ import annotations

import importlib.util
from collections import abc
from typing import Any

import numpy as np

_registered = False


def register_info_conversions() -> bool:
    """Registers str, None and numpy object arrays as unchanged with Gymnasium's ``array_conversion``.

    Returns whether the wrappers are available (``array_api_compat`` installed). Safe to call many times.
    """
    global _registered
    if _registered:
        return True
    if importlib.util.find_spec("array_api_compat") is None:
        return False
    from gymnasium.wrappers import array_conversion as conversion

    convert = conversion.array_conversion
    iterable = convert.dispatch(abc.Iterable)

    @convert.register(str)
    @convert.register(type(None))
    def _unchanged(value: Any, xp: Any, device: Any = None) -> Any:
        return value

    @convert.register(np.ndarray)
    def _numpy(value: np.ndarray, xp: Any, device: Any = None) -> Any:
        return value if value.dtype == object else iterable(value, xp, device)

    _registered = True
    return True
