"""The README stays short and its two commands stay valid as written.

Its code blocks run (and its generated table is compared) in ``tests/test_docs.py``, with every docs page.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
MAIN_JOB = "unmask-gym bench --task permutation --episodes 100 --out bench"
TEST_COMMAND = "python -m pytest --slow --doctest-modules unmask_gym agents tests"


def test_the_readme_is_at_most_400_lines():
    assert len(README.splitlines()) <= 400


def commands() -> list[str]:
    """The README's first code block: the two install-and-run commands, comments dropped."""
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_two_commands_come_first_and_state_the_main_jobs_time():
    first, second = commands()
    assert first.endswith(f"&& {MAIN_JOB}") and second.endswith(f"&& {TEST_COMMAND}")
    assert re.search(r"# 1\. .*\((\d+ min )?\d+ s on the [\w-]+ box", README), "the main job's measured time"
    assert README.index("```bash") < README.index("```python")


@pytest.mark.parametrize("index", [0, 1])
def test_every_extra_and_pin_the_commands_install_exists(index):
    section = (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[1].split("\n[")[0]
    defined = set(re.findall(r"^(\w+) = ", section, re.M))
    for word in shlex.split(commands()[index]):
        if word.startswith(".["):
            extras = re.fullmatch(r"\.\[([\w,]+)\]", word).group(1).split(",")
            assert set(extras) <= defined, extras
    assert "torch==2.13.0" in commands()[index]


def test_the_main_job_parses_as_the_cli_takes_it(monkeypatch):
    import unmask_gym.cli as cli

    seen = {}
    monkeypatch.setattr(cli, "_bench", lambda args: seen.setdefault("args", args) and 0)
    assert cli.main(shlex.split(MAIN_JOB)[1:]) == 0
    args = seen["args"]
    assert (args.task, args.episodes, str(args.out)) == ("permutation", 100, "bench")


def test_the_test_command_names_folders_that_exist():
    for folder in shlex.split(TEST_COMMAND)[-3:]:
        assert (ROOT / folder).is_dir(), folder


def test_the_readme_links_every_docs_page():
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "index.md":
            assert f"(docs/{page.name})" in README, page.name
