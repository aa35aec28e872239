"""Runtime patches that let LLaDA's hub modeling code run on transformers 5.x, without editing its files.

On 5.x, LLaDA's unmodified code breaks three ways (``../shared/fixtures/README.md``): its config loses ``use_cache``
(5.x strips generation arguments from configs) and ``forward`` reads it; the model never calls ``post_init()``, so
``from_pretrained`` misses ``all_tied_weights_keys``; and ``tie_weights()`` is called with keyword arguments its
older signature does not take. Each patch below fixes one, only where the problem is present, and the backend
then always runs its self-test (``hf_self_test.py``), which checks the patched model's predictions.

Dream breaks on 5.x in ways that include two silent ones (uninitialised rotary buffers; on 5.0.0 re-randomised
weights), so it is refused there rather than patched.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any

PATCHED_MARK = "_unmask_gym_v5_patched"


def remote_model_class(transformers: Any, config: dict[str, Any], path: str | Path, local: bool) -> type:
    """The class ``AutoModel`` will build from a remote-code folder (the same class object, so patches apply)."""
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    reference = config["auto_map"]["AutoModel"]
    return get_class_from_dynamic_module(reference, str(path), local_files_only=local)


def patch_model_class(model_class: type) -> None:
    """Makes ``__init__`` end with ``post_init()`` and ``tie_weights`` ignore new keywords (idempotent).

    Each applies only where needed: ``post_init()`` runs when ``__init__`` left ``all_tied_weights_keys`` unset,
    and ``tie_weights`` keeps its own arguments when it already takes ``**kwargs``.

    Example:
        >>> class Old:
        ...     def __init__(self):
        ...         self.ties = 0
        ...     def post_init(self):
        ...         self.all_tied_weights_keys = {}
        ...     def tie_weights(self):
        ...         self.ties += 1
        >>> patch_model_class(Old)
        >>> model = Old()
        >>> model.tie_weights(missing_keys=set(), recompute_mapping=False)
        >>> model.all_tied_weights_keys, model.ties
        ({}, 1)
    """
    if getattr(model_class, PATCHED_MARK, False):
        return
    original_init = model_class.__init__

    @functools.wraps(original_init)
    def init_then_post_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if not hasattr(self, "all_tied_weights_keys"):  # 5.x's from_pretrained reads what post_init() sets
            self.post_init()

    model_class.__init__ = init_then_post_init
    original_tie = model_class.tie_weights
    parameters = inspect.signature(original_tie).parameters
    if not any(parameter.kind == parameter.VAR_KEYWORD for parameter in parameters.values()):

        @functools.wraps(original_tie)
        def tie_weights(self: Any, *args: Any, **kwargs: Any) -> Any:
            return original_tie(self, *args, **{name: value for name, value in kwargs.items() if name in parameters})

        model_class.tie_weights = tie_weights
    setattr(model_class, PATCHED_MARK, True)


def patch_loaded_model(model: Any) -> None:
    """Restores ``config.use_cache = False`` where transformers 5.x stripped it (LLaDA's forward reads it)."""
    if not hasattr(model.config, "use_cache"):
        model.config.use_cache = False
