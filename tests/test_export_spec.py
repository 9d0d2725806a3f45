"""`convlint export-spec`: the exported spec describes the same network as the ONNX model
(shapes per sample, parameters, MACs, receptive fields), and unmappable ops are listed."""

from __future__ import annotations

import gzip
import json

import numpy as np
import onnx
import pytest
from conftest import SAMPLES
from onnx import helper
from test_exported_models import EXPORTS
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.frontends import load
from analyzer.frontends.spec import load_spec
from analyzer.passes import analyze
from analyzer.report.build import build_report

runner = CliRunner()
TORCHVISION = [p for p in EXPORTS if p.parent.name == "torchvision" and p.name.split(".")[0] in
               ("resnet50", "mobilenet_v3_large", "densenet121", "googlenet", "inception_v3", "efficientnet_b0",
                "squeezenet1_1", "regnet_y_400mf", "vgg11_bn", "deeplabv3_mobilenet_v3_large")]


def untied_weights(onnx_path: str) -> dict[str, int]:
    """Per ONNX node, the elements of the float weight tensors it reads, each counted for every
    reader (an exporter shares identical tensors; a spec gives every layer its own)."""
    model = onnx.load(onnx_path, load_external_data=False)
    sizes = {t.name: int(np.prod(t.dims)) for t in model.graph.initializer
             if helper.tensor_dtype_to_np_dtype(t.data_type).kind == "f"}
    for node in model.graph.node:  # exporters alias shared weights through Identity nodes
        if node.op_type == "Identity" and node.input[0] in sizes:
            sizes[node.output[0]] = sizes[node.input[0]]
    return {n.name or f"{n.op_type}_{i}": sum(sizes.get(t, 0) for t in n.input[1:] if sizes.get(t, 0) > 1)
            for i, n in enumerate(model.graph.node) if n.op_type != "Identity"}


def round_trip(onnx_path: str, input_shapes=None):
    onnx_report = build_report(analyze(load(onnx_path, input_shapes or {})))
    arguments = ["export-spec", onnx_path]
    for name, shape in (input_shapes or {}).items():
        arguments += ["--input-shape", f"{name}={'x'.join(map(str, shape))}"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.stderr
    spec_report = build_report(analyze(load_spec("exported.json", result.stdout)))
    return (onnx_report, untied_weights(onnx_path)), spec_report, json.loads(result.stdout)


def assert_same_network(onnx, spec_report):
    onnx_report, untied = onnx
    assert spec_report.totals.params + spec_report.totals.buffers == sum(untied.values())
    assert spec_report.totals.macs == onnx_report.totals.macs
    layers = {n.name: n for n in spec_report.nodes}
    compared = 0
    for node in onnx_report.nodes:
        name = node.name.strip("/").replace("/", ".")
        if name not in layers:
            continue  # weights and shape computations are not layers
        compared += 1
        spec_node = layers[name]
        assert spec_node.outputs[0].shape == node.outputs[0].shape[1:], name
        assert spec_node.params + spec_node.buffers == untied[node.name], name
        rf_a, rf_b = spec_node.receptive_field, node.receptive_field
        assert (rf_a and (rf_a.size, rf_a.stride, rf_a.global_)) == (rf_b and (rf_b.size, rf_b.stride, rf_b.global_)), name
    assert compared == len(spec_report.nodes)


def test_tiny_resnet_round_trip():
    onnx_report, spec_report, spec = round_trip(str(SAMPLES / "tiny_resnet.onnx"))
    assert_same_network(onnx_report, spec_report)
    assert spec["inputs"] == [{"name": "image", "shape": [3, 64, 64]}]
    first = spec["layers"][0]
    assert first == {"name": "stem.conv", "op": "conv", "out_channels": 16, "kernel_size": 3, "stride": 2,
                     "padding": 1, "bias": False}
    adds = [layer for layer in spec["layers"] if layer["op"] == "add"]
    assert adds[1]["inputs"] == ["stage2.b.bn", "stage2.down.bn"]


@pytest.mark.parametrize("path", TORCHVISION, ids=lambda p: p.name.split(".")[0])
def test_torchvision_exports_round_trip(path, tmp_path):
    file = tmp_path / "model.onnx"
    file.write_bytes(gzip.decompress(path.read_bytes()))
    size = 299 if "inception" in path.name else (256 if "deeplab" in path.name else 224)
    onnx_report, spec_report, _ = round_trip(str(file), {"x": (1, 3, size, size)})
    assert_same_network(onnx_report, spec_report)


def test_unmappable_ops_are_listed_and_nothing_is_written(tmp_path):
    path = next(p for p in EXPORTS if p.name.startswith("shufflenet_v2_x1_0.ts"))
    file = tmp_path / "shufflenet.onnx"
    file.write_bytes(gzip.decompress(path.read_bytes()))
    result = runner.invoke(app, ["export-spec", str(file), "--input-shape", "x=1x3x224x224"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {file}: /stage2/stage2.0/Reshape: Reshape that does not flatten each sample"
    ]


def test_specs_are_not_exported():
    result = runner.invoke(app, ["export-spec", str(SAMPLES / "seed.json")])
    assert result.exit_code == 2
