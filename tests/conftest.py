"""Shared helpers: build specs in memory, analyse them, look results up by node name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analyzer.frontends.spec import load_spec
from analyzer.passes import analyze
from analyzer.report.build import build_report
from analyzer.report.model import NodeReport, Report

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def spec(layers: list[dict[str, Any]], shape: list[int], **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "x", "shape": shape}], "layers": layers, **extra}


def report_of(document: dict[str, Any], path: str = "spec.json") -> Report:
    return build_report(analyze(load_spec(path, json.dumps(document))))


def node(report: Report, name: str) -> NodeReport:
    return next(n for n in report.nodes if n.name == name)


def shape_of(report: Report, name: str) -> list[int | str] | None:
    return node(report, name).outputs[0].shape


def codes(report: Report, node_name: str | None = None) -> list[str]:
    return [d.code for d in report.diagnostics if node_name is None or d.node == node_name]


@pytest.fixture
def samples() -> Path:
    return SAMPLES
