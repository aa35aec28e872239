"""Per-position features of a dLLM's prediction, computed on the answer region only.

Shapes: N rows, L answer positions, V vocabulary, K top-k.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

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


def predict(
    logits: torch.Tensor,
    temperature: float = 0.0,
    uniforms: torch.Tensor | None = None,
    top_k: int = 0,
) -> Prediction:
    """Turns logits (N, L, V) into a ``Prediction``.

    With ``temperature > 0`` the token is drawn from softmax(logits / temperature) at ``uniforms`` (N, L) (see
    ``unmask_gym.noise``); as in LLaDA's sampler its confidence is still read from the untempered distribution.

    Example:
        >>> prediction = predict(torch.tensor([[[2.0, 0.0, 0.0]]]))
        >>> prediction.pred_token.tolist(), round(prediction.confidence.item(), 3)
        ([[0]], 0.787)
    """
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # (N, L, V)
    probs = log_probs.exp()
    top2 = probs.topk(2, dim=-1).values  # (N, L, 2)
    if temperature > 0:
        if uniforms is None:
            raise ValueError("temperature > 0 needs uniforms of shape (N, L)")
        pred_token = sample_tokens(log_probs, temperature, uniforms)  # (N, L)
    else:
        pred_token = log_probs.argmax(dim=-1)
    confidence = probs.gather(-1, pred_token.unsqueeze(-1)).squeeze(-1)
    max_entropy = torch.log(torch.tensor(float(logits.shape[-1])))
    entropy = (-(probs * log_probs).sum(-1)).clamp(0.0, max_entropy.item())
    top_k_probs = top_k_tokens = None
    if top_k > 0:
        top_k_probs, top_k_tokens = probs.topk(top_k, dim=-1)
    return Prediction(
        pred_token=pred_token,
        confidence=confidence,
        margin=(top2[..., 0] - top2[..., 1]).clamp(0.0, 1.0),
        entropy=entropy,
        top_k_probs=top_k_probs,
        top_k_tokens=top_k_tokens,
    )
