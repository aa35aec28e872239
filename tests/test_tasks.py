"""Built-in tasks: seeded sampling, disjoint splits, verifiers."""

from __future__ import annotations

import numpy as np
import pytest

from unmask_gym.tasks import Addition, CharTokenizer, make_task, split_of


def test_sampling_is_reproducible_from_a_seed():
    task = Addition()
    assert task.sample(20, np.random.default_rng(5)) == task.sample(20, np.random.default_rng(5))
    assert task.sample(20, np.random.default_rng(5)) != task.sample(20, np.random.default_rng(6))


def test_train_and_eval_prompts_never_overlap_and_match_their_split():
    task = Addition()
    train, _ = task.sample(500, np.random.default_rng(0), "train")
    evaluation, _ = task.sample(100, np.random.default_rng(0), "eval")
    assert not set(train) & set(evaluation)
    assert {split_of(p) for p in train} == {"train"} and {split_of(p) for p in evaluation} == {"eval"}


def test_addition_verifier_accepts_the_sum_and_rejects_wrong_malformed_and_truncated_answers():
    task = Addition()
    assert task.reference_for("000123+000045=") == "0000168"
    scores = task.score(["0000168", "0000169", "000016", "000016_", "", "168"], ["0000168"] * 6)
    assert scores.tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_addition_prompts_fit_the_prompt_length_and_answers_the_buffer():
    task = Addition()
    prompts, references = task.sample(300, np.random.default_rng(1))
    assert max(len(p) for p in prompts) <= task.max_prompt_length
    assert max(len(r) for r in references) < task.answer_length


def test_make_task_refuses_unknown_names_listing_the_valid_ones():
    with pytest.raises(ValueError, match="unknown task 'nope'; built-in tasks are"):
        make_task("nope")


def test_tokenizer_round_trips_and_refuses_unknown_characters():
    tokenizer = CharTokenizer()
    assert tokenizer.decode(tokenizer.encode("12+34=")) == "12+34="
    with pytest.raises(ValueError, match="holds character '€'"):
        tokenizer.encode("1€")
