"""`convlint sizes`: which input sizes a model accepts, checked against the ordinary analysis
at each size and against onnxruntime actually running the model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import SAMPLES
from onnx import TensorProto, helper, numpy_helper
from onnx_utils import ONNX_DATA
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.frontends import load
from analyzer.graph import Tensor
from analyzer.passes import analyze
from analyzer.passes.sizes import describe, scan_sizes

runner = CliRunner()


def errors_at(model, size: int) -> list[str]:
    """Error findings of the ordinary analysis with every spatial input dim set to ``size``."""
    original = {t: model.tensors[t].shape for t in model.inputs}
    try:
        for t, shape in original.items():
            if shape is not None and len(shape) >= 3:
                model.tensors[t] = Tensor(t, "input", (*shape[:2], *(size for _ in shape[2:])),
                                          model.tensors[t].dtype)
        return [f"{d.node}:{d.code}" for d in analyze(model).diagnostics if d.severity == "error"]
    finally:
        for t, shape in original.items():
            model.tensors[t].shape = shape


def test_unet_accepts_multiples_of_16():
    model = load(str(SAMPLES / "unet.json"))
    result = scan_sizes(model)
    for axis in result.axes:
        assert axis.valid == list(range(16, 4097, 16))
        assert axis.rule == f"{axis.name} % 16 == 0"
        assert axis.reason(100).node == "cat3" and axis.reason(100).code == "S103"
        assert axis.reason(8).node == "pool4" and axis.reason(8).code == "S101"
        assert axis.dropping == []


@pytest.mark.parametrize("sample", ["unet.json", "resnet18.json", "vgg16.json", "seed.json", "audio1d.json",
                                    "depthwise.json", "tiny_resnet.onnx"])
def test_scan_agrees_with_the_analysis_at_each_size(sample):
    """Square sizes: valid exactly when the ordinary analysis at that size finds no error,
    and the first rejecting node is the first node the analysis reports."""
    model = load(str(SAMPLES / sample))
    result = scan_sizes(model, 1, 300)
    squares = set.intersection(*(set(a.valid) for a in result.axes))
    for size in range(1, 301):
        found = errors_at(model, size)
        assert (size in squares) == (not found), (size, found)
        if found:
            reason = next(a.reason(size) for a in result.axes if a.reason(size))
            assert found[0] == f"{reason.node}:{reason.code}"


def test_floor_drop_sizes_agree_with_the_warnings():
    model = load(str(SAMPLES / "vgg16.json"))
    axis = scan_sizes(model, 1, 300).axes[0]
    assert axis.dropping == [v for v in range(33, 301) if v % 32]
    model = load(str(SAMPLES / "seed.json"))
    axis = scan_sizes(model, 1, 100).axes[0]
    assert axis.dropping == list(range(4, 101, 2))  # (H - 3) odd: the last row is dropped
    assert axis.drop_rule == "H % 2 == 0 and H >= 4"


def test_describe():
    assert describe("H", list(range(32, 4097, 32)), 1, 4096) == "H % 32 == 0"
    assert describe("H", list(range(64, 4097, 32)), 1, 4096) == "H % 32 == 0 and H >= 64"
    assert describe("H", list(range(193, 225)), 1, 4096) == "193 <= H <= 224"
    assert describe("H", [224], 1, 4096) == "H == 224"
    assert describe("H", list(range(1, 4097)), 1, 4096) == "any H"
    assert describe("H", [3, 5, 6], 1, 10) == "3, 5-6"


def _fcn(decoder: str) -> onnx.ModelProto:
    """A small fully convolutional net with free spatial dims: two stride-2 convs, then an
    upsampling decoder concatenated with the skip tensor."""
    w = lambda *s: numpy_helper.from_array(np.full(s, 0.01, np.float32))  # noqa: E731
    inits = [
        numpy_helper.from_array(np.full((8, 3, 3, 3), 0.01, np.float32), "w1"),
        numpy_helper.from_array(np.full((8, 8, 3, 3), 0.01, np.float32), "w2"),
        numpy_helper.from_array(np.full((4, 16, 1, 1), 0.01, np.float32), "w3"),
        numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
        numpy_helper.from_array(np.array([2], np.int64), "two"),
        numpy_helper.from_array(np.array([4], np.int64), "four"),
    ]
    del w
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "w2"], ["c2"], strides=[2, 2], pads=[1, 1, 1, 1]),
    ]
    if decoder == "scales":
        nodes.append(helper.make_node("Resize", ["c2", "", "scales"], ["up"], mode="nearest"))
    else:  # resize to the skip tensor's size, computed with Shape -> Slice -> Concat
        nodes += [
            helper.make_node("Shape", ["c1"], ["s"]),
            helper.make_node("Slice", ["s", "two", "four"], ["hw"]),
            helper.make_node("Shape", ["c2"], ["s2"]),
            helper.make_node("Slice", ["s2", "zero", "two"], ["nc"]),
            helper.make_node("Concat", ["nc", "hw"], ["target"], axis=0),
            helper.make_node("Resize", ["c2", "", "", "target"], ["up"], mode="linear"),
        ]
        inits.append(numpy_helper.from_array(np.array([0], np.int64), "zero"))
    nodes += [
        helper.make_node("Concat", ["up", "c1"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w3"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "fcn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _runs(session: ort.InferenceSession, size: int) -> bool:
    try:
        session.run(None, {"x": np.zeros((1, 3, size, size), np.float32)})
        return True
    except Exception:
        return False


@pytest.mark.parametrize("decoder", ["scales", "shape_ops"])
def test_onnx_free_spatial_dims_against_onnxruntime(decoder, tmp_path):
    model = _fcn(decoder)
    path = tmp_path / "fcn.onnx"
    onnx.save(model, path)
    result = runner.invoke(app, ["sizes", str(path), "--max", "80", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    (axis,) = document["axes"]  # free H and W are scanned together, as square inputs
    assert axis["name"] == "H=W"
    valid = set(axis["valid"])
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(path.read_bytes(), options, providers=["CPUExecutionProvider"])
    for size in range(1, 81):
        assert (size in valid) == _runs(session, size), size
    if decoder == "scales":
        # c1 = ceil(H / 2) and c2 = ceil(c1 / 2): the upsampled 2 * c2 meets c1 when c1 is even.
        expected = [h for h in range(1, 81) if 2 * -(-((h + 1) // 2) // 2) == (h + 1) // 2]
        assert sorted(valid) == expected
        assert axis["rejections"][0]["node"] == "Concat_3"
    else:
        assert sorted(valid) == list(range(1, 81))


RUN_ONCE = """
import sys, numpy as np, onnxruntime as ort
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
size = int(sys.argv[2])
session.run(None, {name: np.zeros((1, 3, size, size), np.float32)})
"""


def test_light_resnet50_accepts_a_band_of_sizes(tmp_path):
    """Caffe2's ResNet-50 ends in a fixed 7x7 average pool and a Reshape to 2048 features:
    only inputs whose last feature map is 7x7 pass. onnxruntime agrees at the band's edges
    (run in a subprocess: at a rejected size it may crash rather than raise)."""
    path = ONNX_DATA / "light" / "light_resnet50.onnx"
    model = load(str(path))
    axis = scan_sizes(model).axes[0]
    assert axis.rule == "193 <= H <= 224"
    assert axis.reason(225).node == next(n for n in model.order if model.nodes[n].op == "Reshape")
    proto = onnx.load(path)
    for dim in proto.graph.input[0].type.tensor_type.shape.dim[2:]:
        dim.ClearField("dim_value")
        dim.dim_param = "S"
    free = tmp_path / "resnet50_free.onnx"
    onnx.save(proto, free)
    for size, accepted in ((192, False), (193, True), (224, True), (225, False)):
        done = subprocess.run([sys.executable, "-c", RUN_ONCE, str(free), str(size)],
                              capture_output=True, check=False)
        assert (done.returncode == 0) == accepted, size


def test_cli_text_and_exit_codes(tmp_path):
    result = runner.invoke(app, ["sizes", str(SAMPLES / "unet.json"), "--size", "100", "--size", "128"])
    assert result.exit_code == 0
    assert "H: valid sizes in 1..4096: H % 16 == 0 (256 sizes, smallest 16)" in result.stdout
    assert "H=100: rejected by cat3 (/layers/31): concatenated inputs differ in axis 1 (H) [S103]" in result.stdout
    assert "H=128: valid" in result.stdout
    tiny = {"inputs": [{"name": "x", "shape": [1, 8]}],
            "layers": [{"name": "c", "op": "conv", "out_channels": 1, "kernel_size": 9999}]}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny))
    result = runner.invoke(app, ["sizes", str(path)])
    assert result.exit_code == 1  # no valid size at all
    assert runner.invoke(app, ["sizes", str(path), "--min", "10", "--max", "5"]).exit_code == 2
