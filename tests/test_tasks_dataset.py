"""GSM8K and MATH from local files: reading, splits, few-shot prompts, token lengths and answer checking."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from unmask_gym.tasks import GSM8K, MATH, make_dataset_task, make_task, split_of
from unmask_gym.tasks.answers import extract_answer, last_boxed, math_equivalent
from unmask_gym.tasks.records import read_records

DATA = Path(__file__).parent / "data"


class WordCodec:
    """A model stand-in whose prompt encoding is one id per word plus a 3-token template."""

    def encode_prompt(self, text: str) -> list[int]:
        """Template ids, then one id per word."""
        return [0, 1, 2] + [3] * len(text.split())


def test_records_are_read_from_jsonl_files_and_folders(tmp_path):
    records = read_records(DATA / "gsm8k_sample.jsonl")
    assert len(records) == 8 and records[0]["answer"].endswith("#### 12")
    (tmp_path / "a.jsonl").write_text('{"question": "q1", "answer": "#### 1"}\n\n')
    (tmp_path / "b.jsonl").write_text('{"question": "q2", "answer": "#### 2"}\n')
    assert [r["question"] for r in read_records(tmp_path)] == ["q1", "q2"]


def test_unreadable_datasets_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=re.escape(f"dataset path {str(tmp_path / 'nope.jsonl')!r} does not exist")):
        read_records(tmp_path / "nope.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"question": "q"}\nnot json\n')
    with pytest.raises(ValueError, match=re.escape("bad.jsonl:2 is not a JSON object")):
        read_records(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match=re.escape("GSM8K records need the fields 'question' and 'answer'")):
        GSM8K(DATA / "math_sample.jsonl")
    with pytest.raises(ValueError, match=re.escape("task 'gsm8k' reads a local dataset file")):
        make_task("gsm8k")


def test_gsm8k_reads_the_final_number_of_references_and_completions():
    assert extract_answer("so 3 * 4 = 12 pencils.\n#### 12") == "12"
    assert extract_answer("She has $1,200 left.") == "1200"
    assert extract_answer(r"The answer is \boxed{37}.") == "37"
    assert extract_answer("no number here") is None
    task = make_dataset_task("gsm8k", DATA / "gsm8k_sample.jsonl")
    reference = read_records(DATA / "gsm8k_sample.jsonl")[6]["answer"]  # #### 850
    scores = task.score(["1200 - 350 = 850. #### 850", "She has 850.0 dollars left.", "#### 851", ""],
                        [reference] * 4)  # fmt: skip
    assert scores.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_math_answers_are_compared_after_normalisation_or_by_sympy():
    assert last_boxed(r"a \boxed{1} b \boxed{\frac{a}{b^{2}}} c") == r"\frac{a}{b^{2}}"
    assert math_equivalent(r"\dfrac{5}{6}", r"\frac56")
    assert math_equivalent("0.25", r"\frac{1}{4}")
    assert math_equivalent(r"2\sqrt{2}", r"\sqrt{8}")
    assert math_equivalent("120", r"120^\circ")
    assert math_equivalent("x = 4", "4")
    assert not math_equivalent(r"\frac{1}{3}", r"\frac{1}{4}")
    assert not math_equivalent(None, "4")
    task = make_dataset_task("math", DATA / "math_sample.jsonl")
    solutions = [r["solution"] for r in read_records(DATA / "math_sample.jsonl")]
    assert task.score([r"It is \boxed{\dfrac{5}{6}}", r"\boxed{\sqrt{8}}", "so x is 4", r"\boxed{7}"],
                      solutions[:4]).tolist() == [1.0, 1.0, 1.0, 0.0]  # fmt: skip


def test_prompts_split_by_hash_or_by_file_and_are_sampled_without_repeats():
    task = MATH(DATA / "math_sample.jsonl")
    for split, items in task.items.items():
        assert all(split_of(question_of(prompt)) == split for prompt, _ in items)
    everything = MATH(DATA / "math_sample.jsonl", file_split="eval")
    assert len(everything.items["eval"]) == 6 and not everything.items["train"]
    prompts, references = everything.sample(6, np.random.default_rng(0), "eval")
    assert len(set(prompts)) == 6 and all(r"\boxed" in reference for reference in references)
    assert everything.sample(6, np.random.default_rng(0), "eval") == (prompts, references)
    assert prompts[0].endswith(r"Please reason step by step, and put your final answer within \boxed{}.")
    with pytest.raises(ValueError, match=re.escape("has 0 train prompts, fewer than the 1 asked for")):
        everything.sample(1, np.random.default_rng(0), "train")


def question_of(prompt: str) -> str:
    return prompt.rsplit("\n", 1)[0]


def test_few_shot_examples_come_from_the_train_split_and_are_never_served():
    task = GSM8K(DATA / "gsm8k_sample.jsonl", few_shot=2)
    records = read_records(DATA / "gsm8k_sample.jsonl")
    shots = [r for r in records if split_of(r["question"]) == "train"][:2]
    prompts = task.prompts
    assert len(prompts) == len(records) - 2
    assert all(p.startswith(f"Question: {shots[0]['question']}\nAnswer: {shots[0]['answer']}\n\n") for p in prompts)
    assert not any(p.split("\n\n")[-1].startswith(shot["question"]) for p in prompts for shot in shots)
    with pytest.raises(ValueError, match=re.escape("few_shot=9 needs that many train records")):
        GSM8K(DATA / "gsm8k_sample.jsonl", few_shot=9)


def test_prompt_lengths_are_counted_in_the_models_tokens():
    task = GSM8K(DATA / "gsm8k_sample.jsonl")
    lengths = sorted(len(WordCodec().encode_prompt(p)) for p in task.prompts)
    assert task.fit_to_model(WordCodec()).max_prompt_length == lengths[-1]
    with pytest.raises(ValueError, match=re.escape(f"max_prompt_length={lengths[-2]} is shorter than 1 GSM8K prompts "
                                                   f"(the longest has {lengths[-1]} tokens")):  # fmt: skip
        task.fit_to_model(WordCodec(), lengths[-2])
    fitted = task.fit_to_model(WordCodec(), lengths[2], skip_long_prompts=True)
    assert fitted.skipped_prompts == sum(length > lengths[2] for length in lengths)
    assert len(fitted.prompts) == 8 - fitted.skipped_prompts and fitted.max_prompt_length == lengths[2]
    assert len(task.prompts) == 8  # the original is untouched


def test_parquet_and_arrow_files_of_a_datasets_copy_read_like_jsonl(tmp_path):
    pytest.importorskip("pyarrow")  # not a dependency: reading parquet/Arrow needs it (pip install pyarrow)
    import pyarrow
    import pyarrow.ipc
    import pyarrow.parquet

    records = read_records(DATA / "gsm8k_sample.jsonl")
    table = pyarrow.Table.from_pylist(records)
    pyarrow.parquet.write_table(table, tmp_path / "test-00000-of-00001.parquet")
    cache = tmp_path / "cache"  # the datasets cache keeps Arrow IPC streams
    cache.mkdir()
    with pyarrow.ipc.new_stream(str(cache / "gsm8k-test.arrow"), table.schema) as writer:
        writer.write_table(table)
    assert read_records(tmp_path / "test-00000-of-00001.parquet") == records
    assert read_records(cache) == records
    assert GSM8K(cache, file_split="eval").prompts == GSM8K(DATA / "gsm8k_sample.jsonl", file_split="eval").prompts


def test_save_to_disk_folders_read_without_the_datasets_package():
    # tests/data/gsm8k_save_to_disk*: written by datasets 5.2.0's Dataset/DatasetDict.save_to_disk (6 GSM8K-format
    # rows; the dict's train split holds rows 0-2, its test split rows 3-5)
    pytest.importorskip("pyarrow")
    rows = [{"question": f"What is {a} + {a + 3}?", "answer": f"{a} + {a + 3} = {2 * a + 3}\n#### {2 * a + 3}"}
            for a in range(6)]  # fmt: skip
    assert read_records(DATA / "gsm8k_save_to_disk") == rows
    assert read_records(DATA / "gsm8k_save_to_disk_dict") == rows[3:]  # the test split, as the papers evaluate
    task = GSM8K(DATA / "gsm8k_save_to_disk", file_split="eval")
    assert [prompt.split("\n")[0] for prompt in task.prompts] == [row["question"] for row in rows]
