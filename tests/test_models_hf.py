"""The transformers backend on our tiny stand-ins for LLaDA and Dream and on a tiny random BERT (``hf`` tier)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import gymnasium as gym
import pytest
import torch

from unmask_gym.evaluation import evaluate
from unmask_gym.heuristics import fast_dllm_threshold
from unmask_gym.models.codec import decode_answer, encode_prompt

pytestmark = pytest.mark.hf
transformers = pytest.importorskip("transformers")

from hf_standins import masked_lm_folder, needs_remote_code_support, standin_folder  # noqa: E402

from unmask_gym.models.hf import HFDiffusionLM, load_hf_model  # noqa: E402
from unmask_gym.models.hf_self_test import SelfTestError  # noqa: E402

GSM8K_SAMPLE = Path(__file__).parent / "data" / "gsm8k_sample.jsonl"
FAMILIES = ("llada", "dream", "masked_lm")


class Folders(dict):
    """Family -> a saved tiny model, built on first use; the LLaDA and Dream stand-ins share their encoder weights."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, family: str) -> Path:
        if family == "masked_lm":
            self[family] = masked_lm_folder(self.root / "bert")
        else:
            needs_remote_code_support((family,))
            self[family] = standin_folder(self.root / family, family)
        return self[family]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Folders:
    """The tiny model folders of this module."""
    return Folders(tmp_path_factory.mktemp("hf"))


def load(folders: Folders, family: str) -> HFDiffusionLM:
    return load_hf_model(folders[family], trust_remote_code=family != "masked_lm")


def make_vec(folders: Folders, family: str, num_envs: int = 3, **kwargs) -> gym.vector.VectorEnv:
    kwargs.setdefault("split", "eval")  # the sample file is all eval prompts (file_split)
    return gym.make_vec("UnmaskGym/HF-v0", num_envs=num_envs, vectorization_mode="vector_entry_point",
                        model=str(folders[family]), trust_remote_code=family != "masked_lm", task="gsm8k",
                        dataset=str(GSM8K_SAMPLE), file_split="eval", device="cpu", **kwargs)  # fmt: skip


@pytest.mark.parametrize("family", FAMILIES)
def test_full_episodes_run_through_make_vec_with_a_heuristic_on_gsm8k(folders, family):
    envs = make_vec(folders, family, answer_length=8, block_length=4, num_prompts=8)
    env = envs.unwrapped
    assert env.task.name == "GSM8K" and env.model.family == family
    assert env.prompt_length == max(len(encode_prompt(env.model, p)) for p in env.task.prompts)  # tokens, templated
    result = evaluate(envs, fast_dllm_threshold(0.9), seed=0)
    assert result.episodes == 8 and sorted(r["prompt_id"] for r in result.records) == list(range(8))
    assert all(2 <= r["nfe"] <= 8 for r in result.records)  # two 4-token blocks: at least one pass each
    assert all(isinstance(r["completion"], str) for r in result.records)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_first_observation_is_the_backends_prediction_for_each_unpadded_row(folders, family):
    envs = make_vec(folders, family, answer_length=8, block_length=None)
    obs, _ = envs.reset(seed=1)
    env = envs.unwrapped
    for row in range(envs.num_envs):
        ids = encode_prompt(env.model, env._book.prompts[row]) + [env.model.mask_token_id] * 8
        logits = env.model.logits(torch.tensor([ids]), None, torch.arange(len(ids) - 8, len(ids)))[0]
        probabilities = logits.float().softmax(-1)
        assert torch.equal(obs["pred_token"][row], logits.argmax(-1))
        torch.testing.assert_close(obs["confidence"][row], probabilities.max(-1).values, atol=1e-5, rtol=1e-4)


def test_dream_logits_are_read_one_column_early(folders):
    dream, llada = load(folders, "dream"), load(folders, "llada")
    ids = torch.tensor([encode_prompt(dream, "What is 2 + 3?") + [dream.mask_token_id] * 4])
    answer = torch.arange(ids.shape[1] - 4, ids.shape[1])
    raw = dream.model(input_ids=ids).logits  # (1, T, V): column i - 1 predicts position i
    predicted = dream.logits(ids, None, answer)
    torch.testing.assert_close(predicted, raw[:, answer - 1])
    assert not torch.allclose(predicted, raw[:, answer])  # reading column i would be another prediction
    # The stand-ins share an encoder: the prediction for position i, undone shift included, is LLaDA's.
    torch.testing.assert_close(predicted, llada.logits(ids, None, answer))


