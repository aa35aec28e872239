#!/usr/bin/env bash
# Issue 29's GPU checks as one prepared command for a lent GPU machine (docs/performance.md, "On a GPU").
#
#   bash benchmarks/device_run.sh wheels   # here, once: the wheels the GPU machine's image lacks, into .whl/
#   bash benchmarks/device_run.sh run      # there: the device tool's `run`, with carry [".whl"]
#
# `run` installs the wheels and the project, then writes into $OUT (or device-out/): nvidia-smi.txt, pytest.txt (the
# GPU tests and the sync-free step's tests) and gpu.json with bench_gpu.log (every part host-steered, sync-free and
# compiled with CUDA graphs (compile_step="reduce-overhead"), the 8B model last; the JSON is rewritten after each
# part, so a run cut short keeps what it measured). It takes about 9 minutes: give
# the device tool's run a timeout_s of 600. BUDGET (default 330) is the second after which bench_gpu.py starts no
# further part.
#
# Why wheels: the GPU image (Python 3.12, PyTorch with CUDA, numpy, pytest, transformers 5.x) has no gymnasium, and
# our LLaDA stand-in modeling code builds on transformers 4.x only, which pins huggingface_hub < 1 and tokenizers
# <= 0.23.0. DEVICE=cpu runs the recipe on a machine without a GPU (the tests of the sync-free step, and bench_gpu.py's
# quick scaling part instead of the whole run): that is how it was checked, in a Python 3.12 venv holding the image's
# versions (torch 2.13 CPU, transformers 5.17, huggingface_hub 1.33, tokenizers 0.23.2, no gymnasium).
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=(gymnasium==1.4.0 farama-notifications==0.0.4 transformers==4.57.6 huggingface-hub==0.36.2 tokenizers==0.22.2)

case "${1:-}" in
wheels)
    grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >>.git/info/exclude  # carried, never committed
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "${WHEELS[@]}"
    ls .whl
    ;;
run)
    out="${OUT:-device-out}"
    mkdir -p "$out"
    # Everything goes to /tmp/site, ahead on PYTHONPATH of the image's own transformers, huggingface_hub and
    # tokenizers; the image's environment is not written to.
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site .whl/*.whl . \
        || exit 1
    export PYTHONPATH=/tmp/site
    nvidia-smi >"$out/nvidia-smi.txt" 2>&1
    # -P: the checkout's unmask_gym/ (without agents/ mapped into it) must not shadow the installed package
    python3 -P -m pytest -q -p no:cacheprovider tests/test_gpu.py tests/test_syncs.py tests/test_sync_free.py \
        >"$out/pytest.txt" 2>&1
    tail -n 3 "$out/pytest.txt"
    device="${DEVICE:-cuda}"  # DEVICE=cpu: the recipe's own test, on a machine without a GPU
    parts=(--parts scaling wide grpo llada)  # the tiny-model targets first; the 8B model (longest, not compiled) last
    [ "$device" = cpu ] && parts=(--quick --parts scaling)
    PYTHONUNBUFFERED=1 python3 benchmarks/bench_gpu.py --device "$device" --both-steps --compile-step reduce-overhead \
        --budget "${BUDGET:-330}" "${parts[@]}" --out "$out/gpu.json" >"$out/bench_gpu.log" 2>&1
    status=$?
    tail -n 5 "$out/bench_gpu.log"
    exit $status
    ;;
*)
    echo "usage: bash benchmarks/device_run.sh wheels|run" >&2
    exit 2
    ;;
esac
