"""Deterministic test doubles: a fake dLLM whose logits are a pure function of the canvas, and its task.

They let tests (ours and yours) write expected trajectories out by hand, without a trained model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from unmask_gym.tasks.base import SyntheticTask, exact_match_tokens
from unmask_gym.tasks.tokenizer import CharTokenizer


class CountingTask(SyntheticTask):
    """Prompt ``"n:x"`` (n in 1..L, x a 3-digit number); the answer repeats x's digits up to length n.

    Example:
        >>> CountingTask(answer_length=6).reference_for("5:472")
        '47247'
    """

    name = "Counting"
    max_prompt_length = 6
    default_block_length = None  # full diffusion unless a test asks for blocks
    prompt_format = "'n:x' with n in 1..L and x a 3-digit number, e.g. '3:472'"
    prompt_pattern = r"[1-9]\d?:[1-9]\d\d"

    def __init__(self, answer_length: int = 4) -> None:
        super().__init__()
        self.answer_length = answer_length

    def _prompt_problem(self, prompt: str) -> str | None:
        if int(prompt.split(":")[0]) > self.answer_length:
            return f"n must be at most L = {self.answer_length}"
        return None

    def _draw(self, generator: np.random.Generator) -> tuple[str, str]:
        prompt = f"{int(generator.integers(1, self.answer_length + 1))}:{int(generator.integers(100, 1000))}"
        return prompt, self.reference_for(prompt)

    def reference_for(self, prompt: str) -> str:
        """The answer of any ``"n:x"`` prompt."""
        length, number = prompt.split(":")
        return (number * self.answer_length)[: int(length)]

    def is_correct(self, completion: str, reference: str) -> bool:
        """Exact match."""
        return completion == reference

    def score_tokens(self, completions: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
        """``score`` on the device: exact match of the ids."""
        return exact_match_tokens(completions, references)

    def solution(self, reference: str, generator: np.random.Generator) -> str:
        """The unique answer."""
        return reference


class FakeDiffusionLM:
    """A ``DiffusionLM`` that always predicts ``CountingTask``'s answer, more confidently on the left.

    Position j of the answer region gets logit ``4 - 0.5 j`` on the right token and 0 elsewhere, so confidences
    fall from left to right. It counts its forward passes (``calls``) and the rows it saw (``rows``).
    """

    def __init__(self, tokenizer: CharTokenizer | None = None, vocab_size: int | None = None) -> None:
        self.tokenizer = tokenizer or CharTokenizer()
        self.mask_token_id = self.tokenizer.mask_token_id
        self.pad_token_id = self.tokenizer.pad_token_id
        self.end_token_ids = frozenset({self.tokenizer.eos_token_id})
        self.vocab_size = vocab_size or self.tokenizer.vocab_size
        self.max_length = None
        self.device = torch.device("cpu")
        self.calls = 0
        self.rows = 0

    def logits(
        self,
        tokens: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (N, S, V) computed from each row's prompt (the columns before ``positions``)."""
        self.calls += 1
        self.rows += tokens.shape[0]
        positions = torch.arange(tokens.shape[1], device=tokens.device) if positions is None else positions
        answer_start = int(positions[0])
        logits = torch.zeros(tokens.shape[0], len(positions), self.vocab_size, device=tokens.device)
        for row in range(tokens.shape[0]):
            prompt = self.tokenizer.decode(tokens[row, :answer_start].tolist())
            target = self._target(prompt, len(positions))
            for j, token in enumerate(target):
                logits[row, j, token] = 4.0 - 0.5 * j
        return logits

    def _target(self, prompt: str, length: int) -> Sequence[int]:
        try:
            answer = CountingTask(length).reference_for(prompt)
        except ValueError:
            answer = ""
        ids = self.tokenizer.encode(answer)
        return ids + [self.tokenizer.eos_token_id] * (length - len(ids))


_DEVICE_TO_HOST = {
    torch.Tensor.cpu, torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__bool__, torch.Tensor.__int__,
    torch.Tensor.__float__, torch.Tensor.__index__, torch.Tensor.nonzero, torch.nonzero, torch.masked_select,
    torch.Tensor.masked_select, torch.Tensor.unique, torch.unique, torch.Tensor.numpy,
}  # fmt: skip
_HOST_TO_DEVICE = {torch.tensor, torch.as_tensor, torch.Tensor.to, torch.Tensor.cuda}


class SyncCounter(TorchFunctionMode):
    """Counts the torch calls that would make the host wait for an accelerator, on any device (CPU included).

    Device → host: ``.cpu()``, ``.item()``, ``.tolist()``, ``.numpy()``, ``bool()``/``int()``/``float()`` of a tensor,
    and the ops whose output size depends on values (``nonzero``, ``masked_select``, ``unique``, indexing with a
    bool tensor), except on host tensors: results of ``.cpu()`` or of ``torch.tensor``/``torch.as_tensor`` without a
    device, and what is computed from them (tensors made by ``torch.from_numpy`` are not seen: do not count on
    them). Host →
    device: ``torch.tensor``/``torch.as_tensor`` with a ``device``, ``.to(device)``/``.cuda()`` without
    ``non_blocking=True``. On CUDA each is a synchronisation (``torch.cuda.set_sync_debug_mode`` reports the same
    ones); on CPU they are free, so a CPU test can still hold the env to its sync budget.

    Example:
        >>> with SyncCounter() as counter:
        ...     total = torch.ones(3).sum().item()
        >>> counter.device_to_host, counter.host_to_device
        (1, 0)
    """

    def __init__(self) -> None:
        super().__init__()
        self.device_to_host = 0
        self.host_to_device = 0
        self.calls: list[str] = []  # what was counted, for error messages
        self._host_storages: set[int] = set()
        self._host_tensors: list[torch.Tensor] = []  # kept alive so that no device tensor reuses their memory

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        name = getattr(func, "__name__", str(func))
        first = args[0] if args else None
        on_host = isinstance(first, torch.Tensor) and first.untyped_storage().data_ptr() in self._host_storages
        bool_index = func is torch.Tensor.__getitem__ and _has_bool_tensor(args[1:])
        to_device = func in _HOST_TO_DEVICE and _names_a_device(func, args, kwargs)
        if (func in _DEVICE_TO_HOST or bool_index) and not on_host:
            self.device_to_host += 1
            self.calls.append(name)
        if to_device and not kwargs.get("non_blocking", False):
            self.host_to_device += 1
            self.calls.append(name)
        host_born = func in (torch.tensor, torch.as_tensor) and not to_device
        if func is torch.Tensor.cpu or host_born or (on_host and not to_device):  # what is computed from the host
            for tensor in result if isinstance(result, tuple | list) else (result,):
                if isinstance(tensor, torch.Tensor):
                    self._host_storages.add(tensor.untyped_storage().data_ptr())
                    self._host_tensors.append(tensor)
        return result


def _has_bool_tensor(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(
        (isinstance(item, torch.Tensor) and item.dtype == torch.bool)
        or (isinstance(item, tuple) and _has_bool_tensor(item))
        for item in items
    )


def _names_a_device(func: Any, args: tuple, kwargs: dict) -> bool:
    if func is torch.Tensor.cuda:
        return True
    if kwargs.get("device") is not None:
        return True
    return func is torch.Tensor.to and any(isinstance(arg, str | torch.device) for arg in args[1:])