@pytest.mark.parametrize("family", FAMILIES)
def test_a_left_padded_row_gets_the_same_logits_as_alone(folders, family):
    model = load(folders, family)
    short = encode_prompt(model, "1 + 1?") + [model.mask_token_id] * 4
    long = encode_prompt(model, "Natalia sold clips to 48 of her friends. How many?") + [model.mask_token_id] * 4
    pad = len(long) - len(short)
    tokens = torch.tensor([[model.pad_token_id] * pad + short, long])
    attention = torch.ones_like(tokens, dtype=torch.bool)
    attention[0, :pad] = False
    answer = torch.arange(len(long) - 4, len(long))
    batched = model.logits(tokens, attention, answer)
    alone = model.logits(torch.tensor([short]), None, torch.arange(len(short) - 4, len(short)))
    torch.testing.assert_close(batched[0], alone[0], atol=1e-4, rtol=1e-4)
    if family == "masked_lm":  # BERT's absolute positions: without position ids the padding would shift them
        unshifted = model.model(input_ids=tokens, attention_mask=attention.long()).logits[0, answer]
        assert (unshifted - alone[0]).abs().max() > 1e-2


def test_observe_hidden_gives_the_states_the_lm_head_reads(folders):
    envs = make_vec(folders, "dream", num_envs=2, answer_length=8, block_length=None, observe_hidden=True)
    obs, _ = envs.reset(seed=0)
    model = envs.unwrapped.model
    assert obs["hidden"].shape == (2, 8, model.hidden_size)
    head = model.head  # the vocabulary projection: its input is the observed state
    logits = head(obs["hidden"].to(head.weight.dtype))
    assert torch.equal(logits.argmax(-1), obs["pred_token"])


def test_only_the_answer_columns_reach_the_lm_head(folders):
    model = load(folders, "llada")
    seen = []
    handle = model.head.register_forward_hook(lambda module, args, output: seen.append(tuple(output.shape)))
    ids = torch.tensor([encode_prompt(model, "2 + 2?") + [model.mask_token_id] * 5])
    logits = model.logits(ids, None, torch.arange(ids.shape[1] - 5, ids.shape[1]))
    handle.remove()
    assert seen == [(1, 5, model.vocab_size)] and logits.shape == (1, 5, model.vocab_size)
    torch.testing.assert_close(logits, model.model(input_ids=ids).logits[:, -5:])


@pytest.mark.parametrize("family", FAMILIES)
def test_decoding_stops_at_the_first_end_token_and_drops_special_tokens(folders, family):
    model = load(folders, family)
    text = model.tokenizer.encode("72 clips", add_special_tokens=False)
    end_of_turn = model.tokenizer.convert_tokens_to_ids("<|eot_id|>")
    assert end_of_turn in model.end_token_ids and model.tokenizer.eos_token_id in model.end_token_ids
    after = model.tokenizer.encode(" more", add_special_tokens=False)
    assert decode_answer(model, [*text, model.mask_token_id, end_of_turn, *after]) == "72 clips"
    assert decode_answer(model, [*text, model.tokenizer.eos_token_id, *after]) == "72 clips"
    assert decode_answer(model, text + after) == "72 clips more"


def test_a_prompt_longer_than_max_prompt_length_is_refused_at_construction(folders):
    message = "max_prompt_length=20 is shorter than 8 GSM8K prompts (the longest has"
    with pytest.raises(ValueError, match=re.escape(message)):
        make_vec(folders, "llada", answer_length=8, block_length=4, max_prompt_length=20)


def test_skip_long_prompts_drops_and_counts_the_prompts_over_the_limit(folders):
    model = load(folders, "llada")
    from unmask_gym.tasks import make_dataset_task

    task = make_dataset_task("gsm8k", GSM8K_SAMPLE, file_split="eval")
    lengths = sorted(len(encode_prompt(model, prompt)) for prompt in task.prompts)
    limit = lengths[3]
    envs = make_vec(folders, "llada", answer_length=8, block_length=4, max_prompt_length=limit,
                    skip_long_prompts=True)  # fmt: skip
    kept = envs.unwrapped.task
    assert kept.skipped_prompts == sum(length > limit for length in lengths) > 0
    assert len(kept.prompts) == 8 - kept.skipped_prompts and envs.unwrapped.prompt_length == limit
    envs.reset(seed=0)


