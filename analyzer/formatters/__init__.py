"""Formatters: a :class:`~analyzer.report.model.Report` in, text out. Nothing else."""

from __future__ import annotations

from collections.abc import Callable

from analyzer.report.model import Report

FORMATS = ("text", "json", "html")


def formatter(name: str) -> Callable[[Report, bool], str]:
    """The function rendering a report in format ``name`` (``color`` for terminals)."""
    if name == "json":
        from analyzer.formatters.json import render
    elif name == "html":
        from analyzer.formatters.html import render
    else:
        from analyzer.formatters.text import render
    return render
