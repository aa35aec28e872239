"""``RuleGuidedSchedule`` (the Sudoku schedule ceiling): it commits only the predictions a valid grid keeps."""

from __future__ import annotations

import pytest
import torch

from unmask_gym.evaluation import evaluate, make_eval_env
from unmask_gym.tasks import make_task
from unmask_gym.tasks.sudoku import RuleGuidedSchedule

TOKENIZER = make_task("sudoku").tokenizer


def ids(text: str) -> torch.Tensor:
    return torch.tensor([TOKENIZER.encode(text)])


def observation(puzzle: str, predicted: str, confidence: list[float] | None = None) -> dict[str, torch.Tensor]:
    masked = torch.ones(1, 16, dtype=torch.bool)
    return {"masked": masked, "action_mask": masked.clone(), "prompt_tokens": ids(puzzle + "="),
            "tokens": torch.full((1, 16), TOKENIZER.encode(".")[0]), "pred_token": ids(predicted),
            "confidence": torch.tensor([confidence or [0.5] * 16])}  # fmt: skip


def test_it_commits_the_predictions_that_the_valid_grid_keeping_the_most_of_them_agrees_with():
    solution = "1234341221434321"  # a valid grid
    wrong = "1234341221434312"  # its last two cells swapped: two clashes
    action = RuleGuidedSchedule()(observation("1" + "." * 15, wrong))
    assert action[0, :14].all() and not action[0, 14:].any()  # the 14 cells that agree with the solution
    # The givens bind: with a given "4" in the first cell, no valid grid keeps that first prediction of "1".
    action = RuleGuidedSchedule()(observation("4" + "." * 15, solution))
    assert not action[0, 0]


def test_it_commits_the_most_confident_position_when_no_prediction_fits_a_valid_grid():
    confidence = [0.1] * 16
    confidence[5] = 0.9
    action = RuleGuidedSchedule()(observation("1" + "." * 15, "=" * 16, confidence))  # no digit predicted
    assert action[0].nonzero().flatten().tolist() == [5]


def test_with_the_built_in_dllm_it_writes_sudoku_right_in_under_two_passes():
    env = make_eval_env("sudoku", episodes=64, block_length=None, observe_prompt=True)
    result = evaluate(env, RuleGuidedSchedule())
    assert result.accuracy > 0.95 and result.mean_nfe < 2.0


def test_it_asks_for_the_prompt_it_reads():
    obs = observation("1" + "." * 15, "1" * 16)
    del obs["prompt_tokens"]
    with pytest.raises(ValueError, match="observe_prompt=True"):
        RuleGuidedSchedule()(obs)
