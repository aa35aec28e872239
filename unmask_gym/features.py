"""Per-position features of a dLLM's prediction, computed on the answer region only.

Shapes: N rows, L answer positions, V vocabulary, K top-k.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from unmask_gym.compiling import compile_or_eager
from unmask_gym.noise import sample_tokens


@dataclass(frozen=True)
class Prediction:
    """What one forward pass says about each answer position (all tensors (N, L) unless noted)."""

    pred_token: torch.Tensor
    """int64: the greedy token, or the sampled one when temperature > 0."""
    confidence: torch.Tensor
    """float32: the model's probability of ``pred_token``."""
    margin: torch.Tensor
    """float32: top-1 minus top-2 probability."""
    entropy: torch.Tensor
    """float32: entropy of the predictive distribution, clamped to [0, log V]."""
    top_k_probs: torch.Tensor | None = None
    """(N, L, K) float32, highest first, or None when not requested."""
    top_k_tokens: torch.Tensor | None = None
    """(N, L, K) int64, or None."""
    hidden: torch.Tensor | None = None
    """(N, L, D) float32 last hidden states, or None when not requested."""


PREDICTION_FIELDS = tuple(item.name for item in dataclasses.fields(Prediction))
"""``Prediction``'s field names, in order (a constant: ``torch.compile`` does not trace ``dataclasses.fields``)."""


FEATURE_CHUNK_ELEMENTS = 2**25
"""Logit elements turned into features at a time (128 MiB of float32 scratch): bounds a step's peak memory."""


def predict(
    logits: torch.Tensor,
    temperature: float = 0.0,
    uniforms: torch.Tensor | None = None,
    top_k: int = 0,
    chunk_elements: int = FEATURE_CHUNK_ELEMENTS,
    compiled: bool = False,
    positions: torch.Tensor | None = None,
) -> Prediction:
    """Turns logits (N, L, V) into a ``Prediction``.

    With ``temperature > 0`` the token is drawn from softmax(logits / temperature) at ``uniforms`` (N, L) (see
    ``unmask_gym.noise``); as in LLaDA's sampler its confidence is still read from the untempered distribution.

    Memory: the logits are the only (N, L, V) tensor; the float32 work runs over chunks of at most
    ``chunk_elements`` logits (whole positions), so a step's peak is the logits plus about two float32 chunks,
    whatever N, L and V (``benchmarks/feature_memory.py`` measured 0.28 GB; LLaDA's bf16 logits at L = 256 are
    64.8 MB per row).

    ``compiled=True`` runs each chunk through ``torch.compile`` of the same function: its reductions (max,
    sum of exponentials, entropy's sum, the second max, top-k, sampling) fuse into fewer passes over the logits
    (Triton on a GPU, C++ on a CPU). It equals the eager pass within float rounding and falls back to it, warning
    once, where compiling fails (no compiler, an unsupported backend).

    ``positions`` (M,) int64, flat indices into the N × L positions, computes the features of those positions
    only: every tensor of the result is then (M,) (top-k (M, K)), in the order of ``positions``, and equals the
    same positions of the full result. The env passes the masked positions of the rows it forwarded, the only
    ones whose features reach an observation (``unmask_gym.dynamics.forward``).

    Example:
        >>> prediction = predict(torch.tensor([[[2.0, 0.0, 0.0]]]))
        >>> prediction.pred_token.tolist(), round(prediction.confidence.item(), 3)
        ([[0]], 0.787)
    """
    if temperature > 0 and uniforms is None:
        raise ValueError("temperature > 0 needs uniforms of shape (N, L)")
    rows, length, vocab = logits.shape
    flat = logits.reshape(rows * length, vocab)  # a view for contiguous logits
    flat_uniforms = None if uniforms is None else uniforms.reshape(rows * length)
    count = rows * length if positions is None else len(positions)
    shape = (rows, length) if positions is None else (count,)
    step = max(1, chunk_elements // vocab)
    features = compiled_chunk_features() if compiled else _chunk_features

    def take(values: torch.Tensor | None, start: int) -> torch.Tensor | None:
        """A chunk's rows of ``values``: a slice, or a gather of ``positions`` (bounded like the chunk)."""
        if values is None:
            return None
        if positions is None:
            return values[start : start + step]
        return values.index_select(0, positions[start : start + step])

    parts = [features(take(flat, start), temperature, take(flat_uniforms, start), top_k)
             for start in range(0, max(count, 1), step)]  # fmt: skip  (one empty chunk when count is 0)
    joined = [torch.cat(items) if len(parts) > 1 else items[0] for items in zip(*parts, strict=True)]
    pred_token, confidence, margin, entropy = (item.view(shape) for item in joined[:4])
    top_k_probs = top_k_tokens = None
    if top_k > 0:
        top_k_probs, top_k_tokens = joined[4].view(*shape, top_k), joined[5].view(*shape, top_k)
    return Prediction(pred_token, confidence, margin, entropy, top_k_probs, top_k_tokens)


def _chunk_features(
    logits: torch.Tensor, temperature: float, uniforms: torch.Tensor | None, top_k: int
) -> tuple[torch.Tensor, ...]:
    """Features of M positions' logits (M, V): token, confidence, margin, entropy (M,) and top-k (M, K) if asked.

    Works from e = exp(x - max x), so p = e / z with z = sum e: one exponential pass, and the top-2 from two max
    passes (CPU's topk is several times slower over a small vocabulary).
    """
    x = logits.float()  # (M, V): the chunk's one float32 copy (a no-op for float32 logits)
    top1_logit, top1 = x.max(-1)  # (M,)
    e = (x - top1_logit[:, None]).exp_()  # (M, V) in [0, 1], 1 at the top token
    inverse_z = e.sum(-1).reciprocal_()  # (M,): the top token's probability
    # H = -sum p log p = log z + max x - sum(e x) / z, clamped since rounding can step outside [0, log V].
    entropy = (top1_logit - inverse_z.log() - (e * x).sum(-1) * inverse_z).clamp_(0.0, math.log(x.shape[-1]))
    out_top_k: tuple[torch.Tensor, ...] = ()
    if top_k > 0:
        values, tokens = e.topk(top_k, dim=-1)
        out_top_k = (values * inverse_z[:, None], tokens)
    if temperature > 0:
        pred_token = sample_tokens(x, temperature, uniforms)  # softmax(x / T) is softmax(log p / T)
        confidence = e.gather(-1, pred_token[:, None])[:, 0] * inverse_z
    else:
        pred_token, confidence = top1, inverse_z
    second = e.scatter_(-1, top1[:, None], 0.0).amax(-1)  # e is done with: reused in place
    margin = ((1.0 - second) * inverse_z).clamp_(0.0, 1.0)
    return (pred_token, confidence, margin, entropy, *out_top_k)


@functools.cache
def compiled_chunk_features() -> Callable[..., tuple[torch.Tensor, ...]]:
    """``_chunk_features`` through ``torch.compile``, falling back to the eager function (warned once).

    Dynamic shapes: one compilation serves every chunk size.
    """
    return compile_or_eager(_chunk_features, "compile_features", dynamic=True)
