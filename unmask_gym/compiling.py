"""``torch.compile`` with the eager function as the fallback, for the env's opt-in compiled paths."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any


def compile_or_eager(function: Callable[..., Any], option: str, **compile_options: Any) -> Callable[..., Any]:
    """``torch.compile(function, **compile_options)``, falling back to ``function`` itself (warned once).

    From the first call that fails to compile (no C++ compiler, an unsupported backend) on, ``function`` runs eager;
    the one warning names the env's ``option``. ``function`` must be pure (no side effect before it fails), so
    that running it again eager is safe.
    """
    import torch  # the module attribute at call time, which a test may replace

    compiled = torch.compile(function, **compile_options)
    failed = False

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        nonlocal failed
        if not failed:
            try:
                return compiled(*args, **kwargs)
            except Exception as error:  # inductor raises several types
                failed = True
                message = str(error).strip()
                warnings.warn(f"{option}: torch.compile failed ({type(error).__name__}: "
                              f"{message.splitlines()[0] if message else ''}); it runs eager instead",
                              stacklevel=2)  # fmt: skip
        return function(*args, **kwargs)

    return run
