"""Bad input to ``UnmaskVectorEnv`` raises a pinned error and leaves the env exactly as before (docs/mdp.md)."""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from unmask_gym.env import UnmaskVectorEnv
from unmask_gym.tasks.tokenizer import CharTokenizer
from unmask_gym.testing import CountingTask, FakeDiffusionLM

NUM_ENVS, ANSWER_LENGTH = 2, 4


def make_env(num_envs: int = NUM_ENVS, **kwargs: Any) -> UnmaskVectorEnv:
    """A small CPU env over the fake dLLM and its counting task (L = 4), with its own fresh model."""
    kwargs.setdefault("task", CountingTask(answer_length=ANSWER_LENGTH))
    kwargs.setdefault("model", FakeDiffusionLM())
    return UnmaskVectorEnv(num_envs, device="cpu", **kwargs)


def leftmost(action_mask: torch.Tensor) -> torch.Tensor:
    """A valid action for any ``strict``/``empty_action``: each row selects its leftmost selectable position."""
    first = action_mask.int().argmax(1)  # (N,)
    positions = torch.arange(action_mask.shape[1])
    return (positions[None, :] == first[:, None]) & action_mask.any(1, keepdim=True)


def snapshot(env: UnmaskVectorEnv) -> dict[str, Any]:
    """Everything a failed call must leave untouched: device state, bookkeeping, streams, noise seed, model calls."""
    state, book = env._state, env._book
    tensors = {}
    if state is not None:
        for name in ("canvas", "attention", "steps", "unmask_step", "running", "prompt_id", "episode_index"):
            tensors[name] = getattr(state, name).clone()
        for name in ("pred_token", "confidence", "margin", "entropy"):
            tensors[f"prediction.{name}"] = getattr(state.prediction, name).clone()
        if state.reference is not None:
            tensors["reference"] = state.reference.clone()
    streams = copy.deepcopy(env._streams)  # peek at the next prompt of each group without drawing it for real
    next_prompts = [
        streams.get(group, 0 if book is None else book.group_episode(group) + 1) for group in range(env.num_groups)
    ]
    return {
        "tensors": tensors,
        "prompt_id": None if book is None else book.prompt_id.copy().tolist(),
        "episode_index": None if book is None else book.episode_index.copy().tolist(),
        "prompts": None if book is None else list(book.prompts),
        "references": None if book is None else list(book.references),
        "streams": env._streams.snapshot(),
        "next_prompts": next_prompts,
        "seed": env._seed,
        "autoreset_pending": env._autoreset_pending.copy().tolist(),
        "model_calls": env.model.calls,
        "bank_age": env._bank_age,  # sync_free: steps since the prompt bank was built
    }


def assert_snapshots_equal(before: dict[str, Any], after: dict[str, Any], ignore: tuple[str, ...] = ()) -> None:
    """Compares two ``snapshot``s field by field (except the keys in ``ignore``)."""
    assert before["tensors"].keys() == after["tensors"].keys()
    for name, tensor in before["tensors"].items():
        assert torch.equal(tensor, after["tensors"][name]), name
    for key in ("seed", "prompt_id", "episode_index", "prompts", "references", "streams", "next_prompts",
                "autoreset_pending", "model_calls", "bank_age"):  # fmt: skip
        if key not in ignore:
            assert before[key] == after[key], key


def assert_tree_equal(left: Any, right: Any) -> None:
    """Exact equality of nested env outputs: tuples, dicts, tensors (dtype too) and numpy arrays."""
    if isinstance(left, dict):
        assert left.keys() == right.keys()
        for key in left:
            assert_tree_equal(left[key], right[key])
    elif isinstance(left, tuple | list):
        assert len(left) == len(right)
        for a, b in zip(left, right, strict=True):
            assert_tree_equal(a, b)
    elif isinstance(left, torch.Tensor):
        assert isinstance(right, torch.Tensor)
        assert left.dtype == right.dtype
        assert torch.equal(left, right)
    elif isinstance(left, np.ndarray):
        assert left.dtype == right.dtype
        assert left.tolist() == right.tolist()
    else:
        assert left == right


