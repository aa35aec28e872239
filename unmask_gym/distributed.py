"""Work across processes and GPUs with ``torch.distributed`` (what ``torchrun`` sets up).

Training: ``torchrun --nproc-per-node K -m unmask_gym.agents.train --algo grpo|ppo ...`` starts K copies of the
trainer. Each rank owns its env slice and its dLLM copy, numbers its prompt groups after the other ranks' (the
env's ``first_group``: disjoint prompt streams from one seed), and averages gradients with the others through
``DistributedDataParallel``; only rank 0 writes checkpoints and logs.

Evaluation: ``torchrun --nproc-per-node K -m unmask_gym.cli eval|bench ...``: each rank decodes its shard of the
finite held-out list (the env's ``prompt_shard``) and the records are gathered, so the result is the same set of
prompts, each decoded once, as a one-process run.

The backend is nccl on GPUs, gloo on CPU. Outside ``torchrun`` (no ``WORLD_SIZE`` > 1) everything is a no-op.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def current_shard() -> tuple[int, int] | None:
    """(rank, world size) inside an initialised process group of several ranks, else None (joins nothing)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank(), dist.get_world_size()
    return None


def gather_lists(items: list[Any]) -> list[Any]:
    """Every rank's ``items`` concatenated in rank order, on every rank; ``items`` itself without a process group."""
    shard = current_shard()
    if shard is None:
        return list(items)
    gathered: list[Any] = [None] * shard[1]
    dist.all_gather_object(gathered, list(items))
    return [item for part in gathered for item in part]


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job: rank, world size and the device it trains on."""

    rank: int
    world_size: int
    device: torch.device

    @classmethod
    def from_environment(cls, device: str | torch.device | None = None) -> Distributed:
        """Joins the ``torchrun`` job if there is one (initialising the process group once) and picks the device.

        ``device`` None is ``cuda:LOCAL_RANK`` when CUDA is available, else cpu; a bare ``"cuda"`` under torchrun
        also becomes ``cuda:LOCAL_RANK``, so each rank has its own GPU.
        """
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        wants_cuda = torch.cuda.is_available() and (device is None or str(device).startswith("cuda"))
        if world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if wants_cuda else "gloo")
        rank = dist.get_rank() if dist.is_initialized() else 0
        world_size = dist.get_world_size() if dist.is_initialized() else 1
        if device is None or (str(device) == "cuda" and world_size > 1):
            device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
        return cls(rank, world_size, torch.device(device))

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints, logs and results."""
        return self.rank == 0

    def wrap(self, module: nn.Module) -> nn.Module:
        """``DistributedDataParallel(module)`` when there are several ranks (gradients averaged in ``backward``)."""
        if self.world_size == 1:
            return module
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)

    def mean(self, value: float) -> float:
        """The ranks' mean of ``value`` (the same number on every rank: decisions that must agree use it)."""
        return self._reduce(value, dist.ReduceOp.SUM) / self.world_size

    def minimum(self, value: int) -> int:
        """The smallest ``value`` of any rank (e.g. a minibatch count every rank can fill)."""
        return int(self._reduce(value, dist.ReduceOp.MIN))

    def _reduce(self, value: float, op: Any) -> float:
        if self.world_size == 1:
            return value
        tensor = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=op)
        return float(tensor.item())

    def close(self) -> None:
        """Leaves the job (destroys the process group this process joined) once every rank has come to leave it.

        The barrier keeps a rank from tearing down while another is still talking to it: without it gloo can
        abort the slower rank ("terminate called without an active exception"). Whatever else holds the group (a
        DDP wrapper: trainers drop theirs first, see ``GRPOTrainer.close``) must let go before interpreter shutdown
        too; the collection frees a group kept only by reference cycles now rather than then.
        """
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
            gc.collect()
