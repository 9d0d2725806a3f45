"""The report as JSON, exactly the shape of ``schemas/report.schema.json``."""

from __future__ import annotations

from analyzer.report.model import Report


def render(report: Report, color: bool = False) -> str:
    return report.model_dump_json(indent=2) + "\n"