def assert_twins_step_alike(env: UnmaskVectorEnv, twin: UnmaskVectorEnv, observation: dict, steps: int = 3) -> None:
    """Steps both envs with the same valid actions; every output must be identical."""
    for _ in range(steps):
        action = leftmost(observation["action_mask"])
        result, twin_result = env.step(action.clone()), twin.step(action.clone())
        assert_tree_equal(result, twin_result)
        observation = twin_result[0]
    assert env.model.calls == twin.model.calls


def started_pair(steps: int = 1, **kwargs: Any) -> tuple[UnmaskVectorEnv, UnmaskVectorEnv, dict]:
    """An env and its twin, both reset with the same seed and stepped alike mid-episode; returns the last obs."""
    env, twin = make_env(**kwargs), make_env(**kwargs)
    observation, _ = env.reset(seed=7)
    twin_observation, _ = twin.reset(seed=7)
    assert_tree_equal(observation, twin_observation)
    for _ in range(steps):
        action = leftmost(observation["action_mask"])
        observation = env.step(action)[0]
        twin.step(action)
    return env, twin, observation


# ------------------------------------------------------------------------------------------------ step: actions
def _with_value(value: Any, dtype: Any, where: tuple[int, int] = (1, 2)) -> np.ndarray:
    array = np.zeros((NUM_ENVS, ANSWER_LENGTH), dtype=dtype)
    array[0, 0] = 1
    array[where] = value
    return array


SHAPE_MESSAGE = "actions must have shape (num_envs, answer_length) = (2, 4), got "
BINARY_MESSAGE = "actions must hold only 0 and 1, got "

NON_BINARY_ACTIONS = {
    "nan": (float("nan"), "nan"),
    "inf": (float("inf"), "inf"),
    "minus-inf": (float("-inf"), "-inf"),
    "half": (0.5, "0.5"),
    "two": (2, "2"),
    "minus-one": (-1, "-1"),
}


@pytest.mark.parametrize("container", ["numpy", "torch"])
@pytest.mark.parametrize("name", sorted(NON_BINARY_ACTIONS))
def test_a_value_other_than_0_or_1_is_refused_and_the_env_is_unchanged(container: str, name: str) -> None:
    value, shown = NON_BINARY_ACTIONS[name]
    dtype = np.float32 if isinstance(value, float) else np.int64
    bad = _with_value(value, dtype)
    if container == "torch":
        bad = torch.from_numpy(bad)
    env, twin, observation = started_pair()
    before = snapshot(env)
    with pytest.raises(ValueError, match=re.escape(BINARY_MESSAGE)) as error:
        env.step(bad)
    assert str(error.value).endswith(f"{shown}) at index (1, 2)")
    assert_snapshots_equal(before, snapshot(env))
    assert_twins_step_alike(env, twin, observation)


