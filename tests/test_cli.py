"""The ``unmask-gym`` command: each subcommand on tiny settings."""

from __future__ import annotations

import json
import sys

import pytest

from unmask_gym.cli import main
from unmask_gym.evaluation import evaluate, make_eval_env
from unmask_gym.heuristics import make_policy
from unmask_gym.tasks import make_task


def test_eval_writes_json_that_matches_a_direct_evaluate_call(tmp_path, capsys):
    out = tmp_path / "result.json"
    spec = "fast_dllm_threshold:threshold=0.9"
    assert (
        main(["eval", "--task", "addition", "--policy", spec, "--episodes", "48", "--seed", "3", "--out", str(out)])
        == 0
    )
    written = json.loads(out.read_text())
    direct = evaluate(make_eval_env("addition", 48), make_policy(spec), seed=3)
    assert written["accuracy"] == direct.accuracy and written["mean_nfe"] == direct.mean_nfe
    assert written["episodes"] == 48 and "accuracy" in capsys.readouterr().out
    assert written["block_length"] == 4  # the task's default, as in UnmaskGym/Addition-v0


def test_eval_and_replay_take_the_same_block_length_defaults_as_the_env_ids(tmp_path):
    import gymnasium as gym

    registered = gym.spec("UnmaskGym/Permutation-v0").kwargs["block_length"]
    assert make_eval_env("permutation", 4).block_length == registered
    out = tmp_path / "full.json"
    assert main(["eval", "--task", "permutation", "--policy", "top_k_confidence:k=4", "--episodes", "4",
                 "--block-length", "none", "--out", str(out)]) == 0  # fmt: skip
    assert json.loads(out.read_text())["block_length"] is None


@pytest.mark.parametrize(
    ("task", "prompt", "message"),
    [
        ("permutation", "hello world", "'hello world' is not a Permutation prompt: expected 4 to 10 digits in non-"),
        ("addition", "12+34=", "'12+34=' is not an Addition prompt: expected two 6-digit zero-padded numbers"),
    ],
)
def test_replay_refuses_a_prompt_that_is_not_in_the_tasks_format(capsys, task, prompt, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", "--task", task, "--prompt", prompt])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_block_length_flag_refuses_what_is_neither_an_int_nor_none(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--task", "addition", "--policy", "top_k_confidence:k=4", "--block-length", "0"])
    assert "expected a positive int, 'none' or 'task', got '0'" in capsys.readouterr().err


def test_help_does_not_import_torch():
    import subprocess

    code = "import sys, unmask_gym.cli; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_bench_prints_a_table_and_writes_json_and_png(tmp_path, capsys):
    assert main(["bench", "--task", "addition", "--quick", "--episodes", "16", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "bench_addition.json").read_text())
    assert data["schema"] == "unmask-gym-bench/1" and data["distinct_prompts"] == 16
    assert set(data["settings"]) == {"semi_ar", "full"} and data["settings"]["semi_ar"]["block_length"] == 4
    assert len(data["settings"]["full"]["heuristics"]) == 4
    assert (tmp_path / "bench_addition.png").stat().st_size > 1000
    assert "a vertex of the heuristic hull" in capsys.readouterr().out


