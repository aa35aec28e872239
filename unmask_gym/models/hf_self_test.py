"""The load-time self-test of the transformers backend: catches the ways remote code goes wrong without an error.

Hub modeling code can run and still compute the wrong thing: an old LLaDA revision ignores ``attention_mask``;
on transformers 5.x Dream's rotary ``inv_freq`` buffers hold uninitialised memory after ``from_pretrained`` and
5.0.0 re-randomises loaded weights (``../shared/fixtures/README.md``). Three checks on a tiny input catch these:

1. the logits are finite, and a left-padded row predicts what the unpadded row does (padding invariance);
2. rotary ``inv_freq`` buffers are positive, at most 1 and non-increasing (uninitialised memory is not);
3. save and reload (small models only: an 8B model would write 16 GB) gives the same logits.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

import torch

PADDING = 3  # pad columns added in front of the test row
ANSWER = 4  # masked columns whose predictions are compared
SAVE_RELOAD_MAX_PARAMETERS = 200_000_000  # above this the save/reload check is skipped (disk and time)


class SelfTestError(RuntimeError):
    """A loaded model failed the self-test: it would compute wrong logits without raising."""


def run_self_test(backend: Any, reload: Callable[[str], Any] | None = None) -> None:
    """Runs the three checks on ``backend`` (an ``HFDiffusionLM``); raises ``SelfTestError`` naming the failure.

    Args:
        backend: the loaded backend.
        reload: loads a model saved with ``save_pretrained`` from a folder (the loader that built ``backend``);
            None skips the save/reload check.
    """
    row = backend.encode_prompt("What is 12 + 30?")[-12:] + [backend.mask_token_id] * ANSWER  # a short canvas
    logits = _answer_logits(backend, row, padding=0)  # (ANSWER, V)
    if not torch.isfinite(logits).all():
        raise SelfTestError(f"{backend!r} computes non-finite logits on a tiny input")
    tolerance = 1e-4 if backend.model.dtype == torch.float32 else 3e-2
    padded = _answer_logits(backend, row, padding=PADDING)
    if not _close(logits, padded, tolerance):
        raise SelfTestError(
            f"{backend!r}: a left-padded row predicts differently from the same row unpadded (max difference "
            f"{(logits - padded).abs().max():.3g}); the model ignores the attention mask or the position ids, "
            "so batched episodes of different prompt lengths would get wrong predictions"
        )
    for name, buffer in backend.model.named_buffers():
        if name.endswith("inv_freq") and not _plausible_inv_freq(buffer.float()):
            raise SelfTestError(
                f"{backend!r}: rotary buffer {name} does not hold inverse frequencies (values must be in (0, 1] and "
                "non-increasing); the loader left it uninitialised, as transformers 5.x does with remote code"
            )
    parameters = sum(parameter.numel() for parameter in backend.model.parameters())
    if reload is None or parameters > SAVE_RELOAD_MAX_PARAMETERS:
        return
    with tempfile.TemporaryDirectory() as folder:
        save_without_generation_config(backend.model, folder)
        reloaded = type(backend)(reload(folder).eval(), backend.tokenizer, backend.family,
                                 end_token_ids=backend.end_token_ids)  # fmt: skip
    again = _answer_logits(reloaded, row, padding=0)
    if not _close(logits, again, tolerance):
        raise SelfTestError(
            f"{backend!r}: the model saved and loaded again predicts differently (max difference "
            f"{(logits - again).abs().max():.3g}); loading does not restore the weights or buffers"
        )


def save_without_generation_config(model: Any, folder: str) -> None:
    """``model.save_pretrained(folder)`` with a default ``GenerationConfig`` standing in for the model's own.

    The generation config plays no part in the logits, and a remote-code subclass may fail to save: Dream's
    ``DreamGenerationConfig.validate`` takes no ``strict`` argument, which ``save_pretrained`` passes on transformers
    4.52-4.57 (a ``TypeError`` that made every Dream checkpoint under 200M parameters fail to load). The model's
    own config is put back afterwards, whatever happens.
    """
    from transformers import GenerationConfig

    own = getattr(model, "generation_config", None)
    if own is not None:
        model.generation_config = GenerationConfig()
    try:
        model.save_pretrained(folder)
    finally:
        if own is not None:
            model.generation_config = own


def _answer_logits(backend: Any, row: list[int], padding: int) -> torch.Tensor:
    """(ANSWER, V) float logits of the row's last ``ANSWER`` columns, with ``padding`` pad columns in front."""
    tokens = torch.tensor([[backend.pad_token_id] * padding + row])  # (1, T)
    attention = torch.arange(tokens.shape[1]) >= padding  # (T,) False on the padding
    positions = torch.arange(tokens.shape[1] - ANSWER, tokens.shape[1])
    return backend.logits(tokens, attention[None], positions)[0].float()


def _close(first: torch.Tensor, second: torch.Tensor, tolerance: float) -> bool:
    scale = max(float(first.abs().max()), 1.0)
    return bool((first - second).abs().max() <= tolerance * scale)


def _plausible_inv_freq(inv_freq: torch.Tensor) -> bool:
    values = inv_freq.flatten()
    return bool(torch.isfinite(values).all() and (values > 0).all() and (values <= 1 + 1e-6).all()
                and (values[1:] <= values[:-1] + 1e-6).all())  # fmt: skip
