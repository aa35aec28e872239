"""A ``DiffusionLM`` over a transformers model: LLaDA, Dream and any ``AutoModelForMaskedLM``, from local files.

Shapes: N rows, T canvas columns, S selected (answer) columns, V vocabulary, D hidden size.

The backend reads the mask, end and padding ids, the tokenizer and its chat template from the model's own files,
feeds each family the attention format it expects (``hf_support.py`` lists them), undoes Dream's one-position logit
shift, and runs the LM head only on the answer columns: a pre-forward hook on the output projection selects those
hidden states, so a 126k-token vocabulary is never projected for prompt positions. Nothing downloads unless
``allow_download=True``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from unmask_gym.models.hf_patches import patch_loaded_model, patch_model_class, remote_model_class
from unmask_gym.models.hf_self_test import run_self_test
from unmask_gym.models.hf_support import (
    REMOTE_CODE_FAMILIES,
    check_transformers_version,
    detect_family,
    import_transformers,
    needs_v5_patches,
    transformers_version,
    version_tuple,
)
from unmask_gym.tasks.tokenizer import MASK_DISPLAY

END_OF_TURN_TOKENS = ("<|eot_id|>", "<|im_end|>", "<|endoftext|>", "<|end_of_text|>")  # LLaDA, Dream/Qwen, GPT
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.txt", "vocab.json")
_CACHE: dict[tuple[Any, ...], HFDiffusionLM] = {}


class HFDiffusionLM:
    """A transformers model seen through the ``DiffusionLM`` protocol (plus the codec's encode/decode methods).

    Build it with ``HFDiffusionLM.from_pretrained(path)`` (or ``load_hf_model``, which caches per process). The
    constructor takes an already loaded model and tokenizer.

    Args:
        model: a transformers model whose forward returns ``.logits`` (N, T, V).
        tokenizer: its tokenizer (``PreTrainedTokenizerBase``).
        family: ``"llada"``, ``"dream"`` or ``"masked_lm"`` (see ``hf_support``).
        chat_template: wrap prompts in the tokenizer's chat template (a user turn plus the assistant header), as
            instruct models expect; ignored when the tokenizer has none.
        end_token_ids: ids that end an answer; default: EOS, end-of-turn tokens found in the vocabulary and the
            generation config's EOS ids (BERT-style models: ``[SEP]``).
    """

    def __init__(self, model: Any, tokenizer: Any, family: str, *, chat_template: bool = True,
                 end_token_ids: Iterable[int] | None = None) -> None:  # fmt: skip
        self.model, self.tokenizer, self.family = model, tokenizer, detect_family({}, family)
        self.name = str(getattr(model.config, "name_or_path", "") or type(model).__name__)  # what checkpoints record
        self.use_chat_template = bool(chat_template) and bool(getattr(tokenizer, "chat_template", None))
        config = model.config
        mask = getattr(config, "mask_token_id", None)
        if mask is None:  # Dream's generation config says null; the tokenizer may still know it
            mask = tokenizer.mask_token_id
        if mask is None:
            raise ValueError(
                f"model {getattr(config, 'name_or_path', '?')!r} has no mask token: neither its config's "
                "mask_token_id nor its tokenizer's mask_token is set; a masked diffusion LM needs one"
            )
        self.mask_token_id = int(mask)
        self.end_token_ids = frozenset(int(i) for i in end_token_ids) if end_token_ids is not None else _end_ids(
            model, tokenizer)  # fmt: skip
        if not self.end_token_ids:
            raise ValueError("the tokenizer names no end token (eos_token or sep_token); pass end_token_ids")
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else getattr(config, "pad_token_id", None)
        self.pad_token_id = int(pad) if pad is not None else min(self.end_token_ids)
        self.head = model.get_output_embeddings()
        self.vocab_size = int(self.head.out_features if isinstance(self.head, torch.nn.Linear) else config.vocab_size)
        self.hidden_size = int(self.head.in_features if isinstance(self.head, torch.nn.Linear) else config.hidden_size)
        positions = getattr(config, "max_position_embeddings", None) or getattr(config, "max_sequence_length", None)
        self.max_length = None if positions is None else int(positions) - _position_offset(model)  # RoBERTa: 2
        self.device = model.get_input_embeddings().weight.device
        self._takes_position_ids = "position_ids" in inspect.signature(model.forward).parameters
        self._position_offset = _position_offset(model)
        self._columns: torch.Tensor | None = None  # (S,) hidden columns the head projects during one forward
        self._captured: torch.Tensor | None = None  # (N, S, D) the head's input from the latest forward
        if isinstance(self.head, torch.nn.Linear):
            self.head.register_forward_pre_hook(self._select_columns)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, family: str | None = None, device: str | torch.device = "cpu",
                        dtype: torch.dtype | None = None, device_map: str | dict[str, Any] | None = None,
                        trust_remote_code: bool = False, allow_download: bool = False, chat_template: bool = True,
                        self_test: bool | None = None) -> HFDiffusionLM:  # fmt: skip
        """Loads a model and its tokenizer from a local folder (or the local Hugging Face cache).

        Args:
            path: a folder with ``config.json``, weights and tokenizer files, or a hub id already in the local cache.
            family: overrides the family read from ``config.json`` (``model_type``).
            device: where the model runs (ignored with ``device_map``).
            dtype: parameter dtype; default bf16 on a GPU that supports it (else fp16), fp32 on CPU.
            device_map: passed to ``from_pretrained`` (``"auto"`` spreads a large model over the GPUs; needs
                ``accelerate``).
            trust_remote_code: run the modeling code that ships with the weights (LLaDA and Dream need it).
            allow_download: let transformers download missing files (default: local files only).
            chat_template: wrap prompts in the tokenizer's chat template.
            self_test: run ``run_self_test`` after loading (default: for remote-code families; always for a
                model patched for transformers 5.x).

        Raises:
            ValueError: no config or tokenizer at ``path``, no mask token, an unknown family, remote code without
                ``trust_remote_code``, or a transformers version the family's remote code does not work with.
        """
        transformers = import_transformers()
        local = not allow_download
        if Path(path).expanduser().exists():
            path = Path(path).expanduser()
        try:
            config_dict, _ = transformers.PretrainedConfig.get_config_dict(str(path), local_files_only=local)
        except OSError as error:
            raise ValueError(f"no model config at {str(path)!r} (expected a folder with config.json, or a hub id in "
                             f"the local cache; allow_download=True fetches it): {error}") from None  # fmt: skip
        family = detect_family(config_dict, family)
        if family in REMOTE_CODE_FAMILIES:
            check_transformers_version(family, transformers_version())
            if not trust_remote_code:
                raise ValueError(f"family {family!r} runs the modeling code that ships with its weights in {path}; "
                                 "read it, then pass trust_remote_code=True")  # fmt: skip
        if Path(path).is_dir() and not any((Path(path) / name).exists() for name in TOKENIZER_FILES):
            raise ValueError(f"no tokenizer at {str(path)!r}: expected one of {TOKENIZER_FILES} next to config.json")
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(path), local_files_only=local, trust_remote_code=trust_remote_code
            )
        except (OSError, ValueError, TypeError, ImportError) as error:
            raise ValueError(f"no tokenizer at {str(path)!r} (expected tokenizer.json or tokenizer_config.json next "
                             f"to config.json): {error}") from None  # fmt: skip
        device = torch.device(device)
        if dtype is None:
            dtype = default_dtype(device)
        auto = transformers.AutoModelForMaskedLM if family == "masked_lm" else transformers.AutoModel
        dtype_key = "dtype" if _version_at_least(transformers.__version__, (4, 56)) else "torch_dtype"
        options = {"local_files_only": local, "trust_remote_code": trust_remote_code, dtype_key: dtype}
        if device_map is not None:
            options["device_map"] = device_map
        patched = needs_v5_patches(family, transformers_version())
        if patched:  # LLaDA's hub code on transformers 5.x (hf_patches.py), verified by the self-test below
            patch_model_class(remote_model_class(transformers, config_dict, path, local))
        model = auto.from_pretrained(str(path), **options).eval()
        if family in REMOTE_CODE_FAMILIES and getattr(type(model), "_auto_class", None) is None:
            # transformers < 4.53 does not register remote code for its auto class; save_pretrained (the
            # self-test's reload) would then leave modeling_*.py out of the folder it writes.
            type(model).register_for_auto_class(auto.__name__)
        if patched:
            patch_loaded_model(model)
        if device_map is None:
            model = model.to(device)
        backend = cls(model, tokenizer, family, chat_template=chat_template)
        if patched or (self_test if self_test is not None else family in REMOTE_CODE_FAMILIES):
            run_self_test(backend, reload=lambda folder: auto.from_pretrained(folder, **options).to(backend.device))
        return backend

    def encode_prompt(self, text: str) -> list[int]:
        """The prompt ids: a user turn in the chat template plus the assistant header, or the plain encoding."""
        if self.use_chat_template:
            ids = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True
            )
            return [int(i) for i in (ids["input_ids"] if isinstance(ids, Mapping) else ids)]
        return [int(i) for i in self.tokenizer(text)["input_ids"]]

    def decode_answer(self, ids: list[int]) -> str:
        """The text before the first end token, special tokens (masks included) dropped."""
        cut = next((index for index, token in enumerate(ids) if token in self.end_token_ids), len(ids))
        return str(self.tokenizer.decode(ids[:cut], skip_special_tokens=True))

    def decode_token(self, token: int) -> str:
        """One token's text (``_`` for the mask), for replays."""
        return MASK_DISPLAY if token == self.mask_token_id else str(self.tokenizer.decode([token]))

    @torch.inference_mode()
    def logits(
        self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predictions for ``positions`` (all columns if None) in one forward pass: (N, S, V) in the model dtype.

        Args:
            tokens: (N, T) int64 left-padded canvas.
            attention_mask: (N, T) bool, False on padding; None means no padding.
            positions: (S,) int64 columns whose predictions are returned.
        """
        return self._forward(tokens, attention_mask, positions)[0]

    @torch.inference_mode()
    def logits_and_hidden(
        self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None, positions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits (N, S, V), hidden (N, S, D))``: the hidden states the LM head reads for those positions."""
        return self._forward(tokens, attention_mask, positions, want_hidden=True)

    def _forward(self, tokens: torch.Tensor, attention_mask: torch.Tensor | None, positions: torch.Tensor | None,
                 want_hidden: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:  # fmt: skip
        tokens = tokens.to(self.device)
        positions = torch.arange(tokens.shape[1], device=self.device) if positions is None else positions
        positions = positions.to(self.device)
        # Dream was initialised from an autoregressive LM: column i - 1 predicts position i (its sampler's shift).
        columns = (positions - 1).clamp(min=0) if self.family == "dream" else positions  # (S,)
        hooked = isinstance(self.head, torch.nn.Linear)
        extra = {"output_hidden_states": True} if want_hidden and not hooked else {}
        self._columns, self._captured = (columns if hooked else None), None
        try:
            output = self.model(input_ids=tokens, **self._attention_arguments(tokens, attention_mask), **extra)
        finally:
            self._columns = None
        logits, hidden = output.logits, self._captured  # (N, S, V) and (N, S, D) when the hook selected the columns
        self._captured = None
        if hidden is None:  # the head is not a Linear module (tied to an embedding): select after the full head
            logits = logits[:, columns.to(logits.device)]
            hidden = output.hidden_states[-1][:, columns.to(logits.device)] if want_hidden else None
        return logits, hidden

    def _attention_arguments(self, tokens: torch.Tensor, attention_mask: torch.Tensor | None) -> dict[str, Any]:
        """The attention mask (and position ids) in the format of this family's forward."""
        # LLaDA raises on a KV cache; Dream's hub config asks for one it then drops (pure overhead).
        no_cache = {"use_cache": False} if self.family in REMOTE_CODE_FAMILIES else {}
        if attention_mask is None:  # (asking whether a mask is all True would cost a host sync per step)
            return no_cache  # no padding: every family's default (full bidirectional attention, positions 0..T-1)
        mask = attention_mask.to(self.device, torch.bool)  # (N, T)
        position_ids = (mask.long().cumsum(1) - 1).clamp(min=0)  # (N, T): 0 at each row's first real token
        if self.family == "llada":
            # [B, T] 0/1 key padding; RoPE makes positions relative, so no position ids
            return {"attention_mask": mask.long(), "use_cache": False}
        if self.family == "dream":
            # bool [B, 1, T, T], True = attend; padding queries also see the real keys so no row is all -inf.
            square = mask[:, None, None, :].expand(-1, 1, tokens.shape[1], -1)
            return {"attention_mask": square, "position_ids": position_ids, "use_cache": False}
        arguments: dict[str, Any] = {"attention_mask": mask.long()}
        if self._takes_position_ids:  # absolute positions (BERT) must not shift with the left padding
            arguments["position_ids"] = position_ids + self._position_offset
        return arguments

    def _select_columns(self, module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """Forward pre-hook on the LM head: project only the selected columns' hidden states."""
        if self._columns is None:
            return None
        hidden = args[0][:, self._columns.to(args[0].device)]  # (N, S, D)
        self._captured = hidden
        return (hidden, *args[1:])

    def __repr__(self) -> str:
        name = getattr(self.model.config, "name_or_path", "?")
        return f"HFDiffusionLM({name!r}, family={self.family!r}, vocab_size={self.vocab_size})"


def load_hf_model(path: str | Path, **options: Any) -> HFDiffusionLM:
    """``HFDiffusionLM.from_pretrained`` cached per process by (path, options), so several envs share one model."""
    key = (str(Path(path).resolve()) if Path(path).exists() else str(path),
           json.dumps({k: str(v) for k, v in sorted(options.items())}))  # fmt: skip
    if key not in _CACHE:
        _CACHE[key] = HFDiffusionLM.from_pretrained(path, **options)
    return _CACHE[key]


def default_dtype(device: torch.device) -> torch.dtype:
    """bf16 on a GPU that supports it, fp16 on other GPUs, fp32 on CPU (where half precision is slow)."""
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _end_ids(model: Any, tokenizer: Any) -> set[int]:
    """EOS (or ``[SEP]``), end-of-turn tokens in the vocabulary and the generation config's EOS ids."""
    ids = {tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id}
    vocabulary = tokenizer.get_vocab()
    ids.update(vocabulary[token] for token in END_OF_TURN_TOKENS if token in vocabulary)
    generation = getattr(model, "generation_config", None)
    eos = getattr(generation, "eos_token_id", None) if generation is not None else None
    ids.update(eos if isinstance(eos, list | tuple) else [eos])
    return {int(i) for i in ids if i is not None}


def _position_offset(model: Any) -> int:
    """The first position id of a model with learned absolute positions (RoBERTa-style ones start after padding)."""
    for name, module in model.named_modules():
        if name.endswith("position_embeddings") and isinstance(module, torch.nn.Embedding):
            return 0 if module.padding_idx is None else int(module.padding_idx) + 1
    return 0


def _version_at_least(version: str, minimum: tuple[int, int]) -> bool:
    return version_tuple(version) >= minimum
