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


def test_chunked_features_equal_the_features_in_one_piece():
    logits = torch.randn(3, 7, 50, generator=torch.Generator().manual_seed(1))
    uniforms = torch.rand(3, 7, generator=torch.Generator().manual_seed(2))
    for temperature, top_k in ((0.0, 0), (0.7, 4)):
        whole = predict(logits, temperature, uniforms, top_k)
        chunked = predict(logits, temperature, uniforms, top_k, chunk_elements=120)  # 2 positions per chunk
        for name in ("pred_token", "confidence", "margin", "entropy", "top_k_probs", "top_k_tokens"):
            expected, actual = getattr(whole, name), getattr(chunked, name)
            assert (expected is None and actual is None) or torch.equal(expected, actual), name


def test_half_precision_logits_give_float32_features_close_to_float32_logits():
    logits = torch.randn(2, 5, 40, generator=torch.Generator().manual_seed(3))
    exact, half = predict(logits), predict(logits.bfloat16())
    assert half.confidence.dtype == half.entropy.dtype == torch.float32
    torch.testing.assert_close(half.confidence, exact.confidence, atol=0.02, rtol=0.05)
    torch.testing.assert_close(half.entropy, exact.entropy, atol=0.05, rtol=0.05)
