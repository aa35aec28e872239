"""``compile_features=True``: the observation's features in one ``torch.compile``d pass, equal to the eager pass."""

from __future__ import annotations

import re
import warnings

import pytest
import torch

from unmask_gym import features
from unmask_gym.env import UnmaskVectorEnv
from unmask_gym.features import predict
from unmask_gym.heuristics import make_policy


def assert_predictions_close(compiled, eager):
    assert torch.equal(compiled.pred_token, eager.pred_token)
    for name in ("confidence", "margin", "entropy", "top_k_probs"):
        a, b = getattr(compiled, name), getattr(eager, name)
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, atol=1e-5, rtol=1e-5), name
    if eager.top_k_tokens is not None:
        assert torch.equal(compiled.top_k_tokens, eager.top_k_tokens)


@pytest.mark.slow
def test_compiled_features_equal_the_eager_pass_in_every_mode():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 7, 50, generator=generator) * 4
    uniforms = torch.rand(3, 7, generator=generator)
    for temperature, top_k, chunk in ((0.0, 0, 2**25), (0.0, 5, 20), (0.7, 3, 2**25), (0.7, 0, 100)):
        kwargs = {"uniforms": uniforms if temperature else None, "top_k": top_k, "chunk_elements": chunk}
        assert_predictions_close(predict(logits, temperature, compiled=True, **kwargs),
                                 predict(logits, temperature, **kwargs))  # fmt: skip
    half = logits.to(torch.bfloat16)  # real dLLMs' logits: the float32 work happens inside the pass in both
    assert_predictions_close(predict(half, compiled=True), predict(half))


@pytest.mark.slow
def test_an_env_with_compiled_features_steps_as_the_eager_env():
    def run(compiled: bool) -> list:
        env = UnmaskVectorEnv(6, task="permutation", block_length=None, temperature=0.5, top_k=3,
                              compile_features=compiled, device="cpu")  # fmt: skip
        obs, _ = env.reset(seed=1)
        policy, trace = make_policy("fast_dllm_threshold:threshold=0.5"), []
        for _ in range(12):
            action = policy(obs)
            obs, reward, terminated, _, _ = env.step(action)
            trace.append((action, obs, reward, terminated))
        return trace

    for (action, obs, reward, terminated), (action_e, obs_e, reward_e, terminated_e) in zip(run(True), run(False),
                                                                                            strict=True):  # fmt: skip
        assert torch.equal(action, action_e) and torch.equal(terminated, terminated_e)
        assert torch.allclose(reward, reward_e)
        assert torch.equal(obs["pred_token"], obs_e["pred_token"]) and torch.equal(obs["tokens"], obs_e["tokens"])
        assert torch.allclose(obs["confidence"], obs_e["confidence"], atol=1e-5)


def test_a_failed_compilation_falls_back_to_the_eager_pass_with_one_warning(monkeypatch):
    def broken_compile(function, **kwargs):
        def fails(*args):
            raise RuntimeError("no C++ compiler\nmore detail")

        return fails

    monkeypatch.setattr(torch, "compile", broken_compile)
    features.compiled_chunk_features.cache_clear()
    try:
        logits = torch.randn(2, 3, 10)
        with pytest.warns(UserWarning, match=re.escape("compile_features: torch.compile failed (RuntimeError: no C++ "
                                                       "compiler); it runs eager instead")):  # fmt: skip
            first = predict(logits, compiled=True)
        assert_predictions_close(first, predict(logits))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # warned once only: a second warning would raise here
            predict(logits, compiled=True)
    finally:
        features.compiled_chunk_features.cache_clear()


def test_compile_features_must_be_a_bool():
    with pytest.raises(TypeError, match=re.escape("compile_features must be a bool, got 1")):
        UnmaskVectorEnv(1, task="addition", compile_features=1)
