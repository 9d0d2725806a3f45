"""Totals with unknown nodes (REFERENCE §7): the known sum and how many nodes it leaves out,
in every format. The figures are PyTorch's for the layers (Conv2d: out*in*k*k + out params,
out*H*W*in*k*k MACs), worked out by hand."""

from __future__ import annotations

import json

import pytest
from conftest import report_of
from typer.testing import CliRunner

from analyzer.cli import app

runner = CliRunner()

# c1's 5x5 kernel does not fit the 4x4 map (S101): its output, and so c2's weight
# (8, ?, 1, 1), MACs and memory, are unknown.
SPEC = {"inputs": [{"name": "x", "shape": [3, 4, 4]}], "layers": [
    {"name": "c0", "op": "conv", "out_channels": 4, "kernel_size": 1},
    {"name": "c1", "op": "conv", "out_channels": 6, "kernel_size": 5},
    {"name": "c2", "op": "conv", "out_channels": 8, "kernel_size": 1},
    {"name": "r", "op": "relu"},
]}
PARAMS = (4 * 3 + 4) + (6 * 4 * 5 * 5 + 6)  # c0 and c1; c2's are unknown
MACS = 4 * 4 * 4 * 3  # c0; c1 and c2 unknown, the ReLU 0
BYTES = 4 * 4 * 4 * 4  # c0's float32 output; c1, c2 and r unknown
PEAK = 3 * 4 * 4 * 4 + BYTES  # while c0 runs: the input and its output


def test_report_totals_are_the_known_sums_with_counts_of_unknown_nodes():
    totals = report_of(SPEC).totals
    assert (totals.params, totals.macs, totals.memory.bytes, totals.memory.elements) == (PARAMS, MACS, BYTES, BYTES // 4)
    assert (totals.unknown.params, totals.unknown.macs, totals.unknown.memory) == (1, 2, 3)
    assert totals.exact("params") is None and totals.exact("buffers") is None
    assert report_of({**SPEC, "layers": SPEC["layers"][:1]}).totals.exact("params") == 4 * 3 + 4


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(SPEC))
    return path


def test_json(spec_file):
    document = json.loads(runner.invoke(app, ["analyze", str(spec_file), "-f", "json"]).stdout)
    assert document["totals"] == {
        "params": PARAMS, "buffers": 0, "macs": MACS, "memory": {"elements": BYTES // 4, "bytes": BYTES},
        "unknown": {"params": 1, "buffers": 1, "macs": 2, "memory": 3}, "batch": None, "per_batch": None,
        "peak_memory": {"bytes": PEAK, "node": "c0", "unknown": 3},
    }


def test_text(spec_file):
    text = runner.invoke(app, ["analyze", str(spec_file), "--width", "0"]).stdout
    weights = f"{PARAMS * 4 / 1024:.2f} KiB"
    assert (f"Totals: at least {PARAMS} params ({weights} as float32; 1 node unknown), at least 0 buffers "
            f"(1 node unknown), at least {MACS} MACs (2 nodes unknown) per sample\n") in text
    assert (f"Activations: peak at least {PEAK} B at c0 (batch 1, input included; 3 unknown sizes left out); "
            f"at least {BYTES} B over all outputs (3 nodes unknown)\n") in text
    exact = runner.invoke(app, ["analyze", str(spec_file), "--exact", "--width", "0"]).stdout
    assert f"Totals: at least {PARAMS} params ({PARAMS * 4:,} bytes as float32; 1 node unknown), " in exact


def test_markdown(spec_file):
    text = runner.invoke(app, ["analyze", str(spec_file), "-f", "markdown"]).stdout
    assert (f"4 nodes, at least {PARAMS} params ({PARAMS * 4 / 1024:.2f} KiB as float32; 1 node unknown), "
            f"at least {MACS} MACs (2 nodes unknown), peak activations at least {PEAK} B") in text


def test_exact_totals(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps({**SPEC, "layers": SPEC["layers"][:1]}))
    assert "Totals: 16 params (64 B as float32), 0 buffers, 192 MACs per sample\n" in \
        runner.invoke(app, ["analyze", str(path)]).stdout


def test_diff_compares_only_exact_totals(spec_file, tmp_path):
    exact = tmp_path / "ok.json"
    exact.write_text(json.dumps({**SPEC, "layers": SPEC["layers"][:1]}))
    text = runner.invoke(app, ["diff", str(exact), str(spec_file)]).stdout
    assert "params: 16 -> ?" in text


def test_html(spec_file, tmp_path):
    from playwright.sync_api import sync_playwright
    from test_html import CHROMIUM_FLAGS, chromium_binary, open_page

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_binary(), args=CHROMIUM_FLAGS)
        try:
            _, page, problems = open_page(browser, spec_file, tmp_path)
            summary = page.locator("#summary").text_content()
        finally:
            browser.close()
    assert not problems
    assert f"at least {PARAMS:,} (1 node unknown)" in summary
    assert f"at least {MACS:,} (2 nodes unknown) per sample" in summary
