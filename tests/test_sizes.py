"""`convlint sizes`: which input sizes a model accepts, checked against the ordinary analysis
at each size and against onnxruntime actually running the model."""

from __future__ import annotations

import json
import math
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
    assert describe("H", [3, 5, 6], 1, 10) == "H == 3 or 5 <= H <= 6"
    assert describe("H", [v for v in range(24, 4097) if v % 4], 1, 4096) == "H % 4 != 0 and H >= 25"
    assert describe("H", [v for v in range(16, 4097) if v % 16 < 4], 1, 4096) == "H % 16 <= 3 and H >= 16"
    assert describe("H", [3, 4, 5, 9, *(v for v in range(24, 4097) if v % 4)], 1, 4096) == (
        "3 <= H <= 5 or H == 9 or (H % 4 != 0 and H >= 25)")
    scattered = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597]
    assert describe("H", scattered, 1, 2000) == "1-3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, ... (2 more ranges)"


def _rule_holds(rule: str, value: int) -> bool:
    return bool(eval(rule, {"__builtins__": {}}, {"H": value}))  # the rules are Python conditions


def test_described_rules_are_exactly_the_sets():
    """Random sets made of a few runs and a periodic tail: the rule describes each exactly
    (checked size by size, the rule evaluated as the Python condition it is), and a set
    without such a rule is listed as ranges."""
    import random

    rng = random.Random(15)
    for _ in range(300):
        low, high = rng.choice([1, 1, 5]), rng.choice([100, 600, 4096])
        period, start = rng.randint(1, 40), rng.randint(low, high // 2)
        residues = set(rng.sample(range(period), rng.randint(0, period)))
        runs = [(a, a + rng.randint(0, 5)) for a in sorted(rng.sample(range(low, start), min(3, start - low)))]
        members = {v for v in range(start, high + 1) if v % period in residues}
        members |= {v for a, b in runs for v in range(a, min(b, high) + 1)}
        sizes = sorted(members)
        rule = describe("H", sizes, low, high)
        if not sizes:
            assert rule == "none"
        elif rule.startswith("any"):
            assert sizes == list(range(low, high + 1))
        elif "H" not in rule:  # no rule: the ranges, all of them when there are few
            if not rule.endswith("more ranges)"):
                listed = [range(int(a), int(b or a) + 1) for a, _, b in (r.partition("-") for r in rule.split(", "))]
                assert [v for r in listed for v in r] == sizes
        else:
            assert [v for v in range(low, high + 1) if _rule_holds(rule, v)] == sizes, (rule, period, residues)
    noise = sorted(rng.sample(range(1, 4097), 500))
    assert describe("H", noise, 1, 4096).endswith("more ranges)")


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


def errors_at_dims(model, dims: tuple[int, ...]) -> list[str]:
    """Error findings of the ordinary analysis with the spatial input dims set to ``dims``."""
    original = {t: model.tensors[t].shape for t in model.inputs}
    try:
        for t, shape in original.items():
            if shape is not None and len(shape) >= 3:
                model.tensors[t] = Tensor(t, "input", (*shape[:2], *dims), model.tensors[t].dtype)
        return [f"{d.node}:{d.code}:{d.message}" for d in analyze(model).diagnostics if d.severity == "error"]
    finally:
        for t, shape in original.items():
            model.tensors[t].shape = shape


def _unet_at(tmp_path, height: int, width: int):
    document = json.loads((SAMPLES / "unet.json").read_text())
    document["inputs"][0]["shape"] = [1, height, width]
    path = tmp_path / f"unet_{height}x{width}.json"
    path.write_text(json.dumps(document))
    return path


def test_each_axis_is_judged_on_its_own(tmp_path):
    """A 97x130 U-Net: H=97 fails at cat1, W=130 at cat2. The scan of H does not reject every
    height because W is wrong (nor blame H for it): each axis's verdicts are those of the
    ordinary analysis with the other axis at a valid size, and the declared size names both."""
    path = _unet_at(tmp_path, 97, 130)
    model = load(str(path))
    result = scan_sizes(model, 1, 80)
    height, width = result.axes
    for size in range(1, 81):
        found = errors_at_dims(model, (size, 128))
        assert height.accepts(size) == (not found), size
        if found:
            reason = height.reason(size)
            assert found[0].startswith(f"{reason.node}:{reason.code}:")
            assert "(W)" not in found[0] and "along W" not in found[0]
        assert width.accepts(size) == (not errors_at_dims(model, (128, size))), size
    assert (height.declared, width.declared) == (97, 130)
    assert height.reason(97).node == "cat1" and width.reason(130).node == "cat2"
    assert errors_at_dims(model, (97, 128))[0].startswith("cat1:S103:") and "axis 1 (H)" in errors_at_dims(model, (97, 128))[0]
    assert errors_at_dims(model, (96, 130))[0].startswith("cat2:S103:") and "axis 2 (W)" in errors_at_dims(model, (96, 130))[0]
    text = runner.invoke(app, ["sizes", str(path), "--max", "300"]).stdout
    assert "H: valid sizes in 1..300: H % 16 == 0 (18 sizes, smallest 16)" in text
    assert text.endswith("The declared input image (1, 97, 130) is rejected:\n"
                         "  H=97: rejected by cat1 (/layers/43): concatenated inputs differ in axis 1 (H) [S103]\n"
                         "  W=130: rejected by cat2 (/layers/37): concatenated inputs differ in axis 2 (W) [S103]\n")


def test_sizes_outside_the_scanned_range_are_answered(tmp_path):
    """--size beyond --min..--max is evaluated, not ignored: the verdicts agree with the
    ordinary analysis at that size."""
    model = load(str(SAMPLES / "unet.json"))
    result = scan_sizes(model, 1, 64)
    for size in (100, 128, 4000, 4096, 5000):
        found = errors_at(model, size)
        for axis in result.axes:
            assert axis.accepts(size) == (not found), size
            if found:
                assert found[0] == f"{axis.reason(size).node}:{axis.reason(size).code}"
    done = runner.invoke(app, ["sizes", str(SAMPLES / "unet.json"), "--max", "64", "--size", "100", "--size", "4096"])
    assert "  H=100 (outside 1..64): rejected by cat3 (/layers/31): concatenated inputs differ in axis 1 (H) [S103]" in done.stdout
    assert "  H=4096 (outside 1..64): valid" in done.stdout
    document = json.loads(runner.invoke(app, ["sizes", str(SAMPLES / "unet.json"), "--max", "64", "--size", "100",
                                              "-f", "json"]).stdout)
    assert document["checked"][0] == {"axis": "H", "size": 100, "valid": False, "node": "cat3", "code": "S103",
                                      "message": "concatenated inputs differ in axis 1 (H)", "location": "/layers/31"}
    assert runner.invoke(app, ["sizes", str(SAMPLES / "unet.json"), "--size", "0"]).exit_code == 2


def test_floor_drops_are_summarised_as_a_rule():
    """VGG-16's five stride-2 pools drop the last row unless H is a multiple of 32: one rule,
    not 127 ranges; each size agrees with the F101 warnings of the ordinary analysis."""
    model = load(str(SAMPLES / "vgg16.json"))
    axis = scan_sizes(model, 1, 600).axes[0]
    assert axis.drop_rule == "H % 32 != 0 and H >= 33"
    for size in (32, 33, 64, 100, 224, 225, 599):
        warned = any(d.code == "F101" for d in analyze(_with_dims(model, (size, size))).diagnostics)
        assert (size in axis.dropping) == warned, size


def _with_dims(model, dims):
    for t in model.inputs:
        shape = model.tensors[t].shape
        model.tensors[t] = Tensor(t, "input", (*shape[:2], *dims), model.tensors[t].dtype)
    return model


def test_messages_show_formulas_people_read(tmp_path):
    """A check that fails at every size (4 channels added to 8) shows the shapes as formulas
    of the scanned sizes; the formula is PyTorch's: it gives the size a strided Conv2d makes."""
    import re

    import torch

    document = {"inputs": [{"name": "x", "shape": [3, 32, 32]}], "layers": [
        {"name": "a", "op": "conv", "inputs": ["x"], "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"name": "b", "op": "conv", "inputs": ["x"], "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1},
        {"name": "sum", "op": "add", "inputs": ["a", "b"]}]}
    path = tmp_path / "branches.json"
    path.write_text(json.dumps(document))
    text = runner.invoke(app, ["sizes", str(path), "--max", "64"]).stdout
    assert "add(" not in text and "floordiv(" not in text
    line = next(line for line in text.splitlines() if "do not broadcast" in line)
    assert line.endswith("sum (/layers/2): shapes (8, H, W) and (4, floor((H + 1) / 2), floor((W + 1) / 2)) do not "
                         "broadcast (8 vs 4) [S102]")
    formula = re.search(r"\(4, (floor\(\(H \+ 1\) / 2\)),", line).group(1)
    conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
    for height in range(1, 40):
        out = conv(torch.zeros(1, 3, height, 5)).shape[2]
        assert eval(formula, {"floor": math.floor, "H": height}) == out


def test_formulas_evaluate_as_the_expressions_do():
    """Random size expressions (strides, paddings, ceil and floor divisions, max, products and
    choices, as shape rules build them): the formula, read as Python, gives every size what
    the expression gives."""
    import random

    from analyzer.symbolic import cdiv, ge, maximum, minimum, scaled, size, where

    rng = random.Random(13)
    sizes = np.arange(1, 300)
    H = size("H")
    for _ in range(300):
        expr = H
        for _ in range(rng.randint(1, 8)):
            k, s, p = rng.randint(1, 7), rng.randint(1, 4), rng.randint(0, 3)
            step = rng.randrange(9)
            if step < 3:
                expr = (expr + 2 * p - k) // s + 1
            elif step == 3:
                expr = cdiv(expr + p - k, s) + 1
            elif step == 4:
                expr = expr * s + rng.randint(-2, 2)
            elif step == 5:
                expr = maximum(expr - k, minimum(expr, 5))
            elif step == 6:
                expr = where(ge(expr, 10 + k), expr - 1, expr)
            elif step == 7:
                expr = scaled(expr, 2.0, False) + expr % s
            else:
                expr = (H - expr) * s + expr
        text = repr(expr)
        assert "add(" not in text and "floordiv(" not in text
        namespace = {"floor": math.floor, "ceil": math.ceil, "max": max, "min": min}
        got = [eval(text, namespace, {"H": int(h)}) for h in sizes]
        assert got == list(expr.evaluate({"H": sizes})), text
