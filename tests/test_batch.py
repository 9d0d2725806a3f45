"""Per-batch figures: MACs and activation memory of a whole batch, checked against onnxruntime
running the model at that batch (MACs from the shapes it computes, by the formulas of
REFERENCE §7; memory from the tensors it returns)."""

from __future__ import annotations

import json
from math import prod

import onnx
import pytest
from conftest import SAMPLES
from onnx_utils import run_all_values, with_input_dims
from test_peak_memory import brute_force_peak
from typer.testing import CliRunner

from analyzer.cli import app

runner = CliRunner()


def onnxruntime_figures(model: onnx.ModelProto) -> tuple[int, int, int]:
    """(MACs, activation bytes, peak live activation bytes) of one run: Conv out * C_in/g *
    kernel, Gemm M*K*N; the tensors it returns; their liveness in node order (brute force)."""
    values = run_all_values(model)
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    macs = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = weights[node.input[1]]  # (M, C_in / group, *kernel)
            macs += prod(values[node.output[0]].shape) * w[1] * prod(w[2:])
        elif node.op_type == "Gemm":
            m, k = values[node.input[0]].shape
            macs += m * k * weights[node.input[1]][0]
    sizes = {name: v.nbytes for name, v in values.items()}
    sizes.update({i.name: prod(d.dim_value for d in i.type.tensor_type.shape.dim) * 4 for i in model.graph.input})
    return macs, sum(v.nbytes for v in values.values()), brute_force_peak(model, sizes)[0]


def report(*arguments: str) -> dict:
    result = runner.invoke(app, ["analyze", *arguments, "-f", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("batch", [1, 8])
def test_per_batch_figures_are_onnxruntimes_at_that_batch(batch):
    model = onnx.load(SAMPLES / "tiny_resnet.onnx")
    macs, memory, peak = onnxruntime_figures(with_input_dims(model, [batch]))
    totals = report(str(SAMPLES / "tiny_resnet.onnx"), "--batch", str(batch))["totals"]
    assert totals["batch"] == batch
    assert totals["per_batch"] == {"size": batch, "macs": macs, "memory": {"elements": memory // 4, "bytes": memory},
                                   "peak_memory": peak}
    assert totals["macs"] * batch == macs and totals["memory"]["bytes"] * batch == memory


def test_a_batch_fixed_in_the_model_is_the_batch_of_its_totals(tmp_path):
    model = with_input_dims(onnx.load(SAMPLES / "tiny_resnet.onnx"), [8])
    path = tmp_path / "batch8.onnx"
    onnx.save(model, path)
    macs, memory, peak = onnxruntime_figures(model)
    totals = report(str(path))["totals"]
    assert totals["batch"] == 8 and totals["macs"] == macs // 8  # per sample, as the column says
    assert totals["per_batch"] == {"size": 8, "macs": macs, "memory": {"elements": memory // 4, "bytes": memory},
                                   "peak_memory": peak}
    assert totals["peak_memory"]["bytes"] == peak // 8
    text = runner.invoke(app, ["analyze", str(path), "--exact", "--width", "0"]).stdout
    assert f"{macs // 8:,} MACs per sample\n" in text
    assert f"\nPer batch of 8: {macs:,} MACs, peak activations {peak:,} bytes\n" in text


def test_a_free_batch_has_no_per_batch_figures():
    totals = report(str(SAMPLES / "tiny_resnet.onnx"))["totals"]
    assert totals["batch"] == "N" and totals["per_batch"] is None
    assert "Per batch" not in runner.invoke(app, ["analyze", str(SAMPLES / "tiny_resnet.onnx")]).stdout


def test_a_spec_has_a_batch_only_when_given():
    plain = report(str(SAMPLES / "seed.json"))
    assert plain["totals"]["batch"] is None and plain["totals"]["per_batch"] is None
    batched = report(str(SAMPLES / "seed.json"), "--batch", "16")
    conv_macs = 64 * 2 * 2 * 3 * 3 * 3  # (64, 2, 2) outputs, each 3 channels x 3x3
    assert batched["totals"]["macs"] == conv_macs
    assert batched["totals"]["per_batch"]["macs"] == 16 * conv_macs
    assert batched["totals"]["per_batch"]["memory"]["bytes"] == 16 * 4 * 64 * 2 * 2
    assert batched["nodes"] == plain["nodes"]  # per node: per sample, as before
    assert batched["inputs"] == plain["inputs"] == [{"name": "image", "shape": [3, 6, 6]}]


def test_weights_are_per_model_not_per_batch():
    plain = report(str(SAMPLES / "tiny_resnet.onnx"))["totals"]
    batched = report(str(SAMPLES / "tiny_resnet.onnx"), "--batch", "8")["totals"]
    model = onnx.load(SAMPLES / "tiny_resnet.onnx")
    weights = sum(prod(t.dims) for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT)
    assert (batched["params"], batched["buffers"]) == (plain["params"], plain["buffers"])
    assert batched["params"] + batched["buffers"] == weights