SHAPE_CASES = {
    "numpy-one-position-short": (lambda: np.zeros((2, 3), np.int8), "(2, 3)"),
    "numpy-transposed": (lambda: np.zeros((4, 2), np.int8), "(4, 2)"),
    "numpy-flat": (lambda: np.zeros(8, np.int8), "(8,)"),
    "numpy-extra-dim": (lambda: np.zeros((2, 4, 1), np.int8), "(2, 4, 1)"),
    "numpy-scalar": (lambda: np.int8(1), "()"),
    "torch-one-position-long": (lambda: torch.zeros(2, 5), "(2, 5)"),
    "torch-bool-one-row": (lambda: torch.ones(1, 4, dtype=torch.bool), "(1, 4)"),
    "list-one-row": (lambda: [[1, 0, 0, 0]], "(1, 4)"),
    "list-rows-too-short": (lambda: [[1, 0, 0], [1, 0, 0]], "(2, 3)"),
    "list-three-rows": (lambda: [[1, 0, 0, 0]] * 3, "(3, 4)"),
    "ragged-list": (lambda: [[1, 0, 0, 0], [1]], "a ragged list"),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_an_action_of_the_wrong_shape_is_refused_and_the_env_is_unchanged(name: str) -> None:
    factory, shown = SHAPE_CASES[name]
    env, twin, observation = started_pair()
    before = snapshot(env)
    with pytest.raises(ValueError, match=re.escape(SHAPE_MESSAGE + shown)):
        env.step(factory())
    assert_snapshots_equal(before, snapshot(env))
    assert_twins_step_alike(env, twin, observation)


DTYPE_CASES = {
    "numpy-complex": (lambda: np.ones((2, 4), np.complex128), "got dtype complex128 (ndarray)"),
    "numpy-strings": (lambda: np.full((2, 4), "1"), "got dtype <U1 (ndarray)"),
    "numpy-object": (lambda: np.full((2, 4), None, dtype=object), "got dtype object (ndarray)"),
    "list-of-strings": (lambda: [["1"] * 4] * 2, "got dtype <U1 (list)"),
    "torch-complex": (lambda: torch.ones(2, 4, dtype=torch.complex64), "tensor, got dtype torch.complex64"),
    "string": (lambda: "1010", "got dtype <U4 (str)"),
}


@pytest.mark.parametrize("name", sorted(DTYPE_CASES))
def test_an_action_of_a_non_numeric_type_is_refused_with_a_type_error_and_the_env_is_unchanged(name: str) -> None:
    factory, message = DTYPE_CASES[name]
    env, twin, observation = started_pair()
    before = snapshot(env)
    with pytest.raises(TypeError, match=re.escape(message)):
        env.step(factory())
    assert_snapshots_equal(before, snapshot(env))
    assert_twins_step_alike(env, twin, observation)


@pytest.mark.parametrize(
    "factory",
    [
        lambda: np.ones((2, 4), np.float16),
        lambda: np.ones((2, 4), np.uint8),
        lambda: np.ones((2, 4), bool),
        lambda: torch.ones(2, 4, dtype=torch.float64),
        lambda: torch.ones(2, 4, dtype=torch.int32),
        lambda: torch.ones(2, 4, dtype=torch.uint16),
        lambda: [[1.0] * 4, [1] * 4],
    ],
    ids=["numpy-float16", "numpy-uint8", "numpy-bool", "torch-float64", "torch-int32", "torch-uint16", "list"],
)
def test_every_accepted_action_container_commits_the_same_positions(factory: Any) -> None:
    env, twin = make_env(), make_env()
    env.reset(seed=3)
    twin.reset(seed=3)
    assert_tree_equal(env.step(factory()), twin.step(torch.ones(2, 4, dtype=torch.bool)))


@pytest.mark.parametrize("bad_row", [0, 1])
def test_strict_mode_refuses_a_selection_outside_action_mask_and_the_env_is_unchanged(bad_row: int) -> None:
    env, twin, observation = started_pair(strict=True)
    committed = (~observation["masked"][bad_row]).nonzero()[0, 0]  # the first step committed this position
    bad = leftmost(observation["action_mask"])
    bad[bad_row, committed] = True
    before = snapshot(env)
    message = (
        "strict=True: actions select positions outside action_mask (committed, outside the current block, or in "
        f"a finished episode) in envs [{bad_row}]"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        env.step(bad)
    assert_snapshots_equal(before, snapshot(env))
    assert_twins_step_alike(env, twin, observation)


def test_strict_mode_refuses_a_position_outside_the_current_block() -> None:
    env, twin, observation = started_pair(strict=True, block_length=2, steps=0)
    bad = leftmost(observation["action_mask"])
    bad[1, 3] = True  # block 1 is not open yet
    before = snapshot(env)
    with pytest.raises(ValueError, match=re.escape("outside action_mask (committed, outside the current block")):
        env.step(bad)
    assert_snapshots_equal(before, snapshot(env))
    assert_twins_step_alike(env, twin, observation)


def test_without_strict_mode_a_selection_outside_action_mask_is_ignored() -> None:
    env, twin, observation = started_pair(block_length=2)
    noisy = leftmost(observation["action_mask"]) | ~observation["action_mask"]
    assert_tree_equal(env.step(noisy), twin.step(leftmost(observation["action_mask"])))


def test_empty_action_error_refuses_a_row_that_selects_nothing_and_the_env_is_unchanged() -> None:
    env, twin, observation = started_pair(empty_action="error")
    bad = leftmost(observation["action_mask"])
    bad[0] = False
    before = snapshot(env)
    with pytest.raises(ValueError, match=re.escape("empty_action='error': envs [0] selected no position inside")):
        env.step(bad)
    assert_snapshots_equal(before, snapshot(env))
    assert_twins_step_alike(env, twin, observation)


def test_empty_action_error_counts_a_selection_outside_action_mask_as_empty() -> None:
    env, _, observation = started_pair(empty_action="error")
    outside = ~observation["action_mask"]  # row 0 and 1 select only committed positions
    before = snapshot(env)
    with pytest.raises(ValueError, match=re.escape("empty_action='error': envs [0, 1] selected no position")):
        env.step(outside)
    assert_snapshots_equal(before, snapshot(env))


def test_stepping_before_reset_raises_a_runtime_error() -> None:
    env = make_env()
    with pytest.raises(RuntimeError, match=re.escape("call reset() before step()")):
        env.step(np.ones((2, 4), np.int8))
    assert env.model.calls == 0
    twin = make_env()
    assert_tree_equal(env.reset(seed=1), twin.reset(seed=1))


def test_stepping_or_resetting_after_close_raises_a_runtime_error() -> None:
    env, _, _ = started_pair()
    env.close()
    calls = env.model.calls
    with pytest.raises(RuntimeError, match=re.escape("this UnmaskVectorEnv was closed; make a new one")):
        env.step(np.ones((2, 4), np.int8))
    with pytest.raises(RuntimeError, match=re.escape("this UnmaskVectorEnv was closed; make a new one")):
        env.reset(seed=0)
    with pytest.raises(RuntimeError, match=re.escape("this UnmaskVectorEnv was closed")):
        _ = env.running
    assert env.model.calls == calls


# ------------------------------------------------------------------------------------------------ step: reward
class ScriptedReward:
    """A TRL-style reward function that misbehaves in the way ``failure`` names (None: nfe / 10 per completion)."""

    def __init__(self, failure: str | None) -> None:
        self.failure = failure
        self.calls = 0

    def __call__(self, prompts: list[str], completions: list[str], **kwargs: Any) -> list[Any]:
        """Returns one reward per completion, or misbehaves."""
        self.calls += 1
        if self.failure == "raise":
            raise ZeroDivisionError("no reward today")
        if self.failure == "length":
            return [1.0] * (len(completions) + 1)
        if self.failure == "nan":
            return [float("nan")] * len(completions)
        if self.failure == "text":
            return ["high"] * len(completions)
        return [nfe / 10 for nfe in kwargs["nfe"]]


REWARD_FAILURES = {
    "raise": (RuntimeError, "raised ZeroDivisionError: no reward today"),
    "length": (ValueError, "the reward callable returned 3 rewards for 2 completions"),
    "nan": (ValueError, "the reward callable returned a non-finite reward: [nan, nan]"),
    "text": (ValueError, "the reward callable must return a sequence of numbers, got list"),
}


@pytest.mark.parametrize("failure", sorted(REWARD_FAILURES))
@pytest.mark.parametrize(("autoreset_mode", "sync_free"), [
    (AutoresetMode.SAME_STEP, False), (AutoresetMode.NEXT_STEP, False), (AutoresetMode.SAME_STEP, True)])  # fmt: skip
def test_a_failing_reward_callable_raises_at_the_episode_end_and_leaves_the_env_unchanged(
    failure: str, autoreset_mode: AutoresetMode, sync_free: bool
) -> None:
    error_type, message = REWARD_FAILURES[failure]
    reward = ScriptedReward(failure)
    env = make_env(reward=reward, autoreset_mode=autoreset_mode, sync_free=sync_free)
    twin = make_env(reward=ScriptedReward(None), autoreset_mode=autoreset_mode, sync_free=sync_free)
    env.reset(seed=7)
    twin.reset(seed=7)
    # A step that ends no episode never calls the reward function, so it succeeds.
    nothing = torch.zeros(2, 4, dtype=torch.bool)
    observation = env.step(nothing)[0]
    twin.step(nothing)
    assert reward.calls == 0
    before = snapshot(env)
    with pytest.raises(error_type, match=re.escape(message)):
        env.step(observation["action_mask"])  # commits everything: both episodes end
    assert reward.calls == 1
    # The step's forward is queued before scoring (so that on a GPU it overlaps the host's decoding): with SAME_STEP
    # the restarted episodes' forward ran (sync_free: every row's), and its result was dropped with the failed step.
    dropped_forwards = int(autoreset_mode == AutoresetMode.SAME_STEP)
    assert snapshot(env)["model_calls"] == before["model_calls"] + dropped_forwards
    assert_snapshots_equal(before, snapshot(env), ignore=("model_calls",))
    env.model.calls -= dropped_forwards  # from here on the twins must call their models alike
    reward.failure = None
    result, twin_result = env.step(observation["action_mask"]), twin.step(observation["action_mask"])
    assert_tree_equal(result, twin_result)
    assert result[1].tolist() == pytest.approx([0.2, 0.2])  # the twin's callable: nfe / 10 with nfe = 2
    assert_twins_step_alike(env, twin, result[0])


# ------------------------------------------------------------------------------------------------ reset
SEED_CASES = {
    "float": (1.5, TypeError, "seed must be an int or None, got 1.5 of type float"),
    "integral-float": (3.0, TypeError, "seed must be an int or None, got 3.0 of type float"),
    "string": ("3", TypeError, "seed must be an int or None, got '3' of type str"),
    "bool": (True, TypeError, "seed must be an int or None, got True of type bool"),
    "negative": (-1, ValueError, "seed must be >= 0, got -1"),
    "numpy-negative": (np.int64(-5), ValueError, "seed must be >= 0, got -5"),
    "tensor": (torch.tensor(3), TypeError, "seed must be an int or None, got tensor(3) of type Tensor"),
}

MASK_MESSAGE = "options['reset_mask'] must"
OPTION_CASES = {
    "unknown-key": (
        {"seeds": [1, 2]},
        ValueError,
        "unknown reset options ['seeds']; valid options are reset_mask, prompts",
    ),
    "two-unknown-keys": ({"prompt": "1:123", "b": 1}, ValueError, "unknown reset options ['b', 'prompt']"),
    "options-list": ([("seed", 1)], TypeError, "options must be a dict or None, got [('seed', 1)] of type list"),
    "options-string": ("prompts", TypeError, "options must be a dict or None, got 'prompts' of type str"),
    "mask-int-dtype": (
        {"reset_mask": np.array([1, 1])},
        TypeError,
        f"{MASK_MESSAGE} be a bool array or tensor, got dtype int64",
    ),
    "mask-float-tensor": ({"reset_mask": torch.ones(2)}, TypeError, "got dtype float32"),
    "mask-list-of-ints": ({"reset_mask": [1, 0]}, TypeError, "got dtype int64"),
    "mask-too-long": ({"reset_mask": np.ones(3, bool)}, ValueError, f"{MASK_MESSAGE} have shape (2,), got (3,)"),
    "mask-2d": ({"reset_mask": torch.ones(1, 2, dtype=torch.bool)}, ValueError, "have shape (2,), got (1, 2)"),
    "prompts-too-few": (
        {"prompts": ["1:123"]},
        ValueError,
        "options['prompts'] must hold num_envs / group_size = 2 prompts, got 1",
    ),
    "prompts-too-many": ({"prompts": ["1:123"] * 3}, ValueError, "= 2 prompts, got 3"),
    "prompts-string": ({"prompts": "1:123"}, TypeError, "options['prompts'] must be a list of strings, one per group"),
    "prompts-ints": ({"prompts": [1, 2]}, TypeError, "options['prompts'] must be a list of strings"),
    "prompts-int": ({"prompts": 5}, TypeError, "options['prompts'] must be a list of strings"),
    "prompts-too-long": (
        {"prompts": ["1:123", "4:5678901"]},
        ValueError,
        "'4:5678901' is not a Counting prompt: expected 'n:x' with n in 1..L",
    ),
    "prompts-unknown-character": (
        {"prompts": ["1:123", "1:€23"]},
        ValueError,
        "'1:€23' is not a Counting prompt",
    ),
    "references-without-prompts": (
        {"references": ["1"] * 2},
        ValueError,
        "options['references'] needs options['prompts']",
    ),
    "references-wrong-count": (
        {"prompts": ["1:123", "2:345"], "references": ["1"]},
        ValueError,
        "options['references'] must hold 2 references, got 1",
    ),
}


def _bad_reset_cases() -> list[Any]:
    cases = [pytest.param({"seed": seed}, err, msg, id=f"seed-{name}") for name, (seed, err, msg) in SEED_CASES.items()]
    cases += [pytest.param({"options": o}, err, msg, id=name) for name, (o, err, msg) in OPTION_CASES.items()]
    return cases


@pytest.mark.parametrize(("kwargs", "error_type", "message"), _bad_reset_cases())
def test_a_bad_reset_mid_episode_raises_and_leaves_the_env_unchanged(
    kwargs: dict, error_type: type[Exception], message: str
) -> None:
    env, twin, observation = started_pair()
    before = snapshot(env)
    with pytest.raises(error_type, match=re.escape(message)):
        env.reset(**kwargs)
    assert_snapshots_equal(before, snapshot(env))
    assert_twins_step_alike(env, twin, observation)


@pytest.mark.parametrize(("kwargs", "error_type", "message"), _bad_reset_cases())
def test_a_bad_first_reset_raises_and_a_later_reset_matches_a_fresh_env(
    kwargs: dict, error_type: type[Exception], message: str
) -> None:
    env, twin = make_env(), make_env()
    before = snapshot(env)
    with pytest.raises(error_type, match=re.escape(message)):
        env.reset(**kwargs)
    assert_snapshots_equal(before, snapshot(env))
    assert env._state is None
    observation, info = env.reset(seed=11)
    assert_tree_equal((observation, info), twin.reset(seed=11))
    assert_twins_step_alike(env, twin, observation)


@pytest.mark.parametrize(
    "kwargs",
    [{"seed": 3}, {"options": {"prompts": ["1:123", "2:345"]}}],
    ids=["seed", "prompts"],
)
def test_a_partial_reset_mask_is_refused_with_a_seed_or_prompts(kwargs: dict) -> None:
    env, twin, observation = started_pair()
    options = {**kwargs.get("options", {}), "reset_mask": np.array([True, False])}
    before = snapshot(env)
    message = "reset_mask must select every slot on the first reset and when seed or prompts is given"
    with pytest.raises(ValueError, match=re.escape(message)):
        env.reset(seed=kwargs.get("seed"), options=options)
    assert_snapshots_equal(before, snapshot(env))
    assert_twins_step_alike(env, twin, observation)


def test_a_partial_reset_mask_is_refused_on_the_first_reset() -> None:
    env = make_env()
    with pytest.raises(ValueError, match=re.escape("reset_mask must select every slot on the first reset")):
        env.reset(options={"reset_mask": torch.tensor([True, False])})
    assert env._state is None
    assert env.model.calls == 0


def test_prompts_of_a_grouped_env_count_groups_not_slots() -> None:
    env, twin = make_env(4, group_size=2), make_env(4, group_size=2)
    env.reset(seed=0)
    twin.reset(seed=0)
    before = snapshot(env)
    message = "options['prompts'] must hold num_envs / group_size = 2 prompts, got 4"
    with pytest.raises(ValueError, match=re.escape(message)):
        env.reset(options={"prompts": ["1:123", "2:345", "3:456", "4:567"]})
    assert_snapshots_equal(before, snapshot(env))
    result = env.reset(options={"prompts": ["1:123", "2:345"]})
    assert_tree_equal(result, twin.reset(options={"prompts": ["1:123", "2:345"]}))
    assert env._book.prompts == ["1:123", "1:123", "2:345", "2:345"]


# ------------------------------------------------------------------------------------------------ constructor
CONSTRUCTOR_CASES = {
    "num_envs-zero": ({"num_envs": 0}, ValueError, "num_envs must be >= 1, got 0"),
    "num_envs-negative": ({"num_envs": -1}, ValueError, "num_envs must be >= 1, got -1"),
    "num_envs-float": ({"num_envs": 1.5}, TypeError, "num_envs must be an int, got 1.5 of type float"),
    "num_envs-bool": ({"num_envs": True}, TypeError, "num_envs must be an int, got True of type bool"),
    "group_size-not-dividing": (
        {"num_envs": 3, "group_size": 2},
        ValueError,
        "num_envs=3 must be a multiple of group_size=2",
    ),
    "group_size-zero": ({"group_size": 0}, ValueError, "group_size must be >= 1, got 0"),
    "block_length-not-dividing": (
        {"block_length": 3},
        ValueError,
        "block_length=3 must divide answer_length=4; pass a block_length that does, or None for full diffusion",
    ),
    "block_length-longer": ({"block_length": 8}, ValueError, "block_length=8 must divide answer_length=4"),
    "block_length-zero": ({"block_length": 0}, ValueError, "block_length must be >= 1, got 0"),
    "block_length-float": (
        {"block_length": 2.0},
        TypeError,
        "block_length must be an int or None, got 2.0 of type float",
    ),
    "alpha-negative": ({"alpha": -0.5}, ValueError, "alpha must be a finite number >= 0.0, got -0.5"),
    "alpha-nan": ({"alpha": float("nan")}, ValueError, "alpha must be a finite number >= 0.0, got nan"),
    "alpha-inf": ({"alpha": math.inf}, ValueError, "alpha must be a finite number >= 0.0, got inf"),
    "alpha-string": ({"alpha": "1"}, TypeError, "alpha must be a number, got '1' of type str"),
    "temperature-negative": ({"temperature": -1.0}, ValueError, "temperature must be a finite number >= 0.0, got -1.0"),
    "temperature-nan": (
        {"temperature": float("nan")},
        ValueError,
        "temperature must be a finite number >= 0.0, got nan",
    ),
    "reward-unknown": (
        {"reward": "linear"},
        ValueError,
        "reward must be one of ('multiplicative', 'additive'), got 'linear'",
    ),
    "empty_action-unknown": (
        {"empty_action": "skip"},
        ValueError,
        "empty_action must be one of ('noop', 'top_confidence', 'error'), got 'skip'",
    ),
    "autoreset_mode-unknown": (
        {"autoreset_mode": "Sometimes"},
        ValueError,
        f"autoreset_mode must be one of {[m.value for m in AutoresetMode]}, got 'Sometimes'",
    ),
    "split-unknown": ({"split": "test"}, ValueError, "split must be one of ('train', 'eval'), got 'test'"),
    "max_nfe-zero": ({"max_nfe": 0}, ValueError, "max_nfe must be >= 1, got 0"),
    "max_episode_steps-zero": ({"max_episode_steps": 0}, ValueError, "max_episode_steps must be >= 1, got 0"),
    "strict-string": ({"strict": "yes"}, TypeError, "strict must be a bool, got 'yes'"),
    "top_k-negative": ({"top_k": -1}, ValueError, "top_k must be >= 0, got -1"),
    "num_prompts-zero": ({"num_prompts": 0}, ValueError, "num_prompts must be >= 1, got 0"),
    "answer_length-zero": ({"answer_length": 0}, ValueError, "answer_length must be >= 1, got 0"),
    "tokenizer-mismatch": (
        {"model": FakeDiffusionLM(tokenizer=CharTokenizer("0123456789"))},
        ValueError,
        "the model's tokenizer CharTokenizer(vocab_size=13) does not match task 'Counting''s tokenizer "
        "CharTokenizer(vocab_size=83): the model cannot read this task's prompts",
    ),
    "model-without-protocol": (
        {"model": object()},
        TypeError,
        "model must implement the DiffusionLM protocol; it has no 'mask_token_id'",
    ),
    "task-without-score": (
        {"task": object()},
        TypeError,
        "task must be a built-in task name or implement the Task protocol",
    ),
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTOR_CASES))
def test_a_bad_constructor_argument_raises_a_pinned_error(name: str) -> None:
    kwargs, error_type, message = CONSTRUCTOR_CASES[name]
    kwargs = dict(kwargs)
    num_envs = kwargs.pop("num_envs", NUM_ENVS)
    with pytest.raises(error_type, match=re.escape(message)):
        make_env(num_envs, **kwargs)


def test_a_model_whose_tokenizer_equals_the_tasks_is_accepted() -> None:
    env = make_env(model=FakeDiffusionLM(tokenizer=CharTokenizer()))
    observation, _ = env.reset(seed=0)
    assert observation["masked"].all()


@pytest.mark.parametrize(
    "prompts",
    [("1:123", "2:345"), np.array(["1:123", "2:345"], dtype=object)],
    ids=["tuple", "numpy-object-array"],
)
def test_prompts_given_as_a_tuple_or_a_numpy_array_of_strings_are_accepted(prompts: Any) -> None:
    env, twin = make_env(), make_env()
    result = env.reset(seed=0, options={"prompts": prompts})
    assert_tree_equal(result, twin.reset(seed=0, options={"prompts": ["1:123", "2:345"]}))
    assert env._book.prompts == ["1:123", "2:345"]


@pytest.mark.parametrize("autoreset_mode", [AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED])
def test_a_bad_step_or_reset_while_episodes_await_their_reset_leaves_the_env_unchanged(
    autoreset_mode: AutoresetMode,
) -> None:
    env, twin, observation = started_pair(autoreset_mode=autoreset_mode, steps=0)
    everything = observation["action_mask"].clone()
    everything[1] = False  # row 0 ends now; row 1 keeps running
    observation, *_ = env.step(everything)
    twin.step(everything)
    assert env._state.running.tolist() == [False, True]
    before = snapshot(env)
    assert before["autoreset_pending"] == [autoreset_mode == AutoresetMode.NEXT_STEP, False]
    with pytest.raises(ValueError, match=re.escape(BINARY_MESSAGE)):
        env.step(_with_value(2, np.int64))
    with pytest.raises(ValueError, match=re.escape("options['reset_mask'] must have shape (2,), got (1,)")):
        env.reset(options={"reset_mask": np.array([True])})
    assert_snapshots_equal(before, snapshot(env))
    if autoreset_mode == AutoresetMode.DISABLED:
        mask = np.array([True, False])
        result = env.reset(options={"reset_mask": mask})
        assert_tree_equal(result, twin.reset(options={"reset_mask": mask}))
        observation = result[0]
    assert_twins_step_alike(env, twin, observation)


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("gpu", "device must name a torch device such as 'cpu' or 'cuda:0', got 'gpu'"),
        ("meta", "device 'meta' is not available here; available devices: ['cpu'"),
        (["cpu"], "device must be a str, int or torch.device"),
    ],
)
def test_a_bad_device_is_refused_naming_the_available_ones(device, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        UnmaskVectorEnv(1, task=CountingTask(ANSWER_LENGTH), model=FakeDiffusionLM(), device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where CUDA is missing")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps"])
def test_an_unavailable_device_is_refused_before_anything_loads(device) -> None:
    with pytest.raises(ValueError, match=re.escape("is not available here; available devices: ['cpu'")):
        UnmaskVectorEnv(1, task="addition", device=device)


def test_an_answer_length_the_shipped_model_was_not_trained_for_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("answer_length=8 differs from task 'Permutation''s 16")):
        UnmaskVectorEnv(1, task="permutation", answer_length=8)


@pytest.mark.parametrize(
    ("action", "shown"),
    [(np.zeros((1, 4, 4)), "(1, 4, 4)"), (np.zeros((1, 4)), "(1, 4)"), (torch.zeros(5), "(5,)"), ([1, 0], "(2,)"),
     ([[1, 0], [1]], "of a ragged list")],
)  # fmt: skip
def test_the_single_env_names_its_own_action_shape_and_is_unchanged(action: Any, shown: str) -> None:
    from unmask_gym.single_env import UnmaskEnv

    env = UnmaskEnv(task=CountingTask(answer_length=4), model=FakeDiffusionLM())
    env.reset(seed=0)
    before = snapshot(env.vector_env)
    with pytest.raises(ValueError, match=re.escape(f"action must have shape (answer_length,) = (4,), one 0/1 value "
                                                   f"per answer position; got shape {shown}")):  # fmt: skip
        env.step(action)
    assert_snapshots_equal(before, snapshot(env.vector_env))
    env.step(np.array([1, 0, 0, 0]))  # a right one still steps
