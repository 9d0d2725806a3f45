"""Markdown fits a pull-request comment (issue 15, item 6): GitHub refuses comments over 65,536
characters. The counts and every finding always; per-model drawings and tables shortened
with a note saying how to get the whole report. The truths: GitHub's limit, the JSON reports
of the same runs, and a CommonMark parser for what a reader sees."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from markdown_it import MarkdownIt

from analyzer.formatters.findings import MARKDOWN_BUDGET

GITHUB_LIMIT = 65_536
DATA = ROOT / "tests" / "data"


def convlint(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True, text=True, cwd=cwd,
                          env={k: v for k, v in os.environ.items() if k != "COLUMNS"}, check=False)


def html(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    """Every real export of the test data (torchvision and Keras models), unpacked."""
    folder = tmp_path_factory.mktemp("exports")
    for packed in sorted(DATA.glob("*/*.onnx.gz")):
        (folder / packed.name.removesuffix(".gz")).write_bytes(gzip.decompress(packed.read_bytes()))
    return folder


def test_check_over_many_models_fits_a_comment(exports):
    assert MARKDOWN_BUDGET < GITHUB_LIMIT
    text = convlint("check", str(exports), "-f", "markdown").stdout
    run = json.loads(convlint("check", str(exports), "-f", "json").stdout)
    assert len(text) <= MARKDOWN_BUDGET
    findings = [(d["code"], d["node"]) for f in run["files"] for d in f["diagnostics"]]
    assert findings  # the exports do have findings, and every one is in the comment
    for code, node in findings:
        assert f"| {code} |" in text and f"`{node}`" in text
    for report in run["files"]:
        name = Path(report["model"]["path"]).name
        assert f"{name}: {len(report['nodes'])} nodes" in text
    assert "rows shown to fit a pull-request comment" in text
    assert "convlint analyze " in text  # how to get the whole report


def test_one_large_model_fits_and_keeps_its_rows_when_it_can(exports):
    """EfficientNet-B0 as tf2onnx writes it: 70,615 characters before this limit."""
    path = str(exports / "EfficientNetB0.tf2onnx.onnx")
    text = convlint("analyze", path, "-f", "markdown").stdout
    assert len(text) <= MARKDOWN_BUDGET
    report = json.loads(convlint("analyze", path, "-f", "json").stdout)
    rendered = html(text)
    rows = rendered.count("<tr>") - 1 - len(report["diagnostics"]) - 1  # minus the two tables' headers
    if "rows shown" not in text:
        assert rows == len([n for n in report["nodes"] if n["outputs"]]) - text.count("computing constants only")


def test_a_flood_of_findings_keeps_the_errors_and_counts_the_rest(tmp_path):
    layers = [{"name": f"c{i}", "op": "conv", "inputs": [f"image{i}"], "out_channels": 1, "kernel_size": 3, "stride": 2}
              for i in range(1500)]  # 6 + 0 - 3 = 3 is odd: each drops a row and a column of its input (F101)
    layers += [{"name": f"bad{i}", "op": "conv", "inputs": ["other"], "in_channels": 5, "out_channels": 1,
                "kernel_size": 1} for i in range(3)]  # 3 channels, not 5 (C101)
    path = tmp_path / "flood.json"
    inputs = [{"name": f"image{i}", "shape": [3, 6, 6]} for i in range(1500)] + [{"name": "other", "shape": [3, 4, 4]}]
    path.write_text(json.dumps({"inputs": inputs, "layers": layers}))
    text = convlint("analyze", str(path), "-f", "markdown").stdout
    assert len(text) <= MARKDOWN_BUDGET
    shown = [line for line in text.splitlines() if line.startswith(("| :x: |", "| :warning: |"))]
    assert sum(line.startswith("| :x: | C101 |") for line in shown) == 3
    left = 1503 - len(shown)
    assert left > 0 and f"\n{left} more findings not shown to fit a pull-request comment" in text
    assert html(text).count("<tr>") >= len(shown)  # still a table a reader sees


def test_markdown_honours_the_views_of_analyze():
    layers = len(json.loads((ROOT / "samples" / "resnet18.json").read_text())["layers"])
    summary = convlint("analyze", "samples/resnet18.json", "-f", "markdown", "--summary").stdout
    assert "| name |" not in summary and f"<summary>samples/resnet18.json: {layers} nodes, 11.7 M params" in summary
    grouped = convlint("analyze", "samples/resnet18.json", "-f", "markdown", "--depth", "1", "--exact").stdout
    assert "| `layer1` | `14 nodes` |" in grouped and "11,689,512 params" in grouped
