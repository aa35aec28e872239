"""``compile_step``: the sync-free step's two halves through ``torch.compile``, equal to the eager step.

The eager sync-free step is the reference (``test_sync_free.py`` holds it to the host-steered step): on the same
seed and actions, tokens, flags and integer infos are equal, and the features equal within float rounding (the
compiled reductions may add in another order).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from test_sync_free import SETTINGS, play, policy_for

from unmask_gym import UnmaskVectorEnv
from unmask_gym.bank import MIN_BANK_EPISODES
from unmask_gym.state import EnvState


def assert_tree_close(left, right, path="") -> None:
    """Nested env outputs equal: integers and bools exactly, floats within 1e-5."""
    if isinstance(left, dict):
        assert left.keys() == right.keys(), path
        for key in left:
            assert_tree_close(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, tuple | list):
        assert len(left) == len(right), path
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_tree_close(a, b, f"{path}[{index}]")
    elif isinstance(left, torch.Tensor):
        assert isinstance(right, torch.Tensor) and left.dtype == right.dtype and left.shape == right.shape, path
        if left.is_floating_point():
            assert torch.allclose(left, right, atol=1e-5, rtol=1e-5), path
        else:
            assert torch.equal(left, right), path
    elif isinstance(left, np.ndarray):
        assert np.array_equal(left, right), path
    else:
        assert left == right, path


@pytest.mark.slow
@pytest.mark.parametrize("name", ["full", "sampling", "grouped-truncated", "disabled"])
def test_a_compiled_step_gives_the_eager_steps_episodes(name):
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    steps = MIN_BANK_EPISODES + 5  # past a bank refill
    setting = SETTINGS[name]
    eager = play(setting, True, steps, policy_for(name))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "compile_step")  # a failed compilation warns and runs eager: not tested here
        compiled = play({**setting, "compile_step": True}, True, steps, policy_for(name))
    assert_tree_close(compiled, eager)
    assert sum(int((result[2] | result[3]).sum()) for result in eager[1:]) > 16  # many ended and restarted
    counters = torch._dynamo.utils.counters
    assert not counters["graph_break"], f"the step should compile whole: {dict(counters['graph_break'])}"
    assert counters["stats"]["unique_graphs"] >= 2  # both halves compiled (not left to eager by dynamo)


@pytest.mark.slow
def test_new_seeds_and_bank_refills_reuse_the_compiled_graphs():
    torch._dynamo.reset()
    env = UnmaskVectorEnv(8, task="permutation", block_length=4, temperature=0.5, sync_free=True, compile_step=True)
    policy = policy_for("semi_ar")
    obs, _ = env.reset(seed=0)
    for _ in range(3):  # compiles: the reset's state, then the steady state
        obs, *_ = env.step(policy(obs))
    with torch.compiler.set_stance("fail_on_recompile"):
        for seed in (1, 2):
            obs, _ = env.reset(seed=seed)
            for _ in range(MIN_BANK_EPISODES + 2):
                obs, *_ = env.step(policy(obs))


def test_a_failed_compilation_runs_the_eager_step_with_one_warning(monkeypatch):
    def broken_compile(function, **kwargs):
        def fails(*args, **kwargs):
            raise RuntimeError("no C++ compiler\nmore detail")

        return fails

    monkeypatch.setattr(torch, "compile", broken_compile)
    setting = SETTINGS["semi_ar"]
    with pytest.warns(UserWarning, match=re.escape("compile_step: torch.compile failed (RuntimeError: no C++ "
                                                   "compiler); it runs eager instead")) as caught:  # fmt: skip
        compiled = play({**setting, "compile_step": True}, True, 6, policy_for("semi_ar"))
    assert len([w for w in caught if "compile_step" in str(w.message)]) == 2  # once per half, then quiet
    assert_tree_close(compiled, play(setting, True, 6, policy_for("semi_ar")))


@pytest.mark.parametrize(("arguments", "message"), [
    ({"compile_step": "fastest", "sync_free": True}, "compile_step must be a bool or a torch.compile mode"),
    ({"compile_step": 1, "sync_free": True}, "compile_step must be a bool or a torch.compile mode"),
    ({"compile_step": True}, "compile_step compiles the sync-free step (static shapes, no host round trip): it "
                             "needs sync_free=True"),
    ({"compile_step": True, "sync_free": True, "reward": lambda prompts, completions, **kwargs: [0.0] * len(prompts)},
     "compile_step compiles a step scored on the device, and here a callable reward reads the decoded texts"),
])  # fmt: skip
def test_compile_step_refuses_what_it_cannot_compile(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        UnmaskVectorEnv(2, task="permutation", **arguments)


def test_a_state_keeps_its_masks_but_a_compiled_trace_recomputes_them(monkeypatch):
    env = UnmaskVectorEnv(2, task="permutation", sync_free=True)
    env.reset(seed=0)
    state: EnvState = env._state
    assert state.action_mask is state.action_mask  # computed once, kept in the instance
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    fresh = state.replace()
    assert fresh.masked is not fresh.masked and "masked" not in fresh.__dict__  # no side effect inside a graph


@pytest.mark.slow
def test_a_compiled_step_on_cpu_accepts_every_torch_compile_mode():
    torch._dynamo.reset()
    setting = {**SETTINGS["full"], "compile_step": "reduce-overhead"}  # CUDA graphs: skipped on CPU, still compiled
    assert_tree_close(play(setting, True, 4, policy_for("full")), play(SETTINGS["full"], True, 4, policy_for("full")))

