"""Built-in tasks: seeded sampling, disjoint splits, verifiers."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from unmask_gym.models.codec import completion_tokens
from unmask_gym.tasks import TASKS, Addition, CharTokenizer, Permutation, StateTracking, Sudoku, make_task, split_of
from unmask_gym.tasks.sudoku import GRIDS
from unmask_gym.testing import CountingTask


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


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_samples_reproducibly_within_its_lengths_and_its_solutions_verify(name):
    task = make_task(name)
    prompts, references = task.sample(200, np.random.default_rng(3))
    assert (prompts, references) == task.sample(200, np.random.default_rng(3))
    generator = np.random.default_rng(0)
    for prompt, reference in zip(prompts, references, strict=True):
        assert len(prompt) <= task.max_prompt_length
        solution = task.solution(reference, generator)
        assert len(solution) <= task.answer_length
        assert task.score([solution], [reference]).item() == 1.0
        assert task.reference_for(prompt) == reference


def test_permutation_accepts_any_order_and_rejects_duplicates_missing_and_extra_digits():
    task = Permutation()
    assert task.score(["3120", "0123", "0312"], ["0123"] * 3).tolist() == [1.0, 1.0, 1.0]
    assert task.score(["0113", "012", "01234", "012_", "01a3"], ["0123"] * 5).tolist() == [0.0] * 5


def test_state_tracking_follows_the_ball_and_stops_at_cup_four():
    task = StateTracking()
    assert (task.num_swaps, task.answer_length, task.max_prompt_length) == (16, 32, 33)
    assert task.reference_for("34" * 16 + "=") == "0" * 16  # the ball never moves: no cup 4, all sixteen swaps
    assert task.reference_for("04" + "01" * 15 + "=") == "4"  # reaches cup 4 at once
    assert task.reference_for("01" + "13" + "34" + "01" * 13 + "=") == "134"
    assert task.reference_for("10" + "12" + "23" + "30" + "=") == "1230"  # prompts of any length
    assert task.score(["134", "13", "1344", "13_"], ["134"] * 4).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_state_tracking_answers_are_short_in_a_long_eos_padded_buffer():
    task = StateTracking()
    prompts, references = task.sample(2000, np.random.default_rng(0))
    lengths = np.array([len(r) for r in references])
    assert all(len(p) == task.max_prompt_length for p in prompts)
    assert lengths.min() == 1 and lengths.max() == task.num_swaps
    assert 6 < lengths.mean() < 10  # each swap ends the answer with probability 1/10: ~75% of targets are EOS
    assert all(reference == task.reference_for(prompt) for prompt, reference in zip(prompts, references, strict=True))


def test_state_tracking_accepts_every_spelling_of_the_cups_and_nothing_else():
    task = StateTracking()
    assert task.score(["134", "bde", "1d4", "bd4"], ["134"] * 4).tolist() == [1.0] * 4
    assert task.score(["13", "1de4", "134a", "13f", "13_", "b3x", ""], ["134"] * 7).tolist() == [0.0] * 7
    generator = np.random.default_rng(0)
    spelled = {task.solution("0123401234", generator) for _ in range(50)}
    assert len(spelled) > 10 and all(task.is_correct(s, "0123401234") for s in spelled)
    single = StateTracking(names=("01234",))
    assert single.solution("0123", generator) == "0123" and single.score(["abcd"], ["0123"]).item() == 0.0


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ((), "names must be spellings of the 5 cups"),
        (("0123",), "names must be spellings of the 5 cups"),
        (("01234", "abcd0"), "names must be spellings of the 5 cups with no character used twice"),
        (("01234", "abcd\n"), "which is not in the vocabulary"),
    ],
)
def test_state_tracking_refuses_bad_spellings(names, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        StateTracking(names=names)


@pytest.mark.parametrize(("num_swaps", "answer_length"), [(0, 32), (33, 32)])
def test_state_tracking_refuses_answers_that_do_not_fit(num_swaps, answer_length):
    with pytest.raises(ValueError, match="need 1 <= num_swaps <= answer_length"):
        StateTracking(num_swaps=num_swaps, answer_length=answer_length)


def test_sudoku_prompts_have_eight_to_fourteen_blanks_and_keep_a_valid_grid():
    task = Sudoku()
    prompts, references = task.sample(500, np.random.default_rng(0))
    blanks = [p.count(".") for p in prompts]
    assert min(blanks) == 8 and max(blanks) == 14
    generator = np.random.default_rng(1)
    assert all(task.is_correct(task.solution(r, generator), r) for r in references)


def test_sudoku_accepts_every_valid_completion_and_rejects_broken_grids():
    task = Sudoku()
    puzzle = "12..34..21..43.."
    solutions = [g for g in GRIDS if all(p in (".", c) for p, c in zip(puzzle, g, strict=True))]
    assert len(solutions) >= 1
    assert task.score(solutions, [puzzle] * len(solutions)).tolist() == [1.0] * len(solutions)
    wrong_given = "2" + solutions[0][1:]
    duplicate_row = solutions[0][:2] + solutions[0][1] + solutions[0][3:]
    truncated = solutions[0][:15]
    assert task.score([wrong_given, duplicate_row, truncated, "x" * 16], [puzzle] * 4).tolist() == [0.0] * 4
    assert len(GRIDS) == 288


@pytest.mark.parametrize("name", ["addition", "permutation", "statetracking", "sudoku"])
def test_every_task_checks_a_user_prompt_against_its_documented_format(name):
    task = make_task(name)
    example = re.search(r"e\.g\. '([^']*)'", task.prompt_format).group(1)
    assert task.check_prompt(example) == example  # the documented example is a valid prompt
    prompts, _ = task.sample(50, np.random.default_rng(0), "eval")
    assert all(task.check_prompt(prompt) == prompt for prompt in prompts)
    for bad in ["hello world", example[:-1], example + "0", ""]:
        with pytest.raises(ValueError, match=f"is not an? {task.name} prompt.*expected"):
            task.check_prompt(bad)


def test_prompt_checks_catch_what_the_pattern_alone_cannot():
    with pytest.raises(ValueError, match="no valid grid keeps these givens"):
        make_task("sudoku").check_prompt("11" + "." * 14 + "=")
    with pytest.raises(ValueError, match="n must be at most L = 4"):
        CountingTask(4).check_prompt("5:123")


def perturbed_answers(task, references, generator: np.random.Generator) -> np.ndarray:
    """(n, L) answers around the references' solutions, right and wrong.

    Right ones, one wrong token, stray end/pad/mask tokens anywhere (padding inside an answer is skipped, an end
    token cuts it), and random strings.
    """
    tokenizer, length = task.tokenizer, task.answer_length
    answers = []
    for reference in references:
        ids = tokenizer.encode(task.solution(reference, generator))
        answer = np.array((ids + [tokenizer.eos_token_id] * length)[:length])
        kind = generator.integers(5)
        if kind == 1:
            answer[generator.integers(length)] = generator.integers(tokenizer.vocab_size)
        elif kind == 2:
            answer[generator.integers(length)] = generator.choice([tokenizer.pad_token_id, tokenizer.mask_token_id,
                                                                   tokenizer.eos_token_id])  # fmt: skip
        elif kind == 3:
            answer = np.insert(answer, generator.integers(length), tokenizer.pad_token_id)[:length]
        elif kind == 4:
            answer = generator.integers(3, tokenizer.vocab_size, size=length)
            answer[generator.integers(1, length) :] = tokenizer.eos_token_id
        answers.append(answer)
    return np.stack(answers)


@pytest.mark.parametrize("name", [*TASKS, "counting"])
def test_every_built_in_task_scores_token_ids_on_the_device_as_its_host_verifier_scores_the_text(name):
    task = CountingTask(6) if name == "counting" else make_task(name)
    generator = np.random.default_rng(1)
    _, references = task.sample(400, generator)
    answers = torch.from_numpy(perturbed_answers(task, references, generator))
    tokenizer, width = task.tokenizer, task.answer_length + 1
    texts = [tokenizer.decode(answer.tolist()) for answer in answers]
    completions = completion_tokens(answers, [tokenizer.eos_token_id], tokenizer.pad_token_id, width)
    reference_ids = torch.full((len(references), width), -1)
    for row, reference in enumerate(references):
        ids = task.reference_tokens(reference, width)
        reference_ids[row, : len(ids)] = torch.tensor(ids)
    host = task.score(texts, references)
    assert 0.1 < host.mean() < 0.9  # both outcomes are well represented
    assert torch.equal(task.score_tokens(completions, reference_ids), host)


def test_completion_tokens_keep_what_decoding_keeps():
    tokenizer = CharTokenizer()
    generator = np.random.default_rng(2)
    answers = torch.from_numpy(generator.integers(0, 12, size=(200, 9)))  # pad, mask, eos and digits, mixed
    completions = completion_tokens(answers, [tokenizer.eos_token_id], tokenizer.pad_token_id, width=10)
    for answer, completion in zip(answers, completions, strict=True):
        kept = [token for token in completion.tolist() if token >= 0]
        assert completion.tolist() == kept + [-1] * (10 - len(kept))
        assert tokenizer.decode(kept) == tokenizer.decode(answer.tolist())


def test_a_sudoku_reference_must_be_a_puzzle_to_be_scored_on_the_device():
    message = "a Sudoku reference is the puzzle: 16 cells of 1-4 or '.', got '12'"
    with pytest.raises(ValueError, match=re.escape(message)):
        Sudoku().reference_tokens("12", 17)
