"""Two ranks on CPU (gloo), started with torch's multiprocessing launcher as torchrun would start them."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import torch
import torch.multiprocessing as mp


def free_port() -> int:
    """A free TCP port on localhost for the process group's rendezvous."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_rank(rank: int, port: int) -> None:
    """Sets the variables torchrun gives rank ``rank`` of 2, and one torch thread (two ranks share the cores)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank),
                      LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)


def run_two_ranks(worker: Callable[..., None], *args: object) -> None:
    """Runs ``worker(rank, port, *args)`` in two spawned processes and waits for both."""
    mp.start_processes(worker, args=(free_port(), *args), nprocs=2, start_method="spawn")
