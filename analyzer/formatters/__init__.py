"""Formatters: a :class:`~analyzer.report.model.Report` in, text out. Nothing else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from analyzer.report.model import Report

FORMATS = ("text", "json", "html")


@dataclass(frozen=True, slots=True)
class View:
    """How a report is shown (the text report; Markdown reads the node selection)."""

    width: int | None = 80
    """Terminal columns to lay the table out in; None: no limit (names never shortened)."""
    color: bool = False
    exact: bool = False
    """Totals as exact integers instead of magnitudes (``25,507,944``, not ``25.5 M``)."""
    all_nodes: bool = False
    """Rows for nodes computing from constants alone too."""
    summary: bool = False
    """Totals and findings only, no per-node table."""
    depth: int | None = None
    """One row per module this many levels deep in the node names' paths."""


def formatter(name: str) -> Callable[[Report, View], str]:
    """The function rendering a report in format ``name``."""
    if name == "json":
        from analyzer.formatters.json import render
    elif name == "html":
        from analyzer.formatters.html import render
    else:
        from analyzer.formatters.text import render
    return render
