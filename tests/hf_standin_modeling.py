"""Our own stand-ins for LLaDA's and Dream's hub modeling code (tests only; written from the contracts, not the code).

The contracts are those of ``../shared/fixtures/README.md``. Each stand-in is a tiny random BERT encoder plus its
masked-LM head, loaded exactly like the real models: this file is copied next to the weights and ``auto_map``
points ``AutoModel`` at it (``trust_remote_code``). What each reproduces:

- ``LLaDAStandIn`` (``model_type "llada"``): unshifted logits; a ``[B, T]`` 0/1 ``attention_mask`` (key padding;
  positions count real tokens only, as RoPE makes LLaDA left-padding invariant); ``use_cache=True`` raises.
- ``DreamStandIn`` (``model_type "Dream"``): logits shifted by one (column i - 1 predicts position i, computed by
  the head from the hidden state at i - 1); ``attention_mask`` must be None, ``"full"`` or a bool
  ``[B, 1, T, T]`` (a ``[B, T]`` mask raises); ``position_ids`` say where each row starts. Like Dream, it can
  generate and carries its own ``GenerationConfig`` subclass, whose ``validate`` takes no ``strict`` argument (which
  ``save_pretrained`` passes on transformers 4.52-4.57).

Config flags break a stand-in the ways the self-test must catch: ``ignores_attention_mask`` (an old LLaDA
revision), ``random_buffer_at_load`` (a buffer that loading does not restore, like Dream's ``inv_freq`` on 5.x).
"""

from __future__ import annotations

import torch
import transformers
from transformers import BertConfig, GenerationConfig, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast, MaskedLMOutput
from transformers.models.bert.modeling_bert import BertModel, BertOnlyMLMHead


class StandInConfig(PretrainedConfig):
    """Sizes of the inner BERT plus the diffusion ids and the corruption flags."""

    model_type = "standin"

    def __init__(self, vocab_size: int = 512, hidden_size: int = 32, num_hidden_layers: int = 2,
                 max_sequence_length: int = 512, mask_token_id: int | None = None,
                 ignores_attention_mask: bool = False, random_buffer_at_load: bool = False,
                 num_attention_heads: int = 2, intermediate_size: int | None = None,
                 **kwargs) -> None:  # fmt: skip
        self.vocab_size, self.hidden_size, self.num_hidden_layers = vocab_size, hidden_size, num_hidden_layers
        # (benchmarks/bench_gpu.py builds one at LLaDA-8B's size: 32 heads, FFN of SwiGLU 12288's parameter count)
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = 2 * hidden_size if intermediate_size is None else intermediate_size
        self.max_sequence_length, self.mask_token_id = max_sequence_length, mask_token_id
        self.ignores_attention_mask, self.random_buffer_at_load = ignores_attention_mask, random_buffer_at_load
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(**kwargs)


class LLaDAStandInConfig(StandInConfig):
    """``model_type "llada"``, as LLaDA's config."""

    model_type = "llada"

    def __init__(self, **kwargs) -> None:
        # Its own __init__, as LLaDA's config has: on transformers 5.x a config subclass without one gets a
        # dataclass __init__ that sets only the declared fields and skips StandInConfig.__init__.
        super().__init__(**kwargs)


class DreamStandInConfig(StandInConfig):
    """``model_type "Dream"`` (capital D), as Dream's config; it names ``max_position_embeddings``."""

    model_type = "Dream"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_position_embeddings = self.max_sequence_length


