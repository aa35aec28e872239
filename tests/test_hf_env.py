"""``UnmaskGym/HF-v0``'s own arguments are checked before any model loads (no transformers needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from unmask_gym.hf_env import build_hf_model_and_task
from unmask_gym.registration import HF_ID
from unmask_gym.tasks import GSM8K

GSM8K_SAMPLE = Path(__file__).parent / "data" / "gsm8k_sample.jsonl"


def test_bad_task_dataset_and_dtype_arguments_are_refused_before_loading():
    with pytest.raises(ValueError, match=re.escape("task must be one of ('gsm8k', 'math') or a Task object, got 'mm")):
        build_hf_model_and_task(model="nowhere", task="mmlu", dataset=GSM8K_SAMPLE)
    with pytest.raises(ValueError, match=re.escape("task 'gsm8k' reads its prompts from a local file: pass dataset=")):
        build_hf_model_and_task(model="nowhere", task="gsm8k")
    with pytest.raises(ValueError, match=re.escape("dtype must be one of ('float32', 'bfloat16', 'float16')")):
        build_hf_model_and_task(model="nowhere", task="gsm8k", dataset=GSM8K_SAMPLE, dtype="half")


def test_bad_dataset_task_options_are_refused():
    with pytest.raises(ValueError, match=re.escape("few_shot must be an int >= 0, got -1")):
        GSM8K(GSM8K_SAMPLE, few_shot=-1)
    with pytest.raises(ValueError, match=re.escape("split must be one of ('train', 'eval'), got 'test'")):
        GSM8K(GSM8K_SAMPLE, file_split="test")


def test_the_hf_id_is_registered_with_both_entry_points():
    import gymnasium as gym

    spec = gym.spec(HF_ID)
    assert spec.entry_point == "unmask_gym.hf_env:make_hf_env"
    assert spec.vector_entry_point == "unmask_gym.hf_env:make_hf_vector_env"
