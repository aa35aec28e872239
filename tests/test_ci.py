"""Guards of the CI setup itself: tiers that must not be skipped silently there."""

from __future__ import annotations

import importlib.util
import os

import pytest


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="only CI must have every optional tier installed")
def test_ci_installs_transformers_so_the_hf_tier_really_runs():
    assert importlib.util.find_spec("transformers") is not None, ".ci/run must install the pinned transformers"
    import transformers

    from unmask_gym.models.hf_support import check_transformers_version

    check_transformers_version("llada", transformers.__version__)  # the pin runs LLaDA's and Dream's hub code


def test_the_package_imports_without_transformers():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['transformers'] = None\n"
        "import unmask_gym, unmask_gym.tasks, unmask_gym.hf_env\n"
        "from unmask_gym.models.hf import HFDiffusionLM\n"
        "try:\n    HFDiffusionLM.from_pretrained('folder')\n"
        "except ImportError as error:\n    print(error)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == 'the transformers backend needs transformers: pip install "unmask-gym[hf]"', (
        result.stderr
    )
