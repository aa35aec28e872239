"""Griffe extension: reads this project's ``Example:`` docstring sections as Google's ``Examples:`` sections.

The package writes ``Example:`` (STYLE.md rule 9); griffe's Google parser knows only the plural and would render
the singular as an admonition of plain Markdown, turning each ``>>>`` line into a quote. With this extension the
API reference shows them as code, the way ``pytest --doctest-modules`` runs them.
"""

from __future__ import annotations

import re

import griffe

SINGULAR = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Renames each ``Example:`` section header to ``Examples:`` before the docstring is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        """Rewrites the header in ``obj``'s docstring, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = SINGULAR.sub(r"\1Examples:", obj.docstring.value)
