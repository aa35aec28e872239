"""Training a tiny MDLM on a synthetic task: the recipe behind every shipped checkpoint.

Absorbing-mask diffusion on the answer region (as LLaDA's SFT): for each sample draw t ~ U(0, 1), mask each answer
token with probability t (at least one), and minimise cross-entropy on the masked tokens, EOS padding included.
Fresh synthetic data every step, so there are no epochs and no overfitting to a finite set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from unmask_gym.canvas import left_pad
from unmask_gym.models.tiny_mdlm import TinyMDLM, TinyMDLMConfig
from unmask_gym.tasks.base import SyntheticTask


@dataclass
class DLLMTrainConfig:
    """Hyper-parameters of ``train_dllm`` (the defaults trained the shipped models)."""

    steps: int = 4000
    """Optimiser steps; each sees ``batch_size`` fresh samples."""
    batch_size: int = 128
    """Samples per step."""
    lr: float = 1e-3
    """Peak AdamW learning rate."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    warmup_fraction: float = 0.03
    """Fraction of steps with a linear warm-up."""
    final_lr_fraction: float = 0.05
    """Cosine decay ends at this fraction of the peak."""
    seed: int = 0
    """Seeds the data stream, the masking and the initialisation."""
    d_model: int = 128
    """Model width."""
    n_layers: int = 4
    """Transformer blocks."""
    n_heads: int = 4
    """Attention heads."""
    d_ff: int = 512
    """Feed-forward width."""


def make_batch(
    task: SyntheticTask, batch_size: int, generator: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clean training canvases (N, P + L) and their attention masks, from the train split only."""
    tokenizer = task.tokenizer
    prompts, references = task.sample(batch_size, generator, split="train")
    tokens, attention = left_pad([tokenizer.encode(p) for p in prompts], task.max_prompt_length, 0)
    answers = torch.full((batch_size, task.answer_length), tokenizer.eos_token_id, dtype=torch.int64)
    for row, reference in enumerate(references):
        ids = tokenizer.encode(task.solution(reference, generator))
        answers[row, : len(ids)] = torch.tensor(ids)
    attention = torch.cat([attention, torch.ones_like(answers, dtype=torch.bool)], dim=1)
    return torch.cat([tokens, answers], dim=1), attention


def masked_diffusion_loss(
    model: TinyMDLM, tokens: torch.Tensor, attention: torch.Tensor, answer_length: int, generator: torch.Generator
) -> torch.Tensor:
    """Cross-entropy on randomly masked answer tokens at a random masking rate per sample."""
    n = tokens.shape[0]
    answer = tokens[:, -answer_length:]  # (N, L)
    rate = torch.rand(n, 1, generator=generator, device=tokens.device)  # (N, 1)
    masked = torch.rand(answer.shape, generator=generator, device=tokens.device) < rate  # (N, L)
    forced = torch.randint(answer_length, (n,), generator=generator, device=tokens.device)
    masked[torch.arange(n), forced] = True  # at least one masked token per sample
    noisy = tokens.clone()
    noisy[:, -answer_length:] = torch.where(masked, model.mask_token_id, answer)
    logits = model(noisy, attention)[:, -answer_length:]  # (N, L, V)
    return F.cross_entropy(logits[masked], answer[masked])


def train_dllm(
    task: SyntheticTask,
    config: DLLMTrainConfig,
    device: str | torch.device = "cpu",
    on_step: Callable[[dict[str, float]], None] | None = None,
) -> TinyMDLM:
    """Trains a tiny MDLM for ``task`` and returns it in eval mode.

    ``on_step`` receives ``{"step", "loss", "lr", "seconds"}`` after every step (the CLI draws its progress bar
    from it).
    """
    torch.manual_seed(config.seed)  # parameter initialisation only; data and masking use their own generators
    model_config = TinyMDLMConfig(
        vocab_size=task.tokenizer.vocab_size,
        max_length=task.max_prompt_length + task.answer_length,
        d_model=config.d_model,
        n_layers=config.n_layers,
        n_heads=config.n_heads,
        d_ff=config.d_ff,
    )
    model = TinyMDLM(model_config, task.tokenizer).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    warmup = max(1, int(config.warmup_fraction * config.steps))

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, config.steps - warmup)
        return config.final_lr_fraction + (1 - config.final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    data_generator = np.random.default_rng(config.seed)
    mask_generator = torch.Generator(device=device).manual_seed(config.seed)
    start = time.perf_counter()
    for step in range(config.steps):
        tokens, attention = make_batch(task, config.batch_size, data_generator)
        loss = masked_diffusion_loss(model, tokens.to(device), attention.to(device), task.answer_length, mask_generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if on_step is not None:
            on_step(
                {
                    "step": step + 1,
                    "loss": loss.item(),
                    "lr": scheduler.get_last_lr()[0],
                    "seconds": time.perf_counter() - start,
                }
            )
    return model.eval().requires_grad_(False)
