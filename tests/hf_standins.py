"""Builds tiny transformers model folders offline: a byte-level BPE tokenizer with a chat template, and models.

``standin_folder(path, "llada")`` writes what a LLaDA or Dream download holds (config with ``auto_map``, the
modeling file, weights, tokenizer, generation config), with our own stand-in modeling code
(``hf_standin_modeling.py``); ``masked_lm_folder(path)`` writes a tiny random ``BertForMaskedLM``.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

MODELING_FILE = Path(__file__).parent / "hf_standin_modeling.py"
SPECIAL_TOKENS = ["<|endoftext|>", "<|eot_id|>", "<|mdm_mask|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|startoftext|>", "[MASK]"]  # fmt: skip
# LLaDA's chat format: a user turn, then the assistant header; the answer follows it.
CHAT_TEMPLATE = (
    "<|startoftext|>{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
TRAINING_TEXT = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May? The answer is 72. #### 72",
    "What is the value of \\frac{1}{2} + \\frac{1}{3}? The answer is \\boxed{\\frac{5}{6}}.",
    "0123456789 + - * / = ( ) [ ] $ , . ? ! step by step Let's think",
]


def needs_remote_code_support(families: tuple[str, ...] = ("llada", "dream")) -> None:
    """Skips where the backend refuses one of ``families``' remote code on the installed transformers (Dream on 5.x).

    Ask only for the families a test builds: a LLaDA test runs wherever LLaDA is supported (5.x included, through
    ``hf_patches``). The refusal itself is tested on every version
    (``test_clear_errors_for_bad_folders_families_and_versions``).
    """
    import pytest
    import transformers

    from unmask_gym.models.hf_support import check_transformers_version

    for family in families:
        try:
            check_transformers_version(family, transformers.__version__)
        except ValueError:
            pytest.skip(f"{family} models are refused on transformers {transformers.__version__}")


def make_tokenizer(folder: str | Path, chat_template: bool = True, mask_token: str | None = None) -> Any:
    """Trains a ~300-token byte-level BPE tokenizer in memory and saves it to ``folder``; returns it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    core.train_from_iterator(TRAINING_TEXT, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                        bos_token="<|startoftext|>", mask_token=mask_token)  # fmt: skip
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def standin_module() -> Any:
    """Our LLaDA/Dream stand-in modeling module (``hf_standin_modeling.py``), imported by path."""
    spec = importlib.util.spec_from_file_location("hf_standin_modeling", MODELING_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["hf_standin_modeling"] = module
    spec.loader.exec_module(module)
    return module


def standin_folder(folder: str | Path, family: str, seed: int = 0, **flags: Any) -> Path:
    """A LLaDA (``family="llada"``) or Dream (``"dream"``) stand-in saved like a hub download; returns the folder."""
    from transformers import GenerationConfig

    from unmask_gym.models.hf_self_test import save_without_generation_config

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tokenizer(folder)
    module = standin_module()
    config_class, model_class = {
        "llada": (module.LLaDAStandInConfig, module.LLaDAStandIn),
        "dream": (module.DreamStandInConfig, module.DreamStandIn),
    }[family]
    eos = tokenizer.eos_token_id
    config = config_class(mask_token_id=tokenizer.convert_tokens_to_ids("<|mdm_mask|>"), eos_token_id=eos,
                          pad_token_id=eos, **flags)  # fmt: skip
    config_class.register_for_auto_class()
    model_class.register_for_auto_class("AutoModel")
    torch.manual_seed(seed)
    save_without_generation_config(model_class(config), str(folder))  # written below, as the hub folder has it
    if family == "dream":  # Dream's folder has one, with mask_token_id null (read it from the model config)
        GenerationConfig(eos_token_id=eos, pad_token_id=eos, bos_token_id=eos, mask_token_id=None).save_pretrained(
            str(folder))  # fmt: skip
    shutil.copy(MODELING_FILE, folder / MODELING_FILE.name)
    return folder


def masked_lm_folder(folder: str | Path, seed: int = 0, chat_template: bool = False) -> Path:
    """A tiny random ``BertForMaskedLM`` (absolute positions) with the tiny tokenizer; returns the folder."""
    from transformers import BertConfig, BertForMaskedLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tokenizer(folder, chat_template=chat_template, mask_token="[MASK]")
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
                        initializer_range=0.5)  # fmt: skip
    torch.manual_seed(seed)
    BertForMaskedLM(config).save_pretrained(str(folder))
    return folder
