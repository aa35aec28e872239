"""The built-in tiny masked diffusion LM: a bidirectional pre-LN transformer encoder (MDLM/LLaDA without time input).

Shapes: N batch, T canvas length, D model width, H heads, V vocabulary, S requested positions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unmask_gym.tasks.tokenizer import CharTokenizer


@dataclass(frozen=True)
class TinyMDLMConfig:
    """Architecture of a tiny MDLM."""

    vocab_size: int
    """Number of token ids (the shared character tokenizer has 83)."""
    max_length: int
    """Longest canvas (prompt + answer); positions are right-aligned so the answer's positions never move."""
    d_model: int = 128
    """Residual width."""
    n_layers: int = 4
    """Transformer blocks."""
    n_heads: int = 4
    """Attention heads per block."""
    d_ff: int = 512
    """Hidden width of each feed-forward network."""

    def to_dict(self) -> dict[str, int]:
        """The config as a JSON-friendly dict."""
        return asdict(self)


class Block(nn.Module):
    """Pre-LN transformer block with bidirectional attention."""

    def __init__(self, config: TinyMDLMConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.norm_attention = nn.LayerNorm(config.d_model)
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.norm_mlp = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff), nn.GELU(), nn.Linear(config.d_ff, config.d_model)
        )

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        """(N, T, D) → (N, T, D); ``key_mask`` (N, 1, 1, T) is False on padding."""
        n, t, d = x.shape
        q, k, v = self.qkv(self.norm_attention(x)).split(d, dim=2)  # 3 × (N, T, D)
        q, k, v = (z.view(n, t, self.n_heads, d // self.n_heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)  # (N, H, T, D/H)
        x = x + self.out(y.transpose(1, 2).reshape(n, t, d))
        return x + self.mlp(self.norm_mlp(x))


class TinyMDLM(nn.Module):
    """A few-hundred-K to ~1M parameter masked diffusion LM over the shared character vocabulary.

    It implements the ``DiffusionLM`` protocol; ``forward`` is the training path.

    Example:
        >>> model = TinyMDLM(TinyMDLMConfig(vocab_size=83, max_length=8, d_model=32, n_layers=1, d_ff=64))
        >>> tokens = torch.full((2, 8), model.mask_token_id)
        >>> model.logits(tokens, positions=torch.arange(5, 8)).shape
        torch.Size([2, 3, 83])
    """

    def __init__(self, config: TinyMDLMConfig, tokenizer: CharTokenizer | None = None) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer or CharTokenizer()
        if self.tokenizer.vocab_size != config.vocab_size:
            raise ValueError(
                f"config.vocab_size={config.vocab_size} does not match the tokenizer's "
                f"vocab_size={self.tokenizer.vocab_size}"
            )
        self.mask_token_id = self.tokenizer.mask_token_id
        self.pad_token_id = self.tokenizer.pad_token_id
        self.end_token_ids = frozenset({self.tokenizer.eos_token_id})
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = nn.Embedding(config.max_length, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @property
    def vocab_size(self) -> int:
        """Size of the logits' last dimension."""
        return self.config.vocab_size

    @property
    def max_length(self) -> int:
        """Longest canvas the position table covers."""
        return self.config.max_length

    @property
    def device(self) -> torch.device:
        """Where the parameters live."""
        return self.head.weight.device

    def hidden_states(self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Last hidden states (N, T, D) after the final LayerNorm."""
        _n, t = tokens.shape
        if t > self.config.max_length:
            raise ValueError(f"canvas length {t} exceeds the model's max_length={self.config.max_length}")
        # Right-aligned positions: with left padding the answer always sits at the same positions.
        position_ids = torch.arange(self.config.max_length - t, self.config.max_length, device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(position_ids)  # (N, T, D)
        key_mask = None if attention_mask is None else attention_mask[:, None, None, :].bool()  # (N, 1, 1, T)
        for block in self.blocks:
            x = block(x, key_mask)
        return self.norm(x)

    @property
    def hidden_size(self) -> int:
        """D, the width of ``logits_and_hidden``'s hidden states."""
        return self.config.d_model

    def logits_and_hidden(
        self,
        tokens: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Like ``logits``, plus the last hidden states (N, S, D) of the same columns (one forward pass)."""
        hidden = self.hidden_states(tokens, attention_mask)  # (N, T, D)
        if positions is not None:
            hidden = hidden[:, positions]  # (N, S, D)
        return self.head(hidden).float(), hidden.float()

    def forward(self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (N, T, V) for every position."""
        return self.head(self.hidden_states(tokens, attention_mask))

    def logits(
        self,
        tokens: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The ``DiffusionLM`` call: logits (N, S, V) of the requested columns, float32."""
        hidden = self.hidden_states(tokens, attention_mask)  # (N, T, D)
        if positions is not None:
            hidden = hidden[:, positions]  # (N, S, D): the head runs on the answer region only
        return self.head(hidden).float()