class _StandIn(PreTrainedModel):
    """A tiny BERT encoder and MLM head; subclasses set the contract of ``forward``."""

    config_class = StandInConfig
    base_model_prefix = "standin"
    # BERT's head shares its bias with the decoder (transformers 5.x wants a dict: tied parameter -> its source)
    _tied_weights_keys = (["head.predictions.decoder.bias"] if int(transformers.__version__.split(".")[0]) < 5
                          else {"head.predictions.decoder.bias": "head.predictions.bias"})  # fmt: skip

    def __init__(self, config: StandInConfig) -> None:
        super().__init__(config)
        inner = BertConfig(vocab_size=config.vocab_size, hidden_size=config.hidden_size,
                           num_hidden_layers=config.num_hidden_layers, num_attention_heads=config.num_attention_heads,
                           intermediate_size=config.intermediate_size,
                           max_position_embeddings=config.max_sequence_length, attn_implementation="eager")  # fmt: skip
        self.encoder = BertModel(inner, add_pooling_layer=False)
        self.head = BertOnlyMLMHead(inner)
        if config.random_buffer_at_load:  # recomputed at every load, never saved (the corruption under test)
            self.register_buffer("output_scale", torch.rand(1) + 0.5, persistent=False)
        self.post_init()

    def _init_weights(self, module: torch.nn.Module) -> None:
        if isinstance(module, torch.nn.Linear | torch.nn.Embedding):
            module.weight.data.normal_(0.0, 0.5)
            if isinstance(module, torch.nn.Linear) and module.bias is not None:
                module.bias.data.zero_()

    def get_input_embeddings(self) -> torch.nn.Module:
        """The token embedding."""
        return self.encoder.embeddings.word_embeddings

    def get_output_embeddings(self) -> torch.nn.Module:
        """The head's vocabulary projection."""
        return self.head.predictions.decoder

    def _vocabulary_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The head's logits, never the mask token's.

        A trained dLLM does not predict its mask token; random weights might, and whether they do would then depend
        on how each transformers version initialises them.
        """
        logits = self.head(hidden)
        if self.config.mask_token_id is None:
            return logits
        lowest = logits.amin(-1, keepdim=True)  # the row's own lowest logit: never the top, and no outsized value
        is_mask = torch.arange(logits.shape[-1], device=logits.device) == self.config.mask_token_id
        return torch.where(is_mask, lowest, logits)

    def _hidden(self, input_ids: torch.Tensor, key_mask: torch.Tensor | None,
                position_ids: torch.Tensor | None) -> torch.Tensor:  # fmt: skip
        if self.config.ignores_attention_mask:
            key_mask, position_ids = None, None
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device)[None].expand_as(input_ids)
        hidden = self.encoder(input_ids=input_ids, attention_mask=key_mask, position_ids=position_ids)[0]
        return hidden * self.output_scale if self.config.random_buffer_at_load else hidden


class LLaDAStandIn(_StandIn):
    """LLaDA's contract: unshifted logits, ``[B, T]`` mask, no KV cache."""

    config_class = LLaDAStandInConfig

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                attention_bias: torch.Tensor | None = None, use_cache: bool | None = None,
                **kwargs) -> CausalLMOutputWithPast:  # fmt: skip
        """Logits (B, T, V): column i predicts position i."""
        if use_cache:
            raise ValueError("LLaDA has no KV cache: use_cache must be False")
        if attention_mask is not None and attention_mask.dim() != 2:
            raise ValueError("LLaDA's attention_mask is [B, T]; a 4-D mask goes in attention_bias")
        position_ids = None
        if attention_mask is not None:
            position_ids = (attention_mask.long().cumsum(1) - 1).clamp(min=0)  # RoPE: only relative offsets count
        hidden = self._hidden(input_ids, attention_mask, position_ids)
        return CausalLMOutputWithPast(logits=self._vocabulary_logits(hidden))


class DreamStandInGenerationConfig(GenerationConfig):
    """Dream's generation config contract: a subclass whose ``validate`` has the old signature."""

    def validate(self, is_init: bool = False) -> None:
        """Accepts everything (no ``strict`` keyword)."""


class DreamStandIn(_StandIn):
    """Dream's contract: shifted logits, bool ``[B, 1, T, T]`` mask with ``position_ids``; its own generation config."""

    config_class = DreamStandInConfig

    def __init__(self, config: DreamStandInConfig) -> None:
        super().__init__(config)
        self.generation_config = DreamStandInGenerationConfig(mask_token_id=config.mask_token_id)

    @classmethod
    def from_pretrained(cls, *args, **kwargs) -> DreamStandIn:
        """Loads, then puts its own generation config back (transformers loads a plain one), as Dream does."""
        model = super().from_pretrained(*args, **kwargs)
        model.generation_config = DreamStandInGenerationConfig(mask_token_id=model.config.mask_token_id)
        return model

    @classmethod
    def can_generate(cls) -> bool:
        """True, as for Dream (its ``diffusion_generate``): ``save_pretrained`` then saves the generation config."""
        return True

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | str | None = None,
                position_ids: torch.Tensor | None = None, use_cache: bool | None = None,
                **kwargs) -> MaskedLMOutput:  # fmt: skip
        """Logits (B, T, V): column i - 1 predicts position i (the last column predicts past the end)."""
        key_mask = None
        if isinstance(attention_mask, torch.Tensor):
            if attention_mask.dim() != 4 or attention_mask.dtype != torch.bool:
                raise ValueError("Dream's attention_mask goes to SDPA: None, 'full' or a bool [B, 1, T, T] mask")
            key_mask = attention_mask[:, 0].any(1).long()  # (B, T): the keys some query may attend
        elif attention_mask not in (None, "full"):
            raise ValueError(f"unknown attention_mask {attention_mask!r}")
        hidden = self._hidden(input_ids, key_mask, position_ids)  # (B, T, D): state i encodes position i
        shifted = torch.cat([hidden[:, 1:], hidden[:, -1:]], 1)  # column i holds the state of position i + 1
        return MaskedLMOutput(logits=self._vocabulary_logits(shifted))
