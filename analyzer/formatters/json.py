"""The report as JSON, exactly the shape of ``schemas/report.schema.json``."""

from __future__ import annotations

from analyzer.report.model import Report, to_json


def render(report: Report, view: object = None) -> str:
    return to_json(report) + "\n"
