"""Env overhead: what a step costs beyond its dLLM forward, measured inside one run.

overhead = (step time including the policy − time inside ``env.model.logits()``) / time inside
``env.model.logits()``, median of ``--windows`` windows of ``--window-steps`` steps after a warm-up. The settings
take turns window by window, so that a shared machine's drift falls on all of them alike. The env calls
``model.logits()`` for its one forward per step and does the feature maths outside it, so timing that one call
splits a step into "the dLLM" and "everything else" (the policy, validation, features, bookkeeping, decoding,
scoring, autoreset).

Two settings, as issue 16 states them:
- ``semi_ar``: ``UnmaskGym/Permutation-v0`` (4-token blocks, so episodes end and restart often and autoreset,
  decoding and scoring are inside the measure), 64 envs, Fast-dLLM threshold 0.9, torch's default threads.
- ``full``: the same task in full diffusion with top-1 confidence and one thread.
Each is measured three times: with the default host-steered step, with ``sync_free=True``, and with
``sync_free=True, compile_step=True`` (the step's two halves through ``torch.compile``; the warm-up compiles).

``--device cuda --wide`` runs the same loop on a randomly initialised transformer of LLaDA's shape (no weights
needed) for a GPU reading. Writes benchmarks/results/env_overhead.json (``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from torch import nn

import unmask_gym  # noqa: F401  (registers the ids)
from unmask_gym.bench import machine_description, publish
from unmask_gym.heuristics import make_policy
from unmask_gym.models import TinyMDLM, TinyMDLMConfig
from unmask_gym.tasks.tokenizer import CharTokenizer

SETTINGS = {
    "semi_ar": {"block_length": 4, "policy": "fast_dllm_threshold:threshold=0.9", "threads": None},
    "full": {"block_length": None, "policy": "top_k_confidence:k=1", "threads": 1},
    "semi_ar sync_free": {"block_length": 4, "policy": "fast_dllm_threshold:threshold=0.9", "threads": None,
                          "sync_free": True},
    "full sync_free": {"block_length": None, "policy": "top_k_confidence:k=1", "threads": 1, "sync_free": True},
    "semi_ar compiled": {"block_length": 4, "policy": "fast_dllm_threshold:threshold=0.9", "threads": None,
                         "sync_free": True, "compile_step": True},
    "full compiled": {"block_length": None, "policy": "top_k_confidence:k=1", "threads": 1, "sync_free": True,
                      "compile_step": True},
}


class TimedForward:
    """Wraps a model so that the wall time spent inside ``logits`` (synchronised on CUDA) is added up."""

    def __init__(self, model: Any) -> None:
        self.model, self.seconds, self.calls = model, 0.0, 0

    def logits(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The wrapped model's logits, timed."""
        synchronize(self.model.device)
        start = time.perf_counter()
        out = self.model.logits(*args, **kwargs)
        synchronize(self.model.device)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work (a no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


LLADA_VOCAB = 126_464


class WideMDLM(TinyMDLM):
    """A randomly initialised TinyMDLM at LLaDA-8B's width (4096, 32 heads, FFN 12288) and vocabulary.

    The LM head spans LLaDA's 126,464 ids, so the softmax and top-k cost what they cost on the real model; ids past
    the character vocabulary get a large negative bias so committed tokens stay readable by the built-in tokenizer.
    With 4 layers it has 1.2B parameters (no weights needed). ``width`` scales it down (heads of 128, FFN 3x) for
    smoke runs.
    """

    def __init__(self, layers: int, width: int = 4096) -> None:
        characters = CharTokenizer().vocab_size
        super().__init__(TinyMDLMConfig(vocab_size=characters, max_length=512, d_model=width, n_layers=layers,
                                        n_heads=max(1, width // 128), d_ff=3 * width))  # fmt: skip
        self.head = nn.Linear(width, LLADA_VOCAB)
        self.mask_unused_ids()

    def mask_unused_ids(self) -> None:
        """Biases the ids past the character vocabulary to -1e4 (again after the weights are refilled)."""
        with torch.no_grad():
            self.head.bias[self.config.vocab_size :] = -1e4


class Runner:
    """One setting's env, timed model and policy, stepping on from where its last window stopped."""

    def __init__(self, setting: str, args: argparse.Namespace) -> None:
        self.spec = spec = SETTINGS[setting]
        self.threads = spec["threads"] or args.default_threads
        torch.set_num_threads(self.threads)
        kwargs: dict[str, Any] = {"block_length": spec["block_length"], "device": args.device,
                                  "sync_free": spec.get("sync_free", False),
                                  "compile_step": spec.get("compile_step", False)}  # fmt: skip
        if args.wide:
            dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
            kwargs["model"] = WideMDLM(args.wide_layers).to(device=args.device, dtype=dtype).eval()
        self.env = gym.make_vec("UnmaskGym/Permutation-v0", num_envs=args.num_envs,
                                vectorization_mode="vector_entry_point", **kwargs)  # fmt: skip
        self.base = self.env.unwrapped if hasattr(self.env, "unwrapped") else self.env
        self.timed = self.base.model = TimedForward(self.base.model)
        self.policy = make_policy(spec["policy"])
        self.obs, _ = self.env.reset(seed=0)
        self.steps(args.warmup)  # (a compiled step compiles here)
        self.ratios: list[float] = []
        self.step_seconds: list[float] = []
        self.forward_seconds: list[float] = []

    def steps(self, count: int) -> float:
        """Seconds for ``count`` env steps with the policy (synchronised around them on CUDA)."""
        torch.set_num_threads(self.threads)
        synchronize(self.base.device)
        start = time.perf_counter()
        for _ in range(count):
            self.obs, *_ = self.env.step(self.policy(self.obs))
        synchronize(self.base.device)
        return time.perf_counter() - start

    def window(self, count: int) -> None:
        """One measured window of ``count`` steps: its overhead, and the seconds per step and per forward."""
        self.timed.seconds = 0.0
        total = self.steps(count)
        self.ratios.append((total - self.timed.seconds) / self.timed.seconds)
        self.step_seconds.append(total / count)
        self.forward_seconds.append(self.timed.seconds / count)

    def result(self) -> dict[str, Any]:
        """The setting's overhead: median and range over the windows, and the seconds behind them."""
        return {
            "policy": self.spec["policy"],
            "block_length": self.spec["block_length"],
            "sync_free": self.spec.get("sync_free", False),
            "compile_step": self.spec.get("compile_step", False),
            "threads": self.threads,
            "overhead": round(statistics.median(self.ratios), 4),
            "overhead_windows": [round(ratio, 4) for ratio in self.ratios],
            "step_seconds": round(statistics.median(self.step_seconds), 6),
            "forward_seconds": round(statistics.median(self.forward_seconds), 6),
        }


def measure(settings: list[str], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every setting's overhead, their windows taken in turn (window 1 of each, then window 2 of each, ...).

    Taking turns puts the settings under the same drift of a shared machine, so the differences between them are
    measured, not the machine's moods.
    """
    runners = {setting: Runner(setting, args) for setting in settings}
    for _ in range(args.windows):
        for runner in runners.values():
            runner.window(args.window_steps)
    for runner in runners.values():
        runner.env.close()
    return {setting: runner.result() for setting, runner in runners.items()}


def main() -> None:
    """Runs the benchmark and writes its JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--window-steps", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--wide", action="store_true", help="a random transformer of LLaDA's width (GPU)")
    parser.add_argument("--wide-layers", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 windows of 3 steps, 16 envs")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "env_overhead.json")
    args = parser.parse_args()
    args.default_threads = torch.get_num_threads()
    if args.quick:
        args.num_envs, args.windows, args.window_steps, args.warmup = 16, 2, 3, 2
    report = {
        "measure": "(step time incl. policy - time inside env.model.logits()) / time inside env.model.logits()",
        "env": "UnmaskGym/Permutation-v0",
        "num_envs": args.num_envs,
        "windows": f"median of {args.windows} windows of {args.window_steps} steps after {args.warmup} warm-up, "
                   f"the settings taking turns window by window",
        "settings": measure(args.settings, args),
        "device": args.device,
        "model": f"random LLaDA-width transformer, {args.wide_layers} layers" if args.wide else "built-in",
        "machine": machine_description(),
    }
    publish(report, None if args.quick else args.out)


if __name__ == "__main__":
    main()
