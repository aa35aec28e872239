"""MkDocs hook: serves the tutorial notebook and the result plots from where they live in the repository.

``examples/tutorial.ipynb`` becomes the page ``tutorial.ipynb`` (rendered by mkdocs-jupyter without executing it:
``tests/test_examples.py`` does that) and ``benchmarks/results/*.png`` become ``results/*.png``, so the docs
never hold a copy that could go stale.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).parent.parent
SOURCES = [("examples", "tutorial.ipynb"), ("benchmarks", "results/*.png")]


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns the notebook into a page
def on_files(files: Files, config) -> Files:
    """Adds the files of ``SOURCES`` to the site."""
    for folder, pattern in SOURCES:
        for path in sorted((ROOT / folder).glob(pattern)):
            files.append(
                File(
                    path.relative_to(ROOT / folder).as_posix(),
                    str(ROOT / folder),
                    config["site_dir"],
                    config["use_directory_urls"],
                )
            )
    return files