def test_the_self_test_catches_a_model_that_ignores_its_attention_mask(tmp_path):
    needs_remote_code_support(("llada",))
    folder = standin_folder(tmp_path / "old_llada", "llada", ignores_attention_mask=True)
    with pytest.raises(SelfTestError, match=re.escape("a left-padded row predicts differently from the same row")):
        HFDiffusionLM.from_pretrained(folder, trust_remote_code=True)


def test_the_self_test_catches_a_model_that_loading_does_not_restore(tmp_path):
    needs_remote_code_support(("dream",))
    folder = standin_folder(tmp_path / "bad_dream", "dream", random_buffer_at_load=True)
    with pytest.raises(SelfTestError, match=re.escape("the model saved and loaded again predicts differently")):
        HFDiffusionLM.from_pretrained(folder, trust_remote_code=True)


def test_clear_errors_for_bad_folders_families_and_versions(folders, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=re.escape("no model config at")):
        HFDiffusionLM.from_pretrained(tmp_path / "missing")
    no_tokenizer = tmp_path / "no_tokenizer"
    shutil.copytree(folders["masked_lm"], no_tokenizer)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (no_tokenizer / name).unlink(missing_ok=True)
    with pytest.raises(ValueError, match=re.escape("no tokenizer at")):
        HFDiffusionLM.from_pretrained(no_tokenizer)
    with pytest.raises(ValueError, match=re.escape("family must be one of ('llada', 'dream', 'masked_lm')")):
        HFDiffusionLM.from_pretrained(folders["masked_lm"], family="gpt")
    remote = tmp_path / "remote"  # a LLaDA/Dream download's config; the checks come before any code runs
    remote.mkdir()
    (remote / "config.json").write_text('{"model_type": "Dream", "auto_map": {"AutoModel": "modeling_dream.Dream"}}')
    monkeypatch.setattr("unmask_gym.models.hf.transformers_version", lambda: "4.57.6")
    with pytest.raises(ValueError, match=re.escape("family 'dream' runs the modeling code that ships with its")):
        HFDiffusionLM.from_pretrained(remote)
    monkeypatch.setattr("unmask_gym.models.hf.transformers_version", lambda: "5.3.0")
    with pytest.raises(ValueError, match=re.escape("which works with transformers 4.46 to 4.57; this is "
                                                   "transformers 5.3.0")):  # fmt: skip
        HFDiffusionLM.from_pretrained(remote, trust_remote_code=True)
    (remote / "config.json").write_text('{"model_type": "llada", "auto_map": {"AutoModel": "modeling_llada.L"}}')
    monkeypatch.setattr("unmask_gym.models.hf.transformers_version", lambda: "5.0.0")  # before the patches' range
    with pytest.raises(ValueError, match=re.escape("which works with transformers 4.46 to 4.57, or 5.1 and later; "
                                                   "this is transformers 5.0.0")):  # fmt: skip
        HFDiffusionLM.from_pretrained(remote, trust_remote_code=True)


def test_a_model_without_a_mask_token_is_refused(tmp_path):
    folder = masked_lm_folder(tmp_path / "bert")
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    tokenizer.mask_token = None
    tokenizer.save_pretrained(folder)
    with pytest.raises(ValueError, match=re.escape("has no mask token: neither its config's mask_token_id nor")):
        HFDiffusionLM.from_pretrained(folder)


def test_a_shipped_policy_trained_on_a_built_in_dllm_runs_on_a_transformers_model(folders):
    from unmask_gym.agents import load_policy

    policy = load_policy("statetracking-full-a3")  # trained on a built-in dLLM, sees only features
    envs = make_vec(folders, "dream", answer_length=8, block_length=None, num_prompts=8)
    result = evaluate(envs, policy, seed=0)
    assert result.episodes == 8 and all(1 <= r["nfe"] <= 8 for r in result.records)
    # How many it commits per pass depends on the features: a random stand-in is unsure everywhere, and the shipped
    # policies then commit about one token per pass (on the model they were trained on, several).


