"""Peak memory of a step's feature computation (confidence, margin, entropy, top-k) at the paper's vocabulary.

``unmask_gym.features.predict`` keeps the logits as the only (R, L, V) tensor and does its float32 work in chunks
of ``FEATURE_CHUNK_ELEMENTS`` logits. This measures, each in a fresh process, the peak memory the call adds on
top of the logits, chunked (the env's setting) and in one piece (chunk as large as the logits: what an
unchunked implementation needs at the least), and states the formula for the paper's shape. On CPU the peak is
the process's maximum resident set; on CUDA ``torch.cuda.max_memory_allocated``. Writes
benchmarks/results/feature_memory.json.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from pathlib import Path

import torch

from unmask_gym.bench import machine_description, publish
from unmask_gym.features import FEATURE_CHUNK_ELEMENTS, predict


def peak_extra_bytes(rows: int, length: int, vocab: int, dtype: str, chunk: int, top_k: int, device: str) -> int:
    """Bytes the feature computation adds at its peak to memory already holding the logits (this process)."""
    logits = torch.randn(rows, length, vocab, device=device).to(getattr(torch, dtype))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        predict(logits, top_k=top_k, chunk_elements=chunk)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    predict(logits, top_k=top_k, chunk_elements=chunk)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024  # Linux reports KiB


def paper_shape(chunks: float, copies: float) -> str:
    """The measured multiples carried to the paper's R=64, L=256, V=126,464 with bf16 logits."""
    elements = 64 * 256 * 126_464
    return (
        f"logits {2 * elements / 1e9:.2f} GB (bf16); chunked features add {chunks:.1f} float32 chunks of "
        f"{FEATURE_CHUNK_ELEMENTS} = {chunks * 4 * FEATURE_CHUNK_ELEMENTS / 1e9:.2f} GB whatever R and L; in one "
        f"piece {copies:.1f} float32 copies of the logits = {copies * 4 * elements / 1e9:.0f} GB"
    )


def in_fresh_process(args: argparse.Namespace, chunk: int) -> int:
    """``peak_extra_bytes`` in a new interpreter, so that no earlier peak hides this one."""
    command = [sys.executable, __file__, "--child", str(chunk), "--rows", str(args.rows), "--length",
               str(args.length), "--vocab", str(args.vocab), "--dtype", args.dtype, "--top-k", str(args.top_k),
               "--device", args.device]  # fmt: skip
    return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip())


def main() -> None:
    """Measures both settings and writes the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=126_464, help="LLaDA's")
    parser.add_argument("--dtype", default="float32", help="the logits' dtype (bfloat16 on a GPU)")
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--chunk-elements", type=int, default=FEATURE_CHUNK_ELEMENTS, help="the env's default")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="a smoke run at 2 x 64 x 8,192 in chunks of 2^18")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "feature_memory.json")
    args = parser.parse_args()
    if args.child is not None:
        print(peak_extra_bytes(args.rows, args.length, args.vocab, args.dtype, args.child, args.top_k, args.device))
        return
    if args.quick:
        args.rows, args.length, args.vocab, args.chunk_elements = 2, 64, 8192, 2**18
    elements = args.rows * args.length * args.vocab
    logits_bytes = elements * torch.empty(0, dtype=getattr(torch, args.dtype)).element_size()
    chunk = args.chunk_elements
    chunked = in_fresh_process(args, chunk)
    whole = in_fresh_process(args, elements)
    chunk_bytes = 4 * min(elements, chunk // args.vocab * args.vocab)
    report = {
        "shape": {"rows": args.rows, "length": args.length, "vocab": args.vocab, "dtype": args.dtype},
        "logits_bytes": logits_bytes,
        "chunked": {
            "chunk_elements": chunk,
            "peak_extra_bytes": chunked,
            "in_float32_chunks": round(chunked / chunk_bytes, 2),
        },
        "one_piece": {"peak_extra_bytes": whole, "in_logit_sizes": round(whole / logits_bytes, 2)},
        "paper_shape": paper_shape(chunked / chunk_bytes, whole / (4 * elements)),
        "device": args.device,
        "machine": machine_description(),
    }
    publish(report, None if args.quick else args.out)


if __name__ == "__main__":
    main()
