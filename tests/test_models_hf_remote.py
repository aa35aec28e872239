"""The backend on LLaDA's and Dream's real hub modeling code, when a local folder holds it (``hf`` tier, opt-in).

The third-party ``*.py`` files are never part of this repository. To run these tests, put them in a folder and
name it: ``UNMASK_GYM_LLADA_CODE`` (``configuration_llada.py``, ``modeling_llada.py``) and/or
``UNMASK_GYM_DREAM_CODE`` (``configuration_dream.py``, ``modeling_dream.py``, ``generation_utils.py``). Each test
builds a tiny random model from the shared fixture config (``UNMASK_GYM_FIXTURES``, default
``../shared/fixtures`` beside the repository, or the code folder's own ``config.json``), loads it through
``HFDiffusionLM`` (self-test included) and runs episodes of ``UnmaskGym/HF-v0`` on it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import gymnasium as gym
import pytest
import torch

pytestmark = pytest.mark.hf
pytest.importorskip("transformers")

from hf_standins import make_tokenizer, needs_remote_code_support  # noqa: E402  (needs transformers)

from unmask_gym.evaluation import evaluate  # noqa: E402
from unmask_gym.heuristics import fast_dllm_threshold  # noqa: E402
from unmask_gym.models.codec import encode_prompt  # noqa: E402
from unmask_gym.models.hf import HFDiffusionLM  # noqa: E402

GSM8K_SAMPLE = Path(__file__).parent / "data" / "gsm8k_sample.jsonl"
CODE_VARIABLES = {"llada": "UNMASK_GYM_LLADA_CODE", "dream": "UNMASK_GYM_DREAM_CODE"}


def fixture_config(family: str, code: Path) -> dict:
    """The tiny config: the code folder's own, else the shared fixtures' (skips when neither exists)."""
    candidates = [code / "config.json"]
    fixtures = os.environ.get("UNMASK_GYM_FIXTURES")
    root = Path(fixtures) if fixtures else Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
    candidates.append(root / family / "config.json")
    for path in candidates:
        if path.exists():
            return json.loads(path.read_text())
    pytest.skip(f"no tiny {family} config.json in {[str(p) for p in candidates]}")


def remote_folder(tmp_path: Path, family: str) -> Path:
    """A folder like a hub download: the real code, the tiny config with our tokenizer's ids, random weights."""
    variable = CODE_VARIABLES[family]
    if not os.environ.get(variable):
        pytest.skip(f"{variable} does not name a folder holding {family}'s hub modeling code")
    needs_remote_code_support((family,))
    code = Path(os.environ[variable])
    folder = tmp_path / family
    folder.mkdir()
    for file in code.glob("*.py"):
        shutil.copy(file, folder / file.name)
    tokenizer = make_tokenizer(folder)
    config = fixture_config(family, code)
    mask = tokenizer.convert_tokens_to_ids("<|mdm_mask|>")
    eos = tokenizer.eos_token_id
    config.update(mask_token_id=mask, eos_token_id=eos, pad_token_id=eos)
    if family == "llada":
        config["init_device"] = "cpu"  # the hub config builds on the meta device, for from_pretrained only
    else:
        config["bos_token_id"] = eos
        generation = {"eos_token_id": eos, "pad_token_id": eos, "bos_token_id": eos, "mask_token_id": None}
        (folder / "generation_config.json").write_text(json.dumps(generation))
    (folder / "config.json").write_text(json.dumps(config))
    import transformers

    model_config = transformers.AutoConfig.from_pretrained(folder, trust_remote_code=True)
    torch.manual_seed(0)
    model = transformers.AutoModel.from_config(model_config, trust_remote_code=True, torch_dtype=torch.float32)
    model.save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps(config))  # save_pretrained rewrote it; keep the hub's form
    return folder


@pytest.mark.parametrize("family", ["llada", "dream"])
def test_the_real_hub_code_loads_passes_the_self_test_and_plays_episodes(tmp_path, family):
    folder = remote_folder(tmp_path, family)
    model = HFDiffusionLM.from_pretrained(folder, trust_remote_code=True)  # runs the self-test
    assert model.family == family and model.mask_token_id == model.tokenizer.convert_tokens_to_ids("<|mdm_mask|>")
    ids = torch.tensor([encode_prompt(model, "What is 2 + 3?") + [model.mask_token_id] * 4])
    answer = torch.arange(ids.shape[1] - 4, ids.shape[1])
    raw = model.model(input_ids=ids, use_cache=False).logits
    read = answer - 1 if family == "dream" else answer  # Dream: column i - 1 predicts position i
    torch.testing.assert_close(model.logits(ids, None, answer).float(), raw[:, read].float())
    envs = gym.make_vec("UnmaskGym/HF-v0", num_envs=3, vectorization_mode="vector_entry_point", model=model,
                        task="gsm8k", dataset=str(GSM8K_SAMPLE), file_split="eval", split="eval", num_prompts=8,
                        answer_length=8, block_length=4, device="cpu")  # fmt: skip
    result = evaluate(envs, fast_dllm_threshold(0.9), seed=0)
    assert result.episodes == 8 and all(2 <= r["nfe"] <= 8 for r in result.records)