def test_the_single_env_id_plays_an_episode(folders):
    env = gym.make("UnmaskGym/HF-v0", model=str(folders["llada"]), trust_remote_code=True, task="gsm8k",
                   dataset=str(GSM8K_SAMPLE), answer_length=8, block_length=4, device="cpu")  # fmt: skip
    obs, _ = env.reset(seed=0)
    terminated, steps = False, 0
    while not terminated:
        obs, _, terminated, _, info = env.step(obs["action_mask"].astype("int8"))  # the whole block at once
        steps += 1
    assert steps == 2 and isinstance(info["completion"], str) and env.unwrapped.task.name == "GSM8K"


def test_load_model_routes_a_transformers_folder_to_the_hf_backend(tmp_path):
    from unmask_gym.models import load_model

    folder = masked_lm_folder(tmp_path / "bert")
    model = load_model(folder)
    assert isinstance(model, HFDiffusionLM) and load_model(str(folder)) is not None
    assert load_model(folder) is model  # cached like the built-in ones
    llada = standin_folder(tmp_path / "llada", "llada") if transformers_major() < 5 else None
    if llada is not None:
        with pytest.raises(ValueError, match="trust_remote_code"):
            load_model(llada)


def transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def test_a_masked_lms_hidden_observation_is_what_its_prediction_head_projects(folders):
    envs = make_vec(folders, "masked_lm", num_envs=2, answer_length=8, block_length=None, observe_hidden=True)
    bert = envs.unwrapped.model.model
    seen = {}
    hooks = [bert.cls.predictions.transform.register_forward_hook(lambda m, a, out: seen.update(transformed=out)),
             bert.bert.register_forward_hook(lambda m, a, out: seen.update(last=out[0]))]  # fmt: skip
    obs, _ = envs.unwrapped.reset(seed=0)
    for hook in hooks:
        hook.remove()
    torch.testing.assert_close(obs["hidden"], seen["transformed"][:, -8:].float())  # BERT: dense, activation, norm
    assert not torch.allclose(obs["hidden"], seen["last"][:, -8:].float())  # not the encoder's raw last layer


@pytest.mark.parametrize("family", ["llada", "dream"])
def test_remote_code_is_registered_for_saving_where_transformers_does_not(folders, family, monkeypatch):
    # Before 4.53 a remote-code model loads with _auto_class None, so save_pretrained leaves modeling_*.py out and
    # the self-test's reload of a small checkpoint fails (seen with LLaDA's and Dream's hub code on 4.46 and 4.51).
    import transformers

    original, calls = transformers.AutoModel.from_pretrained, []

    def as_before_4_53(*args, **kwargs):
        model = original(*args, **kwargs)
        if not calls:  # the first load; the self-test's reload finds the class as the backend left it
            type(model)._auto_class = None
        calls.append(args)
        return model

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", as_before_4_53)
    backend = HFDiffusionLM.from_pretrained(folders[family], trust_remote_code=True)  # not the cached load
    assert type(backend.model)._auto_class == "AutoModel" and len(calls) == 2  # loaded, then saved and reloaded


def test_a_dream_checkpoint_under_200m_parameters_loads_with_its_own_generation_config(folders):
    # Dream's generation config subclass takes no validate(strict=...), which save_pretrained passes on 4.52-4.57:
    # the self-test's save/reload saves a default config instead and gives the model its own back.
    dream = load(folders, "dream")
    assert type(dream.model.generation_config).__name__ == "DreamStandInGenerationConfig"
    with pytest.raises(TypeError, match="strict"):  # what the self-test avoids (where transformers passes strict)
        dream.model.generation_config.validate(strict=True)


def test_a_sync_free_env_scores_gsm8k_on_the_host_and_gives_the_host_steered_episodes(folders):
    from test_validation import assert_tree_equal

    runs = []
    for sync_free in (False, True):
        envs = make_vec(folders, "llada", num_envs=4, answer_length=8, block_length=4, sync_free=sync_free)
        assert envs.unwrapped._scores_on_device is False  # a text verifier: the host scores it
        obs, info = envs.reset(seed=0)
        policy, run = fast_dllm_threshold(0.7), [(obs, info)]
        for _ in range(20):  # past the first episodes' ends (8 passes each at most)
            run.append(envs.step(policy(obs)))
            obs = run[-1][0]
        runs.append(run)
    assert_tree_equal(runs[1], runs[0])
    completions = [text for result in runs[0][1:] if "final_info" in result[4]
                   for text in result[4]["final_info"]["completion"] if text is not None]  # fmt: skip
    assert len(completions) >= 8 and all(isinstance(text, str) for text in completions)
