"""Test tiers and shared fixtures.

Tiers: the default tier runs in a few minutes on 2 CPU cores; ``--slow`` adds the ``slow`` tier (learning tests,
examples, quick benchmarks); ``hf`` tests run when transformers is installed; ``gpu`` tests need CUDA.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

from unmask_gym.testing import CountingTask, FakeDiffusionLM


def pytest_addoption(parser: pytest.Parser) -> None:
    """Adds ``--slow``."""
    parser.addoption("--slow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skips the tiers this run does not cover."""
    skips = {
        "slow": None if config.getoption("--slow") else "needs --slow",
        "hf": None if importlib.util.find_spec("transformers") else "needs transformers (pip install 'unmask-gym[hf]')",
        "gpu": None if torch.cuda.is_available() else "needs a CUDA device",
    }
    for item in items:
        for marker, reason in skips.items():
            if reason and marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def fake_model() -> FakeDiffusionLM:
    """A fresh counting fake dLLM (its call counters start at 0)."""
    return FakeDiffusionLM()


@pytest.fixture
def counting_task() -> CountingTask:
    """The fake model's task with L = 6."""
    return CountingTask(answer_length=6)
