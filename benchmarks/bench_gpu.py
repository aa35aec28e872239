"""GPU figures (issue 29): a step's cost next to its bare dLLM forward, env steps/s, a GRPO iteration's split.

The measure: time S env steps, the policy included, with one synchronisation at the end; then time S bare
``model.logits()`` calls on the very arguments the env passed in its last step, again with one synchronisation at
the end; ratio = env seconds / bare seconds. There is no per-call synchronisation, so host work that overlaps the
GPU's forward is free, as it should be: 1.00 means the env costs nothing beyond its forward.

What runs (S = ``--steps`` after ``--warmup`` untimed steps):

(a) random transformers of LLaDA's width (4096, 32 heads, FFN 12288, LLaDA's 126,464-id head;
    ``bench_env_overhead.WideMDLM``) with 4 layers (1.2B) and 32 layers (5.9B), 64 envs on Permutation (answers of
    16, blocks of 4);
(b) LLaDA-8B's shape through the transformers backend (``HFDiffusionLM``) on GSM8K-format prompts, L = 256,
    blocks of 32, at 16 and 64 envs: our LLaDA stand-in modeling code (``tests/hf_standin_modeling.py``: a BERT
    encoder of hidden 4096, 32 layers, 32 heads, FFN 18432 = the parameters of LLaDA's SwiGLU 12288; 8.0B), or
    LLaDA's own hub code with ``--llada-code DIR``. No weights are read: the parameters are built on the meta
    device, then ``to_empty`` on the device and a seeded N(0, 0.02) fill (bf16 on a GPU), which takes seconds.
    Random weights predict near-uniformly, so no episode ends inside the timed window of this model;
each under three settings: "blocks + Fast-dLLM 0.9", "full + top-1" and "full + permutation-full-a3" (a shipped
learned policy, run on other tasks for its cost);
(c) the built-in tiny dLLM: env steps/s (num_envs x steps / seconds) and ms per step for num_envs up to 4,096
    (in the compiled pass the dLLM's ``logits`` is compiled too: at this size its launches are the step);
(d) one GRPO iteration after a warm-up one: rollout and update seconds, the rollout split into the dLLM, the
    policy's sampling forwards and the env's bookkeeping, as ``bench_grpo.py`` measures it.

The issue's targets sit beside the measured values in ``targets`` (computed pass/fail, not asserted). On a GPU:

    python benchmarks/bench_gpu.py --device cuda --both-steps --out benchmarks/results/gpu.json

``--sync-free`` runs every part with ``sync_free=True`` instead of the host-steered step; ``--both-steps`` runs
each part with the host-steered step and then sync-free before the next part, filing the sync-free readings under
``sync_free_run`` (the same keys, targets included): both readings from one machine in one run, and a run cut
short has both for every part it reached. ``--compile-step MODE`` adds a third pass, filed under ``compiled_run``:
sync-free with ``compile_step=MODE`` (the step's two halves through ``torch.compile``; ``reduce-overhead`` captures
them as CUDA graphs) in (a) and (c), with the policy compiled alike; and GRPO's ``compile_step=True`` (the default
mode: its rollout keeps the step's tensors) in (d). (b)'s GSM8K is scored on the host, so that part is recorded as
skipped there.

The JSON is written after every part (``"complete": false`` until the last), so a run stopped by a device's time
limit keeps what it measured; ``--budget SECONDS`` starts no part after that many seconds (those are recorded as
skipped), for a run that must end inside such a limit.

(b) needs transformers (``pip install -e ".[hf]"``; the stand-in builds on 4.x only). ``--parts`` reruns some of
(a)-(d) (``wide llada scaling grpo``); a part that fails is recorded under ``errors`` while the others still run
(exit code 1). ``--quick --device cpu`` is the smoke test: (a) on a narrow 2-layer model at 8 envs, (b) skipped,
num_envs up to 64 and a tiny GRPO iteration; its JSON says ``"quick": true``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import json
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bench_grpo  # (scripts run from benchmarks/)
import torch
from bench_env_overhead import LLADA_VOCAB, WideMDLM, synchronize
from torch import nn

from unmask_gym import UnmaskVectorEnv
from unmask_gym.agents import GRPOConfig
from unmask_gym.agents.loading import policy_from_spec
from unmask_gym.bench import machine_description
from unmask_gym.compiling import compile_or_eager
from unmask_gym.config import COMPILE_MODES
from unmask_gym.evaluation import save_json
from unmask_gym.heuristics import make_policy

RESULTS = Path(__file__).parent / "results"
TESTS = Path(__file__).resolve().parents[1] / "tests"  # our LLaDA stand-in modeling code and tiny tokenizer
GSM8K_SAMPLE = TESTS / "data" / "gsm8k_sample.jsonl"
SETTINGS = {  # name: (in blocks, policy spec)
    "blocks + Fast-dLLM 0.9": (True, "fast_dllm_threshold:threshold=0.9"),
    "full + top-1": (False, "top_k_confidence:k=1"),
    "full + permutation-full-a3": (False, "permutation-full-a3"),
}
HF_BLOCK, PERMUTATION_BLOCK = 32, 4


class Skipped(Exception):
    """A part that cannot run here (its reason is recorded)."""


class LastCall:
    """Wraps a dLLM and keeps the arguments of its latest ``logits`` call (nothing timed, nothing synchronised)."""

    def __init__(self, model: Any) -> None:
        self.model, self.call, self.calls = model, ((), {}), 0

    def logits(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The wrapped model's logits; the arguments are kept."""
        self.call, self.calls = (args, kwargs), self.calls + 1
        return self.model.logits(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


class CompiledLogits:
    """A dLLM whose ``logits`` runs through ``torch.compile`` in ``mode`` (everything else is the model's own)."""

    def __init__(self, model: Any, mode: str) -> None:
        self.model = model
        self.logits = compile_or_eager(model.logits, "bench_gpu's dLLM", mode=mode)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def time_env_steps(env: UnmaskVectorEnv, policy: Any, obs: Any, steps: int) -> tuple[float, Any]:
    """Seconds for ``steps`` env steps with the policy, synchronised once at the end; and the last observation."""
    synchronize(env.device)
    start = time.perf_counter()
    for _ in range(steps):
        obs, *_ = env.step(policy(obs))
    synchronize(env.device)
    return time.perf_counter() - start, obs


def time_bare_forwards(model: Any, call: tuple[tuple, dict], steps: int, device: torch.device) -> float:
    """Seconds for ``steps`` ``model.logits(*call)``, synchronised once at the end (after one untimed call)."""
    args, kwargs = call
    with torch.no_grad():  # as the env calls it
        model.logits(*args, **kwargs)
        synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            model.logits(*args, **kwargs)
        synchronize(device)
    return time.perf_counter() - start


def env_against_bare(env: UnmaskVectorEnv, policy: Any, args: argparse.Namespace) -> dict[str, Any]:
    """One setting: S env steps against S bare forwards on the env's last arguments (the issue's measure)."""
    recorder = env.model = LastCall(env.model)
    obs, _ = env.reset(seed=0)
    _, obs = time_env_steps(env, policy, obs, args.warmup)
    calls = recorder.calls
    env_seconds, _ = time_env_steps(env, policy, obs, args.steps)
    forwards = recorder.calls - calls
    env.model = recorder.model
    bare_seconds = time_bare_forwards(recorder.model, recorder.call, args.steps, env.device)
    tokens = recorder.call[0][0]  # (rows, T) canvas of the last forward
    return {
        "ratio": round(env_seconds / bare_seconds, 4),
        "env_seconds": round(env_seconds, 6),
        "bare_seconds": round(bare_seconds, 6),
        "ms_per_env_step": round(1000 * env_seconds / args.steps, 4),
        "ms_per_bare_forward": round(1000 * bare_seconds / args.steps, 4),
        "forwards_in_env_steps": forwards,
        "last_forward_rows_x_columns": list(tokens.shape),
        "peak_memory_gib": peak_memory_gib(env.device),
    }


def ratio_table(make_env: Callable[[int | None], UnmaskVectorEnv], block: int,
                args: argparse.Namespace) -> dict[str, dict[str, Any]]:  # fmt: skip
    """The three settings on one model: ``make_env(block_length)`` builds each setting's env."""
    results = {}
    for name, (in_blocks, spec) in SETTINGS.items():
        reset_peak_memory(args.device)
        env = make_env(block if in_blocks else None)
        results[name] = env_against_bare(env, pass_policy(policy_from_spec(spec)[0], args), args)
        results[name]["canvas"] = {"prompt": env.config.max_prompt_length, "answer": env.config.answer_length}
        env.close()
        log(f"  {name}: ratio {results[name]['ratio']}")
    return results


@contextlib.contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Module construction puts each parameter on the meta device as it is registered; buffers stay real.

    A parameter's ``torch.empty`` is never touched and its module's initialisation then runs on meta (free), so an
    8B model builds in seconds without memory. Buffers (position ids, rotary tables) keep the values their modules
    computed, which ``to_empty`` alone would lose; and LLaDA's code, which asks for the CPU explicitly, is caught
    too (a ``torch.device("meta")`` context only changes tensors built without a device).
    """
    register = nn.Module.register_parameter

    def register_on_meta(module: nn.Module, name: str, parameter: nn.Parameter | None) -> None:
        if parameter is not None and parameter.device.type != "meta":
            parameter = nn.Parameter(parameter.to("meta"), requires_grad=parameter.requires_grad)
        register(module, name, parameter)

    nn.Module.register_parameter = register_on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = register


def materialize(model: nn.Module, device: torch.device, dtype: torch.dtype, seed: int = 0) -> nn.Module:
    """``to_empty`` on ``device`` in ``dtype``, then a seeded fill: N(0, 0.02) matrices, unit norm scales, zero biases.

    The buffers computed at construction are put back after ``to_empty``.
    """
    model.to(dtype=dtype)  # meta parameters: free; floating buffers follow, as on a loaded model
    buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
    model.to_empty(device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() >= 2:
                parameter.normal_(0.0, 0.02, generator=generator)
            else:  # 1-D: norm scales ("weight") and biases
                parameter.fill_(1.0 if name.endswith("weight") else 0.0)
        for name, buffer in model.named_buffers():
            buffer.copy_(buffers[name])
    return model.eval().requires_grad_(False)


def random_model(build: Callable[[], nn.Module], args: argparse.Namespace, room_gib: float) -> tuple[Any, dict]:
    """``build()`` with parameters on meta, materialised on the device; skipped when its weights do not fit."""
    start = time.perf_counter()
    with parameters_on_meta():
        model = build()
    parameters = sum(parameter.numel() for parameter in model.parameters())
    need = parameters * args.dtype.itemsize / 2**30 * 1.1 + room_gib
    free = free_memory_gib(args.device)
    if free is not None and need > free:
        raise Skipped(f"needs about {need:.0f} GiB ({parameters / 1e9:.1f}B parameters in {args.dtype} plus "
                      f"activations), {free:.0f} GiB free on {args.device}")  # fmt: skip
    model = materialize(model, args.device, args.dtype, args.seed)
    synchronize(args.device)
    return model, {"parameters": parameters, "parameters_b": round(parameters / 1e9, 2), "dtype": str(args.dtype),
                   "build_seconds": round(time.perf_counter() - start, 2)}  # fmt: skip


def wide_models(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """(a) random transformers of LLaDA's width on Permutation."""
    for layers in args.wide_layers:
        name = f"wide_{layers}_layers" if args.wide_width == 4096 else f"narrow_{layers}_layers_{args.wide_width}"
        key = f"{name}@{args.wide_envs}envs"
        log(f"(a) {key}")
        model, facts = random_model(lambda layers=layers: WideMDLM(layers, args.wide_width), args, room_gib=8)
        model.mask_unused_ids()
        facts["model"] = (f"random transformer, width {args.wide_width}, {layers} layers, LLaDA's {LLADA_VOCAB:,}-id "
                          "head (bench_env_overhead.WideMDLM)")  # fmt: skip

        def make_env(block: int | None, model: Any = model) -> UnmaskVectorEnv:
            return UnmaskVectorEnv(args.wide_envs, task="permutation", model=model, block_length=block,
                                   device=args.device, compile_features=args.compile_features,
                                   **step_options(args))  # fmt: skip

        record(report, key, facts, args.wide_envs, "permutation", ratio_table(make_env, PERMUTATION_BLOCK, args))
        del model
        release(args.device)


def llada_shaped_backend(args: argparse.Namespace, folder: Path) -> tuple[Any, dict]:
    """(b)'s model: LLaDA-8B's shape (``--hf-width``, ``--hf-layers``) behind ``HFDiffusionLM``, random weights."""
    import transformers

    from unmask_gym.models.hf import TOKENIZER_FILES, HFDiffusionLM
    from unmask_gym.models.hf_patches import patch_loaded_model, patch_model_class, remote_model_class
    from unmask_gym.models.hf_support import check_transformers_version, needs_v5_patches

    sys.path.insert(0, str(TESTS))
    from hf_standins import make_tokenizer, standin_module

    width, layers, heads = args.hf_width, args.hf_layers, max(1, args.hf_width // 128)
    code = args.llada_code
    if code is not None and any((code / name).exists() for name in TOKENIZER_FILES):
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(code), local_files_only=True, trust_remote_code=True)
    else:
        tokenizer = make_tokenizer(folder)  # our ~300-token BPE with LLaDA's chat format (ids past it decode to "")
    eos = tokenizer.eos_token_id
    ids = {"mask_token_id": tokenizer.convert_tokens_to_ids("<|mdm_mask|>"), "eos_token_id": eos, "pad_token_id": eos}
    patched = False
    if code is None:  # BERT FFN of 4.5 x width: the parameters of LLaDA's SwiGLU of 3 x width
        module = standin_module()
        config = module.LLaDAStandInConfig(vocab_size=LLADA_VOCAB, hidden_size=width, num_hidden_layers=layers,
                                           num_attention_heads=heads, intermediate_size=9 * width // 2,
                                           max_sequence_length=4096, **ids)  # fmt: skip

        def build() -> nn.Module:
            return module.LLaDAStandIn(config)

        source = "our LLaDA stand-in modeling code (tests/hf_standin_modeling.py: BERT encoder, LLaDA's contract)"
    else:
        if not (code / "config.json").exists():
            raise ValueError(f"--llada-code {code} holds no config.json (LLaDA's hub folder has one)")
        check_transformers_version("llada", transformers.__version__)
        config_dict = json.loads((code / "config.json").read_text())
        config_dict.update(d_model=width, n_layers=layers, n_heads=heads, n_kv_heads=heads, mlp_hidden_size=3 * width,
                           vocab_size=LLADA_VOCAB, embedding_size=LLADA_VOCAB, max_sequence_length=4096,
                           init_device="cpu", **ids)  # fmt: skip
        for file in code.glob("*.py"):
            shutil.copy(file, folder / file.name)
        (folder / "config.json").write_text(json.dumps(config_dict))
        patched = needs_v5_patches("llada", transformers.__version__)
        if patched:  # as HFDiffusionLM.from_pretrained does on transformers 5.x
            patch_model_class(remote_model_class(transformers, config_dict, folder, True))
        config = transformers.AutoConfig.from_pretrained(str(folder), trust_remote_code=True, local_files_only=True)

        def build() -> nn.Module:
            return transformers.AutoModel.from_config(config, trust_remote_code=True)

        source = f"LLaDA's hub modeling code from {code}"
    model, facts = random_model(build, args, room_gib=12)
    if patched:
        patch_loaded_model(model)
    facts["model"] = f"LLaDA's shape (width {width}, {layers} layers, {heads} heads), random weights; {source}"
    return HFDiffusionLM(model, tokenizer, "llada"), facts


def llada_model(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """(b) LLaDA-8B's shape through the transformers backend on GSM8K-format prompts."""
    if args.quick:
        raise Skipped("--quick skips the 8B model")
    if args.compile_step:
        raise Skipped("compile_step compiles a step scored on the device; GSM8K is scored on the host")
    from unmask_gym.hf_env import make_hf_vector_env

    full_size = (args.hf_width, args.hf_layers) == (4096, 32)
    name = "llada8b_hf" if full_size else f"llada_{args.hf_layers}x{args.hf_width}_hf"
    with tempfile.TemporaryDirectory() as folder:
        log(f"(b) {name}: building")
        backend, facts = llada_shaped_backend(args, Path(folder))
        for num_envs in args.hf_envs:
            log(f"(b) {name}@{num_envs}envs")

            def make_env(block: int | None, num_envs: int = num_envs, backend: Any = backend) -> UnmaskVectorEnv:
                return make_hf_vector_env(num_envs, model=backend, task="gsm8k", dataset=args.dataset,
                                          answer_length=args.hf_answer_length, block_length=block, device=args.device,
                                          compile_features=args.compile_features, sync_free=args.sync_free)  # fmt: skip

            record(report, f"{name}@{num_envs}envs", facts, num_envs, f"gsm8k ({args.dataset.name})",
                   ratio_table(make_env, HF_BLOCK, args))  # fmt: skip
        del backend
    release(args.device)


def tiny_scaling(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """(c) env steps/s and ms per step of the built-in tiny dLLM over num_envs."""
    policy = pass_policy(make_policy(args.scaling_policy), args)
    for num_envs in args.sizes:
        env = UnmaskVectorEnv(num_envs, task="permutation", block_length=None, device=args.device,
                              compile_features=args.compile_features, **step_options(args))  # fmt: skip
        if args.compile_step:  # the whole step compiled: policy, env and the tiny dLLM, whose launches dominate
            env.model = CompiledLogits(env.model, args.compile_step)
            report["scaling"]["dllm_compiled"] = args.compile_step
        obs, _ = env.reset(seed=0)
        _, obs = time_env_steps(env, policy, obs, args.warmup)
        seconds, _ = time_env_steps(env, policy, obs, args.scaling_steps)
        env.close()
        report["env_steps_per_s"][str(num_envs)] = round(num_envs * args.scaling_steps / seconds)
        report["ms_per_step"][str(num_envs)] = round(1000 * seconds / args.scaling_steps, 4)
        log(f"(c) {num_envs} envs: {report['env_steps_per_s'][str(num_envs)]:,} env steps/s")


def grpo_split(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """(d) one GRPO iteration's rollout/update split (``bench_grpo.measure``)."""
    log("(d) GRPO")
    grpo = bench_grpo.measure(argparse.Namespace(
        task="permutation", block_length="none", alpha=3.0, iterations=args.grpo_iterations,
        num_groups=args.grpo_groups, group_size=args.grpo_group_size, width=args.grpo_width,
        update_epochs=GRPOConfig.update_epochs, num_minibatches=GRPOConfig.num_minibatches, device=str(args.device),
        sync_free=args.sync_free, compile_step=bool(args.compile_step),
    ))  # fmt: skip
    grpo.pop("machine")
    if args.compile_step:  # the rollout keeps the step's tensors: GRPOConfig.compile_step has no CUDA graphs
        grpo["compile_step"] = "default"
    report["grpo"] = grpo


def step_options(args: argparse.Namespace) -> dict[str, Any]:
    """The env arguments of the pass that runs: ``sync_free`` and ``compile_step``."""
    return {"sync_free": args.sync_free, "compile_step": args.compile_step or False}


def pass_policy(policy: Any, args: argparse.Namespace) -> Any:
    """The policy as the pass runs it: through ``torch.compile`` in the compiled pass's mode.

    So env step and heuristic are both compiled (with ``reduce-overhead``, both captured as CUDA graphs).
    """
    return compile_or_eager(policy, "bench_gpu's policy", mode=args.compile_step) if args.compile_step else policy


def record(report: dict[str, Any], key: str, facts: dict, num_envs: int, task: str, results: dict) -> None:
    """Files one model's ratio table under ``ratio`` (the numbers) and ``settings`` (everything measured)."""
    report["ratio"][key] = {name: result["ratio"] for name, result in results.items()}
    report["settings"][key] = {**facts, "num_envs": num_envs, "task": task, "results": results}


def targets(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets next to this run's values; ``pass`` is None where the run did not measure them."""

    def at_most(keys: list[str], limit: float, target: str) -> dict[str, Any]:
        measured = {key: report["ratio"][key] for key in keys if key in report["ratio"]}
        values = [value for table in measured.values() for value in table.values()]
        complete = values and len(measured) == len(keys)
        return {"target": target, "measured": measured, "pass": all(v <= limit for v in values) if complete else None}

    rates = report["env_steps_per_s"]
    best = max(rates, key=rates.get) if rates else None
    at_64 = report["ms_per_step"].get("64")
    return {
        "llada8b_ratio": at_most(["llada8b_hf@16envs", "llada8b_hf@64envs"], 1.01, "ratio <= 1.01, every setting"),
        "wide_4_layers_ratio": at_most(["wide_4_layers@64envs"], 1.10, "ratio <= 1.10, every setting"),
        "tiny_best_env_steps_per_s": {"target": ">= 1,000,000 env steps/s at the best num_envs",
                                      "measured": rates.get(best), "num_envs": None if best is None else int(best),
                                      "pass": None if best is None else rates[best] >= 1_000_000},
        "tiny_ms_per_step_at_64_envs": {"target": "<= 0.5 ms per step at 64 envs", "measured": at_64,
                                        "pass": None if at_64 is None else at_64 <= 0.5},
    }  # fmt: skip


def reset_peak_memory(device: torch.device) -> None:
    """Restarts CUDA's peak-memory counter (nothing on CPU)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> float | None:
    """CUDA's peak allocated memory since the last reset, in GiB (None on CPU)."""
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None


def free_memory_gib(device: torch.device) -> float | None:
    """Free memory where the weights would go: the GPU's, or the host's available memory (None if unknown)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0] / 2**30
    with contextlib.suppress(OSError, StopIteration, ValueError):
        line = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemAvailable"))
        return int(line.split()[1]) / 2**20
    return None


def release(device: torch.device) -> None:
    """Frees a dropped model's memory before the next one is built."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def log(message: str) -> None:
    """Progress on stderr (stdout carries the JSON)."""
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``--quick`` replaces the sizes with tiny ones."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=None, help="default: results/gpu.json (--quick: gpu_quick_DEVICE)")
    parser.add_argument("--quick", action="store_true", help="the CPU smoke test: tiny sizes, the 8B model skipped")
    parser.add_argument("--parts", nargs="+", default=["wide", "llada", "scaling", "grpo"],
                        choices=["wide", "llada", "scaling", "grpo"], help="(a) (b) (c) (d)")  # fmt: skip
    parser.add_argument("--steps", type=int, default=20, help="S, timed env steps and bare forwards per setting")
    parser.add_argument("--warmup", type=int, default=5, help="untimed env steps before each timed loop")
    parser.add_argument("--wide-layers", type=int, nargs="+", default=[4, 32])
    parser.add_argument("--wide-width", type=int, default=4096)
    parser.add_argument("--wide-envs", type=int, default=64)
    parser.add_argument("--hf-layers", type=int, default=32)
    parser.add_argument("--hf-width", type=int, default=4096)
    parser.add_argument("--hf-envs", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--hf-answer-length", type=int, default=256)
    parser.add_argument("--llada-code", type=Path, default=None,
                        help="a folder with LLaDA's hub files (config.json, *.py; its tokenizer if there); "
                             "weights are never read")  # fmt: skip
    parser.add_argument("--dataset", type=Path, default=GSM8K_SAMPLE, help="GSM8K-format prompts (JSONL)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64, 256, 1024, 4096])
    parser.add_argument("--scaling-steps", type=int, default=100, help="timed steps per num_envs in (c)")
    parser.add_argument("--scaling-policy", default="fast_dllm_threshold:threshold=0.9")
    parser.add_argument("--grpo-iterations", type=int, default=1, help="measured GRPO iterations (one more warms up)")
    parser.add_argument("--grpo-groups", type=int, default=8)
    parser.add_argument("--grpo-group-size", type=int, default=8)
    parser.add_argument("--grpo-width", type=int, default=128, help="policy width (the paper's 128)")
    parser.add_argument("--compile-features", action="store_true", help="the envs' compile_features=True")
    parser.add_argument(
        "--sync-free",
        action="store_true",
        help="sync_free=True in every part ((b)'s GSM8K is scored on the host, after the forward is queued)",
    )
    parser.add_argument("--compile-step", dest="compiled_mode", default=None,
                        choices=COMPILE_MODES,
                        help="a further pass, sync-free with compile_step=MODE, filed under compiled_run")
    parser.add_argument("--both-steps", action="store_true",
                        help="each part with the host-steered step, then with sync_free=True (filed under "
                        "sync_free_run), before the next part: one run, one machine, both readings")  # fmt: skip
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds after which no further part starts (those are recorded as skipped), so a "
                             "run ends inside a device's time limit; the JSON is written after every part anyway")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.scaling_steps = 3, 2, 5
        args.wide_layers, args.wide_width, args.wide_envs, args.sizes = [2], 64, 8, [1, 4, 16, 64]
        args.grpo_groups, args.grpo_group_size, args.grpo_width = 2, 2, 16
    args.compile_step = None  # the pass that runs sets it (with sync_free)
    args.device = torch.device(args.device)
    args.dtype = torch.bfloat16 if args.device.type == "cuda" else torch.float32
    if args.out is None:
        args.out = RESULTS / (f"gpu_quick_{args.device.type}.json" if args.quick else "gpu.json")
    return args


def main(argv: list[str] | None = None) -> int:
    """Runs the parts, writes the JSON; exits 1 if a part failed (the others still run and are written)."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        transformers_version = importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        transformers_version = None
    cuda = args.device.type == "cuda"
    own_step = args.sync_free and not args.both_steps  # sync_free of the report's own readings
    report: dict[str, Any] = {
        "benchmark": "bench_gpu.py (issue 29)",
        "quick": args.quick,
        "device": torch.cuda.get_device_name(args.device) if cuda else machine_description(),
        "machine": machine_description(),
        "torch": torch.__version__,
        "transformers": transformers_version,
        "threads": torch.get_num_threads(),
        "measure": "ratio = (S env steps incl. policy, one sync at the end) / (S bare model.logits() calls on the "
                   "env's last arguments, one sync at the end)",
        "steps": args.steps,
        "warmup": args.warmup,
        "compile_features": args.compile_features,
        **empty_run(args, own_step),
    }  # fmt: skip
    runs = [(own_step, None, report)]  # (sync_free, compile_step, where its readings go)
    if args.both_steps:
        runs.append((True, None, report.setdefault("sync_free_run", empty_run(args, True))))
    if args.compiled_mode:
        runs.append((True, args.compiled_mode, report.setdefault("compiled_run", empty_run(args, True,
                                                                                          args.compiled_mode))))
    start = time.perf_counter()

    def save(complete: bool) -> None:
        """Writes the report as it stands (after every part: a run cut short still leaves what it measured)."""
        for *_, run in runs:
            run["targets"] = targets(run)
        report["complete"], report["seconds"] = complete, round(time.perf_counter() - start, 1)
        save_json(report, args.out)

    for part in args.parts:
        for sync_free, compile_step, run in runs:
            args.sync_free, args.compile_step = sync_free, compile_step
            run_part(args, part, run, start)
            save(complete=False)
    save(complete=True)
    print(json.dumps(report, indent=2, default=str))
    return 1 if any(run["errors"] for *_, run in runs) else 0


def empty_run(args: argparse.Namespace, sync_free: bool, compile_step: str | None = None) -> dict[str, Any]:
    """What one pass over the parts fills in, with one kind of step (host-steered, sync-free, compiled)."""
    return {
        "sync_free": sync_free,
        "compile_step": compile_step,
        "ratio": {},
        "settings": {},
        "env_steps_per_s": {},
        "ms_per_step": {},
        "scaling": {"task": "permutation", "block_length": None, "policy": args.scaling_policy,
                    "steps": args.scaling_steps},
        "grpo": None,
        "skipped": {},
        "errors": {},
        "compile_fell_back": {},
    }  # fmt: skip


def run_part(args: argparse.Namespace, part: str, run: dict[str, Any], start: float) -> None:
    """Runs ``part`` into ``run``; a part that fails or is skipped is recorded (the caller goes on with the next).

    Past ``args.budget`` seconds from ``start`` it does not start.
    """
    parts = {"wide": wide_models, "llada": llada_model, "scaling": tiny_scaling, "grpo": grpo_split}
    if args.budget is not None and time.perf_counter() - start > args.budget:
        run["skipped"][part] = f"not started: past the --budget of {args.budget:g} s"
        log(f"{part} skipped: past the budget")
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parts[part](args, run)
        except Skipped as reason:
            run["skipped"][part] = str(reason)
            log(f"{part} skipped: {reason}")
        except Exception as error:  # a failed part must not cost the others' device time
            run["errors"][part] = f"{type(error).__name__}: {error}"
            traceback.print_exc()
    fell_back = sorted({str(warning.message) for warning in caught if "torch.compile failed" in str(warning.message)})
    if fell_back:  # a compiled pass that ran eager somewhere measured that, not the compiled step
        run["compile_fell_back"][part] = fell_back
        log(f"{part}: {fell_back}")
    release(args.device)


if __name__ == "__main__":
    sys.exit(main())
