"""``benchmarks/device_run.sh``: the GPU machine's recipe pins what the tests pin, and refuses an unknown mode."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "benchmarks" / "device_run.sh"


def pinned() -> dict[str, str]:
    """The script's WHEELS: name -> version."""
    line = re.search(r"^WHEELS=\((.*)\)$", SCRIPT.read_text(), re.MULTILINE).group(1)
    return dict(pin.split("==") for pin in line.split())


def test_the_wheels_are_the_transformers_the_tests_use_and_a_gymnasium_the_package_accepts():
    wheels = pinned()
    readme = (ROOT / "README.md").read_text()
    assert f'"transformers=={wheels["transformers"]}"' in readme  # the README's (and CI's) test command
    gymnasium = re.search(r'"gymnasium([^"]*)"', (ROOT / "pyproject.toml").read_text()).group(1)  # its range
    assert wheels["gymnasium"] in SpecifierSet(gymnasium)
    # transformers 4.x pins huggingface_hub < 1 and tokenizers <= 0.23.0; the GPU image holds newer ones
    assert wheels["huggingface-hub"].startswith("0.") and SpecifierSet("<=0.23.0").contains(wheels["tokenizers"])


def test_the_script_parses_and_says_its_usage_without_a_mode():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 2 and "usage: bash benchmarks/device_run.sh wheels|run" in done.stderr
