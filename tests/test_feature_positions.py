"""Features are computed at the masked positions of the forwarded rows only, and nothing observed changes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unmask_gym import UnmaskVectorEnv, dynamics
from unmask_gym.features import predict


def test_feature_positions_are_the_masked_positions_of_stay_rows_and_all_of_new_episodes() -> None:
    forward_rows = np.array([0, 2, 3])
    stay_rows = np.array([2, 3])
    stay_masked = np.array([[False, True, False], [True, True, True]])
    local, everywhere = dynamics.feature_positions(forward_rows, stay_rows, stay_masked, 3)
    assert local.tolist() == [0, 1, 2, 4, 6, 7, 8]  # row 0 is new: all of it; row 2: position 1; row 3: all masked
    assert everywhere.tolist() == [0, 1, 2, 7, 9, 10, 11]


@pytest.mark.parametrize(("temperature", "top_k"), [(0.0, 0), (1.0, 3)])
def test_predict_at_positions_equals_the_full_prediction_there(temperature: float, top_k: int) -> None:
    logits = torch.randn(3, 5, 11, generator=torch.Generator().manual_seed(0))
    uniforms = torch.rand(3, 5, generator=torch.Generator().manual_seed(1))
    positions = torch.tensor([14, 0, 7, 8])
    full = predict(logits, temperature, uniforms, top_k)
    # A chunk of 2 positions: the gather runs over several chunks.
    part = predict(logits, temperature, uniforms, top_k, chunk_elements=2 * 11, positions=positions)
    for name in ("pred_token", "confidence", "margin", "entropy", "top_k_probs", "top_k_tokens"):
        whole = getattr(full, name)
        if whole is None:
            assert getattr(part, name) is None
            continue
        torch.testing.assert_close(getattr(part, name), whole.flatten(0, 1)[positions], msg=name)
    empty = predict(logits, temperature, uniforms, top_k, positions=torch.zeros(0, dtype=torch.int64))
    assert empty.confidence.shape == (0,)


def run(steps: int, **kwargs: object) -> list:
    """A trajectory of random actions with autoreset: every observation, reward and flag."""
    env = UnmaskVectorEnv(6, task="addition", device="cpu", **kwargs)
    observation, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    trajectory = [observation]
    for _ in range(steps):
        actions = rng.random((6, env.answer_length)) < 0.3
        trajectory.append(env.step(actions)[:4])
    return trajectory


@pytest.fixture
def predicted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """Each forward's feature pass as (positions computed, whether they were every position), as the env runs."""
    calls: list[tuple[int, bool]] = []
    original_predict = dynamics.predict

    def recording_predict(logits: torch.Tensor, *args: object, positions: torch.Tensor | None = None, **kw: object):
        calls.append((logits.shape[0] * logits.shape[1] if positions is None else len(positions), positions is None))
        return original_predict(logits, *args, positions=positions, **kw)

    monkeypatch.setattr(dynamics, "predict", recording_predict)
    return calls


@pytest.mark.parametrize("kwargs", [{}, {"temperature": 1.0, "top_k": 3, "block_length": 2}])
def test_trajectories_equal_those_with_features_everywhere(
    monkeypatch: pytest.MonkeyPatch, predicted: list[tuple[int, bool]], kwargs: dict
) -> None:
    monkeypatch.setattr(dynamics, "FEATURE_SKIP_MIN_ELEMENTS", 1)  # the built-in vocabulary is below the default
    restricted = run(40, **kwargs)
    restricted_count = sum(count for count, _ in predicted)
    predicted.clear()
    original_positions = dynamics.feature_positions
    monkeypatch.setattr(dynamics, "feature_positions",
                        lambda rows, stay, masked, length: original_positions(rows, stay, None, length))  # fmt: skip
    everywhere = run(40, **kwargs)
    assert restricted_count < 0.8 * sum(count for count, _ in predicted)  # the restriction really skips positions
    for step, (mine, theirs) in enumerate(zip(restricted, everywhere, strict=True)):
        mine_obs, theirs_obs = (mine, theirs) if step == 0 else (mine[0], theirs[0])
        for key in mine_obs:
            torch.testing.assert_close(mine_obs[key], theirs_obs[key], msg=f"step {step}, {key}")
        if step:
            for mine_item, theirs_item in zip(mine[1:], theirs[1:], strict=True):
                torch.testing.assert_close(mine_item, theirs_item)


def test_a_small_vocabulary_keeps_features_everywhere(predicted: list[tuple[int, bool]]) -> None:
    # Skipping a few positions of a small vocabulary saves less than the gather and the merge cost.
    run(10)
    assert predicted and all(every_position for _, every_position in predicted)
