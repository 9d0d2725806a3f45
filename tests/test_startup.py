"""Each command imports what it needs and nothing more (issue 16): start-up is most of what
linting a small model costs. Checked with ``python -X importtime``, which lists every module
a process imports, as the installed command runs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLES

NEVER = ("rich", "networkx", "numpy", "onnx", "torch", "concurrent", "multiprocessing")
"""Imported by no command below: tables are laid out in plain strings, the graph walks need no
networkx, weights are never read, and one model needs no worker processes."""
NO_PYDANTIC = ("pydantic", "pydantic_core", "typer._adapters", "asyncio", "analyzer.diff", "analyzer.frontends.spec")
"""What ONNX models do without: pydantic validates specs and makes schemas (typer 0.29 would
bring it to parse options, asyncio comes with it)."""


def imported(*arguments: str) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "analyzer", *arguments], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def offending(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in packages))


@pytest.mark.parametrize("format", ["json", "text"])
def test_an_onnx_report_imports_neither_pydantic_nor_rich(format):
    modules = imported("analyze", str(SAMPLES / "tiny_resnet.onnx"), "--format", format)
    assert "analyzer.frontends.onnx" in modules and "analyzer.passes" in modules
    assert offending(modules, NEVER + NO_PYDANTIC) == []


def test_a_spec_imports_pydantic_to_validate_it_and_nothing_else_heavy():
    modules = imported("analyze", str(SAMPLES / "seed.json"))
    assert "pydantic" in modules
    heavy = tuple(p for p in NEVER if p != "concurrent")  # asyncio, which pydantic brings, imports it
    assert offending(modules, (*heavy, "typer._adapters", "analyzer.diff", "analyzer.frontends.onnx")) == []


def test_version_imports_no_command_line_parser():
    modules = imported("--version")
    assert sorted(m for m in modules if m.startswith(("analyzer", "typer", "click"))) == ["analyzer", "analyzer.cli"]


def test_help_imports_no_analysis_and_no_rich():
    modules = imported("--help")
    assert offending(modules, (*NEVER, *NO_PYDANTIC, "analyzer.api", "analyzer.passes", "google")) == []


def test_folding_shape_computations_needs_no_numpy(tmp_path):
    """TorchScript exports compute reshape targets from the batch dim (Shape, Gather, Concat...):
    convlint folds them in plain Python, and every reshape's other dims come out known."""
    import gzip

    from analyzer.api import analyze

    path = tmp_path / "shufflenet.onnx"
    path.write_bytes(gzip.decompress((ROOT / "tests" / "data" / "torchvision" / "shufflenet_v2_x1_0.ts.onnx.gz").read_bytes()))
    modules = imported("analyze", str(path), "--format", "json")
    assert "analyzer.ops.values" in modules
    assert offending(modules, NEVER + NO_PYDANTIC) == []
    reshapes = [n for n in analyze(str(path)).nodes if n.op == "Reshape"]  # targets made of the batch dim
    assert len(reshapes) == 32
    assert all(n.outputs[0].shape[0] == "N" and all(type(d) is int for d in n.outputs[0].shape[1:]) for n in reshapes)
