"""``--model PATH --dataset PATH`` on the CLI's eval, bench, replay and train, with a tiny stand-in (``hf`` tier)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from unmask_gym.cli import main

pytestmark = pytest.mark.hf
pytest.importorskip("transformers")

from hf_standins import needs_remote_code_support, standin_folder  # noqa: E402  (needs transformers)


@pytest.fixture(scope="module")
def llada(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A LLaDA stand-in folder."""
    needs_remote_code_support(("llada",))
    return str(standin_folder(tmp_path_factory.mktemp("cli") / "llada", "llada"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    """40 GSM8K-format problems: enough for both hash splits."""
    path = tmp_path_factory.mktemp("data") / "gsm8k.jsonl"
    lines = [json.dumps({"question": f"What is {a} + {a + 3}?", "answer": f"{a} + {a + 3} = {2 * a + 3}\n#### "
                         f"{2 * a + 3}"}) for a in range(40)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def hf_flags(llada: str, dataset: str, device: bool = True) -> list[str]:
    flags = ["--model", llada, "--dataset", dataset, "--trust-remote-code", "--answer-length", "8"]
    return [*flags, "--device", "cpu"] if device else flags


def test_eval_runs_a_heuristic_on_a_transformers_model(llada, dataset, tmp_path, capsys):
    out = tmp_path / "eval.json"
    argv = ["eval", "--task", "gsm8k", "--policy", "top_k_confidence:k=2", "--block-length", "4", "--episodes", "3",
            "--num-envs", "2", *hf_flags(llada, dataset), "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "task=GSM8K  block_length=4  episodes=3" in printed
    result = json.loads(out.read_text())
    assert result["episodes"] == 3 and result["mean_nfe"] == 4.0  # two per 4-token block


def test_eval_transfers_a_shipped_policy_to_a_transformers_model(llada, dataset, capsys):
    argv = ["eval", "--policy", "statetracking-full-a3", "--episodes", "3", *hf_flags(llada, dataset)]
    assert main(argv) == 0
    assert "task=GSM8K  block_length=None  episodes=3" in capsys.readouterr().out


def test_bench_and_replay_take_a_transformers_model(llada, dataset, tmp_path, capsys):
    argv = ["bench", "--quick", "--no-policies", "--episodes", "2", "--block-length", "4", "--out", str(tmp_path),
            *hf_flags(llada, dataset)]  # fmt: skip
    assert main(argv) == 0
    written = json.loads((tmp_path / "bench_gsm8k.json").read_text())
    assert written["task"] == "GSM8K" and written["distinct_prompts"] == 2
    assert all(len(h["per_prompt"]["nfe"]) == 2 for s in written["settings"].values() for h in s["heuristics"])
    capsys.readouterr()
    assert main(["replay", "--policy", "top_k_confidence:k=4", "--block-length", "4",
                 *hf_flags(llada, dataset, device=False)]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("completion ") and lines[-1].endswith("NFE 2")


def test_train_runs_grpo_on_a_transformers_model(llada, dataset, tmp_path, capsys):
    from unmask_gym.agents.train import main as train_main

    out = tmp_path / "run"
    argv = ["--dataset", dataset, "--model", llada, "--trust-remote-code", "--task", "gsm8k", "--answer-length", "8",
            "--block-length", "4", "--iterations", "1", "--num-groups", "1", "--group-size", "2", "--width", "16",
            "--ff-width", "32", "--eval-episodes", "2", "--out", str(out), "--no-progress",
            "--device", "cpu"]  # fmt: skip
    assert train_main(argv) == 0
    assert "GRPO on gsm8k: block_length=4" in capsys.readouterr().out
    assert json.loads((out / "eval.json").read_text())["episodes"] == 2
    # The same command with --resume and more iterations continues the run on the same model and dataset.
    longer = [*argv[:argv.index("--iterations")], "--iterations", "2", *argv[argv.index("--iterations") + 2:]]
    assert train_main([*longer, "--resume", str(out)]) == 0
    with (out / "metrics.csv").open() as file:
        assert [line.split(",")[0] for line in file.read().splitlines()[1:]] == ["1", "2"]
    capsys.readouterr()
    with pytest.raises(SystemExit):  # another answer length is another MDP
        train_main([*longer, "--resume", str(out), "--answer-length", "16", "--iterations", "3"])
    assert "--answer-length 16 (the run has 8)" in capsys.readouterr().err
    # Without the MDP flags, --resume reads them from the run (its L, not the flag's default of 256).
    assert train_main(["--resume", str(out), "--dataset", dataset, "--model", llada, "--trust-remote-code",
                       "--iterations", "3", "--eval-episodes", "0", "--no-progress", "--device", "cpu"]) == 0


def test_eval_on_a_transformers_model_keeps_a_policys_own_budget_unless_told(llada, dataset, tmp_path, capsys):
    from unmask_gym.agents.train import main as train_main

    run = tmp_path / "run"  # a policy trained under a budget of 3 passes for 12 positions
    assert train_main(["--task", "addition", "--block-length", "none", "--max-nfe", "3", "--iterations", "1",
                       "--num-groups", "1", "--group-size", "2", "--width", "16", "--ff-width", "32",
                       "--eval-episodes", "0", "--out", str(run), "--no-progress"]) == 0  # fmt: skip
    budgets = {}
    for name, extra in (("own", []), ("flag", ["--max-nfe", "2"])):
        out = tmp_path / f"{name}.json"
        assert main(["eval", "--policy", str(run), "--episodes", "4", *hf_flags(llada, dataset), "--out", str(out),
                     *extra]) == 0  # fmt: skip
        budgets[name] = json.loads(out.read_text())["max_nfe"]
    assert budgets == {"own": 3, "flag": 2}


def test_model_and_dataset_go_together(dataset, capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--policy", "top_k_confidence:k=2", "--dataset", dataset])
    assert re.search("--model PATH and --dataset PATH go together", capsys.readouterr().err)
    assert Path(dataset).exists()