def test_replay_prints_every_step_and_the_verdict(capsys):
    assert main(["replay", "--task", "addition", "--policy", "top_k_confidence:k=4", "--prompt", "000012+000034="]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("prompt '000012+000034='")
    assert lines[-1].startswith("completion '0000046'  correct")
    assert len(lines) == 2 + 3  # ceil(12 / 4) steps


def test_an_unknown_policy_is_a_usage_error_listing_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--task", "addition", "--policy", "greedy", "--episodes", "4"])
    assert exit_info.value.code == 2
    assert "unknown policy 'greedy'; valid policies are" in capsys.readouterr().err


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("bench", "eval", "replay", "demo", "train-dllm"):
        assert command in out


def test_demo_prints_both_rules_with_their_accuracy(capsys):
    assert main(["demo", "--task", "addition", "--episodes", "16", "--num-envs", "8"]) == 0
    out = capsys.readouterr().out
    assert "one per step (most confident)" in out and "everything in one pass" in out


def test_train_dllm_writes_a_checkpoint_that_loads_with_its_recipe(tmp_path, capsys):
    from unmask_gym.models import load_model_file

    out = tmp_path / "tiny.pt"
    assert main(["train-dllm", "--task", "sudoku", "--steps", "2", "--batch-size", "8", "--out", str(out)]) == 0
    model = load_model_file(out)
    assert model.metadata["task"] == "Sudoku"
    assert model.metadata["train_config"]["steps"] == 2
    printed = capsys.readouterr()
    assert json.loads(printed.out.strip().splitlines()[-1])["checkpoint"] == str(out)
    assert "train Sudoku" in printed.err  # the progress bar: on stderr, never in the output
    assert main(["train-dllm", "--task", "sudoku", "--steps", "2", "--batch-size", "8", "--out", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    assert "train Sudoku" not in capsys.readouterr().err


def test_train_dllm_defaults_to_the_shipped_recipe_of_the_task(tmp_path, monkeypatch):
    import unmask_gym.models.training as training

    seen = {}

    def fake_train(task, config, device, on_step):
        seen["steps"] = config.steps
        return training.TinyMDLM(training.TinyMDLMConfig(vocab_size=83, max_length=8, d_model=8, n_layers=1, d_ff=8))

    monkeypatch.setattr(training, "train_dllm", fake_train)
    assert main(["train-dllm", "--task", "statetracking", "--out", str(tmp_path / "m.pt")]) == 0
    assert seen["steps"] == make_task("statetracking").train_steps == 5000


def test_bench_without_matplotlib_still_writes_json_and_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    assert main(["bench", "--task", "addition", "--quick", "--episodes", "8", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "bench_addition.json").exists()
    assert not (tmp_path / "bench_addition.png").exists()
    assert 'no plot: plotting needs matplotlib: pip install "unmask-gym[plot]"' in capsys.readouterr().out


def test_the_clis_block_length_sentinel_is_the_configs():
    from unmask_gym import cli, config

    assert cli.TASK_DEFAULT == config.TASK_DEFAULT  # cli keeps a copy so that --help does not import torch


def test_list_names_tasks_heuristics_policies_and_models(capsys):
    from unmask_gym.agents import list_policies
    from unmask_gym.heuristics import HEURISTICS
    from unmask_gym.models import list_models
    from unmask_gym.tasks import TASKS

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in TASKS) and "held-out prompts 2,000" in out
    assert all(f"  {name}:" in out for name in HEURISTICS) and "fast_dllm_threshold:threshold=0.9" in out
    assert all(f"  {name} " in out for name in list_policies())
    assert ", ".join(list_models()) in out


def test_every_command_has_the_same_task_default_and_lists_the_tasks():
    import argparse

    from unmask_gym import cli
    from unmask_gym.agents.grpo import GRPOConfig
    from unmask_gym.agents.ppo import PPOConfig
    from unmask_gym.tasks import TASKS

    assert cli.BUILT_IN_TASKS == tuple(sorted(TASKS))
    parsers = {}
    original = argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):  # keep every subcommand's parser for inspection
        parsers.update(self._subparsers._group_actions[0].choices)
        raise SystemExit(0)

    argparse.ArgumentParser.parse_args = capture
    try:
        with pytest.raises(SystemExit):
            main(["list"])
    finally:
        argparse.ArgumentParser.parse_args = original
    with_task = {name: parser for name, parser in parsers.items() if "--task" in parser._option_string_actions}
    assert set(with_task) == {"demo", "eval", "bench", "replay", "train", "train-dllm"}
    defaults = {parser.get_default("task") for name, parser in with_task.items() if name in ("demo", "eval", "bench",
                                                                                             "replay")}  # fmt: skip
    assert defaults == {cli.DEFAULT_TASK} == {GRPOConfig.task, PPOConfig.task}  # train's default is the config's
    for name, parser in with_task.items():
        assert "sudoku" in parser._option_string_actions["--task"].help, name
