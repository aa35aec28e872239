"""Confidence, margin, entropy and top-k against a direct softmax; temperature sampling."""

from __future__ import annotations

import math

import torch

from unmask_gym.features import predict


def test_features_match_a_direct_softmax():
    logits = torch.randn(3, 5, 11, generator=torch.Generator().manual_seed(0))
    prediction = predict(logits, top_k=3)
    probs = logits.softmax(-1)
    torch.testing.assert_close(prediction.confidence, probs.max(-1).values)
    assert torch.equal(prediction.pred_token, probs.argmax(-1))
    sorted_probs = probs.sort(-1, descending=True).values
    torch.testing.assert_close(prediction.margin, sorted_probs[..., 0] - sorted_probs[..., 1])
    torch.testing.assert_close(prediction.entropy, -(probs * probs.log()).sum(-1))
    torch.testing.assert_close(prediction.top_k_probs, sorted_probs[..., :3])
    assert prediction.confidence.dtype == torch.float32 and prediction.pred_token.dtype == torch.int64


def test_entropy_stays_within_zero_and_log_vocab():
    logits = torch.tensor([[[100.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    entropy = predict(logits).entropy[0]
    assert entropy[0].item() >= 0.0
    assert entropy[1].item() <= math.log(3) + 1e-6


def test_temperature_samples_tokens_at_the_given_uniforms_and_reports_their_model_probability():
    logits = torch.zeros(1, 200, 4)
    logits[..., 0] = 1.0
    uniforms = torch.rand(1, 200, generator=torch.Generator().manual_seed(0))
    first = predict(logits, temperature=1.0, uniforms=uniforms)
    again = predict(logits, temperature=1.0, uniforms=uniforms.clone())
    assert torch.equal(first.pred_token, again.pred_token)
    assert len(first.pred_token.unique()) > 1  # sampling, not greedy
    probs = logits.softmax(-1)
    torch.testing.assert_close(first.confidence, probs.gather(-1, first.pred_token[..., None])[..., 0])
